"""Pooling: fast kernel against the reference, ties, padding, PyTorch parity, clear errors.

(The float64 gradient checks of max and avg pooling, fast and general, run in the shared
harness through tests/layer_cases.py; here a longer sweep.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from layer_cases import _distinct, _window

import layerwise as lw
from layerwise import fast
from layerwise.fast.pool import non_overlapping


def _channel_major(x: np.ndarray) -> np.ndarray:
    """``x`` with memory ordered (C, N, H, W)."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def _batch_last(x: np.ndarray) -> np.ndarray:
    """``x`` with the memory order of a Convolution's output, (C, H, W, N)."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_gradients_over_a_sweep(seed: int, mode: str) -> None:
    rng = np.random.default_rng(2000 + seed)
    ph, sh, pad_h, h = _window(rng, 4, lambda k: k // 2)
    pw, sw, pad_w, w = _window(rng, 4, lambda k: k // 2)
    layer = lw.Pooling(ph, pw, stride=(sh, sw), pad=(pad_h, pad_w), mode=mode)  # type: ignore[arg-type]
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), h, w)
    x = _distinct(rng, shape) if mode == "max" else rng.standard_normal(shape)
    report = lw.check_gradients(layer, x, rng=seed)
    for row in report.rows:
        assert row.max_rel_error < 1e-7, str(report)


@pytest.mark.parametrize("pool", [(2, 2), (3, 3), (2, 3), (1, 2), (3, 1), (1, 1), (4, 4)])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("data", ["random", "ties", "relu"])
@pytest.mark.parametrize("layout", ["C", "channel-major", "batch-last"])
def test_fast_kernel_equals_the_reference_in_every_memory_layout(pool: tuple[int, int], mode: str,
                                                                data: str, layout: str) -> None:
    rng = np.random.default_rng(hash((pool, mode, data, layout)) % 2**32)
    ph, pw = pool
    shape = (3, 4, 3 * ph, 5 * pw)
    x = {
        "random": rng.standard_normal(shape),
        "ties": rng.integers(0, 3, shape).astype(float),  # many equal values per window
        "relu": np.maximum(rng.standard_normal(shape), 0),  # whole windows of zeros
    }[data].astype(np.float32)
    if layout == "channel-major":
        x = _channel_major(x)
    elif layout == "batch-last":
        x = _batch_last(x)
    layer = lw.Pooling(ph, pw, mode=mode)  # type: ignore[arg-type]
    assert non_overlapping(layer)
    with fast.enabled():
        out_fast = layer.forward(x)
        dout = rng.standard_normal(out_fast.shape).astype(np.float32)
        dx_fast = layer.backward(dout)
    out_general = layer.forward(x)
    dx_general = layer.backward(dout)
    if mode == "max":  # the same values picked
        np.testing.assert_array_equal(out_fast, out_general)
    np.testing.assert_allclose(out_fast, out_general, rtol=1e-6, atol=1e-7)  # sums in any order
    assert dx_fast.dtype == np.float32 and dx_fast.shape == x.shape
    assert np.argsort(dx_fast.strides).tolist() == np.argsort(x.strides).tolist() or min(x.shape) == 1
    np.testing.assert_allclose(dx_fast, dx_general, rtol=1e-6, atol=1e-7)
    if mode == "max":  # one cell per window gets its dout, the others exactly 0
        assert np.count_nonzero(dx_fast) == np.count_nonzero(dout)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(engine_or_book: str) -> None:
    # row-major order within the window, as PyTorch: (0, 1) before (1, 0) before (1, 1)
    windows = np.array([[[[1.0, 3.0], [3.0, 3.0]]], [[[2.0, 1.0], [2.0, 0.0]]],
                        [[[0.0, 0.0], [0.0, 0.0]]], [[[1.0, 2.0], [5.0, 5.0]]]])
    for pool in (lw.Pooling(2, 2), lw.Pooling(2, 2, stride=(1, 2))):  # tiles, and windows apart
        np.testing.assert_array_equal(pool.forward(windows).ravel(), [3, 2, 0, 5])
        dx = pool.backward(np.ones((4, 1, 1, 1)))
        np.testing.assert_array_equal(dx[0, 0], [[0, 1], [0, 0]])
        np.testing.assert_array_equal(dx[1, 0], [[1, 0], [0, 0]])
        np.testing.assert_array_equal(dx[2, 0], [[1, 0], [0, 0]])
        np.testing.assert_array_equal(dx[3, 0], [[0, 0], [1, 0]])


def test_padding_never_wins_a_max_and_counts_in_an_average(engine_or_book: str) -> None:
    x = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # all negative: a zero pad would win
    out = lw.Pooling(2, 2, stride=2, pad=1).forward(x)
    np.testing.assert_array_equal(out[0, 0], [[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]])
    avg = lw.Pooling(2, 2, stride=2, pad=1, mode="avg")
    out = avg.forward(-x)
    # border windows hold 1 or 2 pixels of 4 cells: count_include_pad=True divides by 4 anyway
    np.testing.assert_allclose(out[0, 0] * 4, [[1, 2 + 3, 4], [5 + 9, 6 + 7 + 10 + 11, 8 + 12],
                                               [13, 14 + 15, 16]])
    np.testing.assert_allclose(avg.backward(np.ones((1, 1, 3, 3))), np.full((1, 1, 4, 4), 0.25))


def test_default_stride_is_the_pool_size_and_repr() -> None:
    pool = lw.Pooling(2, 3)
    assert pool.stride == (2, 3) and non_overlapping(pool)
    assert pool.forward(np.zeros((1, 1, 4, 6))).shape == (1, 1, 2, 2)
    assert repr(pool) == "Pooling(2x3, stride=(2, 3), pad=0, mode='max')"
    assert repr(lw.Pooling(2, 2, stride=1, mode="avg")) == "Pooling(2x2, stride=1, pad=0, mode='avg')"
    assert not non_overlapping(lw.Pooling(2, 2, stride=1)) and not non_overlapping(lw.Pooling(2, 2, pad=1))


def test_pooling_keeps_float32_and_does_not_touch_its_input(engine_or_book: str) -> None:
    x = _batch_last(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32))
    kept = x.copy()
    for pool in (lw.Pooling(2, 2), lw.Pooling(3, 3, stride=1, pad=1), lw.Pooling(2, 2, mode="avg")):
        out = pool.forward(x)
        assert out.dtype == np.float32
        dout = np.ones(out.shape, np.float32)
        assert pool.backward(dout).dtype == np.float32
        np.testing.assert_array_equal(x, kept)
        np.testing.assert_array_equal(dout, 1.0)


@pytest.mark.parametrize(
    "make, x_shape, error, match",
    [
        (lambda: lw.Pooling(2, 2, pad=2), None, ValueError,
         r"pad \(2, 2\) must be at most half of the pool size"),
        (lambda: lw.Pooling(2, 2, mode="min"), None, ValueError, r"mode must be 'max' or 'avg', got 'min'"),
        (lambda: lw.Pooling(0, 2), None, ValueError, r"pool_h must be a positive integer, got 0"),
        (lambda: lw.Pooling(2, 2), (1, 1, 5, 4), lw.ShapeError,
         r"Pooling: output height \(5 \+ 2\*0 - 2\) / 2 \+ 1 = 2.5"),
        (lambda: lw.Pooling(3, 3), (1, 1, 2, 2), lw.ShapeError,
         r"Pooling: .*window exceeds the input height 2"),
        (lambda: lw.Pooling(2, 2), (4, 4), lw.ShapeError,
         r"Pooling: expected input of shape \(N, C, H, W\), got \(4, 4\)"),
    ],
)
def test_pooling_errors(make: Any, x_shape: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        pool = make()
        pool.forward(np.zeros(x_shape))


POOL_COMBOS = [  # pool (h, w), stride, pad
    ((2, 2), None, 0),
    ((3, 3), None, 0),
    ((2, 3), None, 0),
    ((3, 3), 1, 1),
    ((3, 3), 2, 1),
    ((2, 2), 1, 0),
    ((3, 2), (1, 2), (1, 1)),
    ((4, 4), 2, 2),
]


@pytest.mark.parametrize("pool, stride, pad", POOL_COMBOS)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("data", ["random", "ties"])
def test_pooling_matches_torch_forward_and_backward(pool: Any, stride: Any, pad: Any, mode: str,
                                                    data: str, engine_or_book: str) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    def pair(v: Any) -> tuple[int, int]:
        return (v, v) if isinstance(v, int) else v

    (ph, pw), (sh, sw), (pad_h, pad_w) = pool, pair(stride or pool), pair(pad)
    h, w = 3 * sh + ph - 2 * pad_h, 2 * sw + pw - 2 * pad_w  # outputs 4 x 3
    shape = (2, 3, h, w)
    x = rng.standard_normal(shape) if data == "random" else rng.integers(0, 3, shape).astype(float)
    layer = lw.Pooling(ph, pw, stride=stride, pad=pad, mode=mode)  # type: ignore[arg-type]
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    kwargs = {"kernel_size": pool, "stride": stride or pool, "padding": pad}
    outt = F.max_pool2d(xt, **kwargs) if mode == "max" else F.avg_pool2d(xt, **kwargs)
    outt.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, outt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
