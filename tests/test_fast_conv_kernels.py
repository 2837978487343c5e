"""The fast Convolution kernel against the reference layer for the shapes of issue 32.

Random batch sizes, channels, filters and image sizes for 3x3 filters with pad 1 and 2 (as in
DeepConvNet), 5x5 filters, and stride 2; in the default chunking (one output row per chunk for
real networks) and in chunks of one row with tiny products split in blocks; in training and in
inference mode (where the forward pass keeps nothing for backward). And a check of the check: a
kernel broken on purpose must make these comparisons fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layerwise as lw
import layerwise.fast.conv as fast_conv
from layerwise import fast

GEOMETRIES = [  # (filter, stride, pad)
    (3, 1, 1), (3, 1, 2), (3, 1, 0), (5, 1, 2), (5, 1, 0), (3, 2, 1), (5, 2, 2), (3, 2, 0), (1, 1, 0),
]


def _run(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int, dout_seed: int,
         training: bool = True) -> dict[str, np.ndarray]:
    conv = lw.Convolution(W, b, stride=stride, pad=pad)
    conv.train(training)
    out = conv.forward(x)
    dout = np.random.default_rng(dout_seed).standard_normal(out.shape).astype(x.dtype)
    dx = conv.backward(dout)
    return {"out": np.array(out), "dx": np.array(dx), "dW": conv.dW.copy(), "db": conv.db.copy()}


def _whole_windows(size: int, k: int, stride: int, pad: int) -> int:
    """``size`` or the next larger one whose windows tile it exactly at this stride."""
    while (size + 2 * pad - k) % stride:
        size += 1
    return size


def _case(seed: int, k: int, stride: int, pad: int, dtype: Any = np.float64) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    n, c, fn = (int(v) for v in rng.integers(1, 7, size=3))
    lo = max(1, k - 2 * pad)
    h, w = (_whole_windows(int(v), k, stride, pad) for v in rng.integers(lo, lo + 9, size=2))
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((fn, c, k, k)).astype(dtype)
    b = rng.standard_normal(fn).astype(dtype)
    return x, W, b


def _compare(seed: int, k: int, stride: int, pad: int, dtype: Any = np.float64, training: bool = True,
             tol: dict[str, float] | None = None) -> None:
    x, W, b = _case(seed, k, stride, pad, dtype)
    got = _run(x, W, b, stride, pad, seed, training)
    with fast.disabled():
        ref = _run(x, W, b, stride, pad, seed, training)
    tol = tol or ({"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-4})
    for key, value in ref.items():
        assert got[key].shape == value.shape, key
        np.testing.assert_allclose(got[key], value, err_msg=f"{key}: {k}x{k} stride {stride} pad {pad}", **tol)


@pytest.fixture(autouse=True)
def _engine_on() -> Any:
    """These tests compare the engine with the reference: the engine is on, whatever the default."""
    before = fast.enabled()
    fast.enable()
    yield
    if not before:
        fast.disable()


@pytest.mark.parametrize("k, stride, pad", GEOMETRIES)
def test_fast_convolution_equals_the_reference_for_random_shapes(k: int, stride: int, pad: int) -> None:
    for seed in range(12):
        _compare(seed, k, stride, pad)


@pytest.mark.parametrize("whole_bytes", [0, 1 << 30])  # backward unrolls again / reuses forward's chunks
@pytest.mark.parametrize("k, stride, pad", GEOMETRIES)
def test_in_one_row_chunks_and_small_blocks(k: int, stride: int, pad: int, whole_bytes: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_conv, "WHOLE_BYTES", whole_bytes)
    monkeypatch.setattr(fast_conv, "WHOLE_IN_ONE", False)  # kept chunks stay chunks
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    monkeypatch.setattr(fast_conv, "SMALL_PRODUCT", 64)
    monkeypatch.setattr(fast_conv, "MIN_BLOCK", 1)
    for seed in range(12):
        _compare(seed, k, stride, pad)


@pytest.mark.parametrize("k, stride, pad", [(3, 1, 1), (3, 1, 2), (5, 2, 2)])
def test_in_inference_mode_backward_unrolls_again(k: int, stride: int, pad: int) -> None:
    # a forward pass in eval mode keeps neither the windows nor the padded copy
    for seed in range(6):
        _compare(seed, k, stride, pad, training=False)


@pytest.mark.parametrize("c, fn, size, pad", [(1, 16, 28, 1), (16, 16, 28, 1), (16, 32, 14, 1),
                                              (32, 32, 14, 2), (64, 64, 8, 1)])
def test_deepconvnet_layers_in_float32(c: int, fn: int, size: int, pad: int) -> None:
    # DeepConvNet's own shapes, batch 12, in its dtype: several chunks at the default size
    rng = np.random.default_rng(c * fn + pad)
    x = rng.standard_normal((12, c, size, size)).astype(np.float32)
    W = (rng.standard_normal((fn, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(fn).astype(np.float32)
    got = _run(x, W, b, 1, pad, 0)
    with fast.disabled():
        ref = _run(x, W, b, 1, pad, 0)
    for key, value in ref.items():
        scale = float(np.abs(value).max())
        np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-5 * scale, err_msg=key)


@pytest.mark.parametrize("seed", range(8))
def test_padded_bl_is_np_pad_batch_last(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c, h, w, ph, pw = (int(v) for v in rng.integers(1, 5, size=6))
    ph, pw = ph - 1, pw - 1  # 0..3
    x = rng.standard_normal((n, c, h, w))
    fill = float(rng.standard_normal())
    expected = np.pad(x.transpose(1, 2, 3, 0), ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=fill)
    got = fast_conv.padded_bl(x, ph, pw, fill)
    np.testing.assert_array_equal(got, expected)
    assert got.flags.c_contiguous


def _shifted_border(real: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def broken(x: np.ndarray, ph: int, pw: int, fill: float = 0.0) -> np.ndarray:
        return real(x, ph, pw, fill + 1e-3)  # a border that is not quite zero
    return broken


def _dropped_last_chunk(real: Callable[..., Any]) -> Callable[..., Any]:
    def broken(*args: Any, **kw: Any) -> Any:
        chunks = list(real(*args, **kw))
        return iter(chunks[:-1]) if len(chunks) > 1 else iter(chunks)
    return broken


@pytest.mark.parametrize("name, breaker", [("padded_bl", _shifted_border), ("_chunks", _dropped_last_chunk)])
def test_a_broken_kernel_fails_these_comparisons(name: str, breaker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check of the check: the comparisons above must notice a wrong kernel.
    monkeypatch.setattr(fast_conv, name, breaker(getattr(fast_conv, name)))
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)  # several chunks, so one can go missing
    monkeypatch.setattr(fast_conv, "WHOLE_BYTES", 0)
    with pytest.raises(AssertionError):
        for seed in range(4):
            _compare(seed, 3, 1, 1)
