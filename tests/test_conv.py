"""im2col / col2im and the Convolution layer: adjointness, a naive reference, PyTorch parity,
gradient checks over a sweep of strides, paddings and kernel sizes, clear errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from layer_cases import _window

import layerwise as lw
import layerwise.fast.conv as fast_conv
from layerwise.conv_utils import Geometry, col2im_t, im2col_t
from layerwise.fast.conv import col2im_bl, windows_bl


def _geometry(rng: np.random.Generator) -> dict[str, Any]:
    """Random images and a window geometry with an exact output size (tuples half the time)."""
    fh, sh, ph, h = _window(rng, 4, lambda k: 2)
    fw, sw, pw, w = _window(rng, 4, lambda k: 2)
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    square = rng.random() < 0.5
    return {
        "x": rng.standard_normal((n, c, h, w)),
        "filter_h": fh, "filter_w": fw,
        "stride": (sh, sw) if not square else sh,
        "pad": (ph, pw) if not square else ph,
        "hw": (h, w), "square": square,
    }


def _fix_square(g: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    # with int stride/pad both axes share them: rebuild the width from the height's values
    if g["square"]:
        (n, c, h, _) = g["x"].shape
        g["filter_w"] = g["filter_h"]
        g["x"] = rng.standard_normal((n, c, h, h))
    return g


def naive_im2col(x: np.ndarray, fh: int, fw: int, stride: tuple[int, int],
                 pad: tuple[int, int]) -> np.ndarray:
    """One output pixel at a time, straight from the definition."""
    n, c, h, w = x.shape
    sh, sw = stride
    ph, pw = pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - fh) // sh + 1, (w + 2 * pw - fw) // sw + 1
    rows = []
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                rows.append(xp[b, :, i * sh:i * sh + fh, j * sw:j * sw + fw].reshape(-1))
    return np.array(rows)


def _pair(v: Any) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("seed", range(40))
def test_im2col_matches_naive_and_col2im_is_its_adjoint(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = _fix_square(_geometry(rng), rng)
    x, fh, fw, s, p = g["x"], g["filter_h"], g["filter_w"], g["stride"], g["pad"]
    col = lw.im2col(x, fh, fw, s, p)
    np.testing.assert_array_equal(col, naive_im2col(x, fh, fw, _pair(s), _pair(p)))
    # the transposed layout holds the same numbers
    np.testing.assert_array_equal(im2col_t(x, fh, fw, s, p), col.T)
    # adjoint: <im2col(x), y> == <x, col2im(y)>, in both layouts
    y = rng.standard_normal(col.shape)
    back = lw.col2im(y, x.shape, fh, fw, s, p)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(col * y), np.sum(x * back), rtol=1e-12, atol=1e-12)
    back_t = col2im_t(y.T, x.shape, fh, fw, s, p)
    np.testing.assert_allclose(back_t, back, rtol=1e-12, atol=1e-12)
    # and in the batch-last layout of the fast kernel: columns in (oh, ow, n) order
    geo = Geometry("test", x.shape, fh, fw, s, p)
    n, oh, ow = x.shape[0], geo.out_h, geo.out_w
    to_bl = np.arange(n * oh * ow).reshape(n, oh, ow).transpose(1, 2, 0).ravel()
    col_bl = windows_bl(x, geo).reshape(col.shape[1], -1)
    np.testing.assert_array_equal(col_bl, col.T[:, to_bl])
    back_bl = col2im_bl(np.ascontiguousarray(y.T[:, to_bl]), geo)
    np.testing.assert_allclose(back_bl, back, rtol=1e-12, atol=1e-12)


def test_col2im_of_ones_counts_how_many_windows_cover_each_pixel() -> None:
    x = np.zeros((1, 1, 4, 4))
    cover = lw.col2im(np.ones_like(lw.im2col(x, 3, 3)), x.shape, 3, 3)
    np.testing.assert_array_equal(cover[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    # stride = filter size tiles the image: every pixel exactly once (col2im_t's fast branch)
    x = np.zeros((2, 3, 6, 4))
    col = np.ones((3 * 2 * 2, 2 * 3 * 2))
    np.testing.assert_array_equal(col2im_t(col, x.shape, 2, 2, 2), np.ones(x.shape))
    # stride larger than the filter leaves gaps that must be zero, not garbage
    gaps = col2im_t(np.ones((1, 4)), (1, 1, 3, 3), 1, 1, stride=2)
    np.testing.assert_array_equal(gaps[0, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_im2col_t_writes_into_out() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    buf = np.full((28, 18), 7.0, np.float32)
    assert im2col_t(x, 3, 3, out=buf[:27]) is not None
    np.testing.assert_array_equal(buf[:27], im2col_t(x, 3, 3))
    np.testing.assert_array_equal(buf[27], 7.0)  # untouched
    with pytest.raises(lw.ShapeError, match=r"out must be C-contiguous of shape \(27, 18\)"):
        im2col_t(x, 3, 3, out=buf[:27].T.copy())


def test_im2col_book_example_shapes() -> None:
    # book §7.4.3: x1 (1, 3, 7, 7) with a 5x5 filter gives (9, 75); batch of 10 gives (90, 75)
    assert lw.im2col(np.zeros((1, 3, 7, 7)), 5, 5, stride=1, pad=0).shape == (9, 75)
    assert lw.im2col(np.zeros((10, 3, 7, 7)), 5, 5, stride=1, pad=0).shape == (90, 75)
    assert lw.conv_output_size(28, 5) == 24
    assert lw.conv_output_size(7, 3, stride=2, pad=1) == 4
    assert lw.im2col(np.zeros((1, 1, 2, 2), np.float32), 1, 1).dtype == np.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lw.im2col(np.zeros((1, 1, 4, 4)), 5, 5), r"window exceeds the input height 4 padded by 0"),
        (lambda: lw.im2col(np.zeros((1, 1, 7, 7)), 2, 2, stride=2),
            r"\(7 \+ 2\*0 - 2\) / 2 \+ 1 = 3.5 is not an integer"),
        (lambda: lw.im2col(np.zeros((1, 7, 7)), 3, 3),
            r"expected images of shape \(N, C, H, W\), got shape \(1, 7, 7\)"),
        (lambda: lw.col2im(np.zeros((9, 8)), (1, 1, 5, 5), 3, 3),
            r"expected col of shape \(9, 9\).*got \(9, 8\)"),
        (lambda: col2im_t(np.zeros((9, 8)), (1, 1, 5, 5), 3, 3),
            r"expected col of shape \(9, 9\).*got \(9, 8\)"),
        (lambda: lw.conv_output_size(4, 5, pad=0), r"exceeds the input size 4"),
        (lambda: lw.conv_output_size(28, 5, stride=2), r"is not an integer"),
    ],
)
def test_shape_errors_name_the_values(call: Any, match: str) -> None:
    with pytest.raises(lw.ShapeError, match=match):
        call()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stride": 0}, "stride must be a positive integer, got 0"),
        ({"pad": -1}, "pad must be a non-negative integer, got -1"),
        ({"stride": 1.5}, "stride must be a positive integer, got 1.5"),
        ({"pad": (1, 2, 3)}, r"pad must be an int or a pair"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        lw.im2col(np.zeros((1, 1, 5, 5)), 3, 3, **kwargs)
    with pytest.raises(ValueError, match=match):
        lw.Convolution(np.zeros((1, 1, 3, 3)), np.zeros(1), **kwargs)


# -- the layer ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(20))
def test_convolution_gradients_over_a_sweep(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    g = _fix_square(_geometry(rng), rng)
    c = g["x"].shape[1]
    fn = int(rng.integers(1, 4))
    layer = lw.Convolution(rng.standard_normal((fn, c, g["filter_h"], g["filter_w"])),
                           rng.standard_normal(fn), stride=g["stride"], pad=g["pad"])
    report = lw.check_gradients(layer, g["x"], rng=seed)
    assert [r.name for r in report.rows] == ["x", "W", "b"]
    for row in report.rows:
        assert row.max_rel_error < 1e-7, str(report)


def test_convolution_matches_a_direct_sum() -> None:
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    out = lw.Convolution(W, b, stride=(2, 1), pad=(1, 0)).forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    expect = np.zeros((2, 4, 3, 5))
    for i in range(3):
        for j in range(5):
            patch = xp[:, :, 2 * i:2 * i + 3, j:j + 2]
            expect[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, W) + b
    np.testing.assert_allclose(out, expect, rtol=1e-12)


def test_convolution_float32_shapes_and_backward_params() -> None:
    rng = np.random.default_rng(0)
    layer = lw.Convolution(rng.standard_normal((6, 2, 3, 3)).astype(np.float32),
                           np.zeros(6, np.float32), stride=1, pad=1)
    x = rng.standard_normal((4, 2, 5, 5))  # float64 input into a float32 layer
    out = layer.forward(x)
    assert out.shape == (4, 6, 5, 5) and out.dtype == np.float32
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape and dx.dtype == np.float32
    dW, db = layer.dW.copy(), layer.db.copy()
    assert dW.shape == (6, 2, 3, 3) and dW.dtype == np.float32 and db.shape == (6,)
    layer.dW[...] = 0
    assert layer.backward_params(dout) is None  # same parameter gradients, no dx
    np.testing.assert_array_equal(layer.dW, dW)
    np.testing.assert_array_equal(layer.db, db)
    assert repr(layer) == "Convolution(W=(6, 2, 3, 3), b=(6,), stride=1, pad=1)"
    assert "stride=(2, 1)" in repr(lw.Convolution(np.zeros((1, 1, 1, 1)), np.zeros(1), stride=(2, 1)))


def test_convolution_accepts_any_memory_layout() -> None:
    # outputs are batch-last views; a second convolution, ReLU and pooling must not care
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 6, 6))
    conv1 = lw.Convolution(rng.standard_normal((4, 2, 3, 3)), np.zeros(4), pad=1)
    conv2 = lw.Convolution(rng.standard_normal((5, 4, 3, 3)), np.zeros(5), pad=1)
    h = conv1.forward(x)
    assert not h.flags.c_contiguous
    a = conv2.forward(h)
    b = conv2.forward(np.ascontiguousarray(h))
    np.testing.assert_allclose(a, b, rtol=1e-12)
    d = rng.standard_normal(a.shape)
    np.testing.assert_allclose(conv2.backward(d), conv2.backward(np.asfortranarray(d)), rtol=1e-12)


@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 2), (2, 1), ((1, 2), (2, 0))])
def test_convolution_in_chunks_equals_one_product(stride: Any, pad: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A large batch is unrolled a few output rows at a time (the last chunk partial) and
    # unrolled again in backward; stride 1 gets dx as a correlation with the rotated filters.
    rng = np.random.default_rng(21)
    x = rng.standard_normal((7, 3, 7, 7))
    W, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    ref = _OneProductRun(rng, x, W, b, stride, pad)
    chunked = lw.Convolution(W, b, stride=stride, pad=pad)
    per_row = (3 * 3 * 3 + 1) * ref.out.shape[3] * x.shape[0] * 8
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 2 * per_row)  # chunks of 2 output rows
    assert fast_conv.chunk_rows(_geom(chunked, x), 8) == 2
    assert ref.out.shape[2] > 2  # several chunks
    ref.check(chunked, chunked.forward(x))
    report = lw.check_gradients(chunked, x, rng=0)
    for row in report.rows:
        assert row.max_rel_error < 1e-7, str(report)


@pytest.mark.usefixtures("engine_on")  # the engine's kernels
@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 2), (2, 1)])
@pytest.mark.parametrize("chunk_rows", [None, 3])
def test_convolution_in_blocks_for_small_products_equals_one_product(
        stride: Any, pad: Any, chunk_rows: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Products of a small filter bank are split into blocks of columns (forward, and dx for
    # stride 1) and of the shared axis (dW); blocks of 13 here, the last one partial.
    rng = np.random.default_rng(22)
    x = rng.standard_normal((7, 2, 9, 9))
    W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    ref = _OneProductRun(rng, x, W, b, stride, pad)
    out = ref.out
    blocked = lw.Convolution(W, b, stride=stride, pad=pad)
    if chunk_rows:
        per_row = (2 * 3 * 3 + 1) * out.shape[3] * x.shape[0] * 8
        monkeypatch.setattr(fast_conv, "CHUNK_BYTES", chunk_rows * per_row)
    monkeypatch.setattr(fast_conv, "MIN_BLOCK", 1)
    monkeypatch.setattr(fast_conv, "SMALL_PRODUCT", 3 * 19 * 13)  # 13 columns per block
    calls: list[int] = []
    real = np.matmul

    def counting(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(fast_conv.np, "matmul", counting)
    got = blocked.forward(x)
    assert len(calls) > out.shape[0] * out.shape[2] * out.shape[3] // 13 // 2  # really in blocks
    monkeypatch.setattr(fast_conv.np, "matmul", real)
    ref.check(blocked, got)


class _OneProductRun:
    """A convolution's forward and backward in one product each, to compare other runs to."""

    def __init__(self, rng: np.random.Generator, x: np.ndarray, W: np.ndarray, b: np.ndarray,
                 stride: Any, pad: Any) -> None:
        self.whole = lw.Convolution(W, b, stride=stride, pad=pad)
        self.out = self.whole.forward(x)
        self.dout = rng.standard_normal(self.out.shape)
        self.dx = self.whole.backward(self.dout)

    def check(self, layer: lw.Convolution, out: np.ndarray) -> None:
        """``out`` (the layer's forward output) and the layer's backward match this run."""
        np.testing.assert_allclose(out, self.out, rtol=1e-12)
        np.testing.assert_allclose(layer.backward(self.dout), self.dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.dW, self.whole.dW, rtol=1e-12)
        np.testing.assert_allclose(layer.db, self.whole.db, rtol=1e-12)


def _geom(layer: lw.Convolution, x: np.ndarray) -> Any:
    from layerwise.conv_utils import Geometry

    return Geometry("Convolution", x.shape, layer.W.shape[2], layer.W.shape[3], layer.stride, layer.pad)


def test_convolution_errors_name_the_layer_and_shapes() -> None:
    layer = lw.Convolution(np.zeros((4, 3, 5, 5)), np.zeros(4))
    msg = r"Convolution: expected input of shape \(N, 3, H, W\), got \(2, 1, 28, 28\)"
    with pytest.raises(lw.ShapeError, match=msg):
        layer.forward(np.zeros((2, 1, 28, 28)))
    with pytest.raises(lw.ShapeError, match=r"Convolution: .*window exceeds the input height 4"):
        layer.forward(np.zeros((1, 3, 4, 9)))
    with pytest.raises(lw.ShapeError, match=r"Convolution: output width .* is not an integer"):
        lw.Convolution(np.zeros((1, 1, 2, 2)), np.zeros(1), stride=2).forward(np.zeros((1, 1, 4, 5)))
    with pytest.raises(lw.ShapeError, match=r"W must be 4-D"):
        lw.Convolution(np.zeros((4, 3, 5)), np.zeros(4))
    with pytest.raises(lw.ShapeError, match=r"expected b of shape \(4,\), got \(3,\)"):
        lw.Convolution(np.zeros((4, 3, 5, 5)), np.zeros(3))
    layer.forward(np.zeros((2, 3, 6, 6)))
    with pytest.raises(lw.ShapeError, match=r"Convolution.backward: expected dout of shape \(2, 4, 2, 2\)"):
        layer.backward(np.zeros((2, 4, 3, 3)))


# -- PyTorch parity -------------------------------------------------------------------------------

CONV_COMBOS = [  # (N, C, H, W), (FN, FH, FW), stride, pad
    ((2, 1, 28, 28), (30, 5, 5), 1, 0),  # SimpleConvNet's layer
    ((2, 3, 7, 7), (4, 3, 3), 2, 1),
    ((1, 2, 8, 6), (3, 2, 3), (2, 3), (1, 0)),
    ((3, 4, 5, 5), (2, 1, 1), 1, 2),
    ((2, 16, 14, 14), (32, 3, 3), 1, 2),  # DeepConvNet's fourth layer
    ((1, 1, 9, 9), (1, 9, 9), 1, 0),  # kernel as large as the input
]


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_COMBOS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_convolution_matches_torch_forward_and_backward(xs: Any, ws: Any, stride: Any, pad: Any,
                                                        dtype: Any, engine_or_book: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    fn, fh, fw = ws
    x = rng.standard_normal(xs).astype(dtype)
    W = rng.standard_normal((fn, xs[1], fh, fw)).astype(dtype)
    b = rng.standard_normal(fn).astype(dtype)
    layer = lw.Convolution(W, b, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)

    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    outt = torch.nn.functional.conv2d(xt, Wt, bt, stride=stride, padding=pad)
    outt.backward(torch.tensor(dout))
    tol = {"rtol": 1e-10, "atol": 1e-10} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-3}
    np.testing.assert_allclose(out, outt.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.dW, Wt.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.db, bt.grad.numpy(), **tol)


def test_convolutions_in_parallel_threads_do_not_share_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(8)
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)  # one image per chunk: the shared buffer
    cases = []
    for _ in range(4):
        layer = lw.Convolution(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), pad=1)
        x = rng.standard_normal((6, 2, 9, 9))
        cases.append((layer, x, layer.forward(x).copy()))

    def run(case: Any) -> bool:
        layer, x, expect = case
        return all(np.array_equal(layer.forward(x), expect) for _ in range(100))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, cases))


@pytest.mark.usefixtures("engine_on")  # the engine's kernels
def test_layouts_flow_batch_last_through_pooling_relu_and_affine() -> None:
    # A Convolution's output is batch-last memory (C, H, W, N); pooling and ReLU keep it, an
    # Affine layer flattens it without a copy and sends dx back in the same layout.
    rng = np.random.default_rng(8)
    conv = lw.Convolution(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), np.zeros(3, np.float32))
    pool, relu = lw.Pooling(2, 2), lw.Relu()
    affine = lw.Affine(rng.standard_normal((3 * 3 * 3, 4)).astype(np.float32), np.zeros(4, np.float32))
    x = rng.standard_normal((5, 2, 8, 8)).astype(np.float32)
    h = relu.forward(pool.forward(conv.forward(x)))
    # memory ordered (C, H, W, N): the axes of (N, C, H, W) from the largest stride down
    assert np.argsort(h.strides)[::-1].tolist() == [1, 2, 3, 0]
    y = affine.forward(h)
    assert np.shares_memory(affine.x, h)  # flattened without a copy
    dout = rng.standard_normal(y.shape).astype(np.float32)
    dx = affine.backward(dout)
    assert dx.strides == h.strides
    np.testing.assert_allclose(dx, (dout @ affine.W.T).reshape(h.shape), rtol=1e-6)
    c_order = lw.Affine(affine.W, affine.b)
    c_order.forward(np.ascontiguousarray(h))
    np.testing.assert_allclose(c_order.backward(dout), dx, rtol=1e-6)
