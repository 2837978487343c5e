"""The fast kernels (:mod:`layerwise.fast`) against the book's reference code in the layers.

Every case of the gradient-check table (tests/layer_cases.py) runs through both paths on a
seeded sweep of random shapes, strides and pads, and the forward values, ``dx`` and every
parameter gradient must agree to float rounding. The gradient checks themselves also run on
the reference path, and a chain of layers runs through both (the fast kernels hand each other
their own memory layouts, which single layers never see).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from layer_cases import CASES, Case

import layerwise as lw
import layerwise.fast.conv as fast_conv
from layerwise import fast

SEEDS = range(50)
TOL = {"rtol": 1e-10, "atol": 1e-12}


def _run(case: Case, seed: int, params_only: bool = False) -> dict[str, Any]:
    """Forward and backward of ``case``: every value a test may compare, by name."""
    layer, rng = case.layer, np.random.default_rng(10_000 + seed)
    got: dict[str, Any] = {}
    if isinstance(layer, lw.LossLayer):
        got["out"] = layer.forward(case.x, case.t)
        got["dx"] = layer.backward(1.0 if case.dout is None else case.dout)
    else:
        inputs = case.x if isinstance(case.x, tuple) else (case.x,)
        out = layer.forward(*inputs)
        got["out"] = out
        dout = rng.standard_normal(np.shape(out)) if case.dout is None else case.dout
        if params_only:
            layer.backward_params(dout)
        else:
            got["dx"] = layer.backward(dout)
    for name, grad in layer.grads.items():
        got["d" + name] = np.copy(grad)
    for name, buf in layer.buffers.items():
        got[name] = np.copy(buf)
    return got


def _both_paths(case_name: str, seed: int, params_only: bool = False,
                ties: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same case (rebuilt from the same seed) run fast, then on the reference path;
    with ``ties``, its input rounded to a few values, so that windows hold equal maxima."""
    def case() -> Case:
        c = CASES[case_name](np.random.default_rng(seed))
        if ties:
            c.x = np.round(c.x * 2) / 2
        return c

    with fast.enabled():
        fast_run = _run(case(), seed, params_only)
    assert not fast.enabled()  # the book's path, by default
    reference = _run(case(), seed, params_only)
    return fast_run, reference


def _assert_same(fast_run: dict[str, Any], reference: dict[str, Any], what: str) -> None:
    assert fast_run.keys() == reference.keys(), what
    for key, ref in reference.items():
        pairs = zip(fast_run[key], ref, strict=True) if isinstance(ref, tuple) else [(fast_run[key], ref)]
        for a, b in pairs:
            assert np.shape(a) == np.shape(b), f"{what}: {key}"
            np.testing.assert_allclose(a, b, err_msg=f"{what}: {key}", **TOL)


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_fast_path_equals_the_reference_for_every_layer_case(case_name: str) -> None:
    for seed in SEEDS:
        _assert_same(*_both_paths(case_name, seed), f"{case_name}, seed {seed}")


@pytest.mark.parametrize("case_name", ["Pooling-max", "Pooling-max-fast"])
def test_fast_max_pooling_breaks_ties_as_the_reference(case_name: str) -> None:
    # the first maximum of the window in row-major order gets the gradient, on both paths
    for seed in SEEDS:
        _assert_same(*_both_paths(case_name, seed, ties=True), f"{case_name}, seed {seed}")


@pytest.fixture
def small_chunks_and_blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fast convolution's knobs set so that tiny cases still go in several chunks of one
    output row and in blocks of a few columns (the shapes of a real network's batch), and
    backward unrolls them again rather than reusing the forward pass's."""
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    monkeypatch.setattr(fast_conv, "WHOLE_BYTES", 0)
    monkeypatch.setattr(fast_conv, "SMALL_PRODUCT", 64)
    monkeypatch.setattr(fast_conv, "MIN_BLOCK", 1)
    yield


@pytest.mark.parametrize("case_name", ["Convolution", "Convolution-square"])
@pytest.mark.usefixtures("small_chunks_and_blocks")
def test_fast_convolution_in_chunks_and_blocks_equals_the_reference(case_name: str) -> None:
    for seed in SEEDS:
        _assert_same(*_both_paths(case_name, seed), f"{case_name}, seed {seed}")


@pytest.mark.parametrize("case_name", ["Convolution", "Convolution-square"])
def test_fast_convolution_with_chunks_kept_for_backward_equals_the_reference(
        case_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # several chunks of one output row, all kept by forward and reused by backward
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    monkeypatch.setattr(fast_conv, "WHOLE_BYTES", 1 << 30)
    monkeypatch.setattr(fast_conv, "WHOLE_IN_ONE", False)
    for seed in SEEDS:
        _assert_same(*_both_paths(case_name, seed), f"{case_name}, seed {seed}")


@pytest.mark.parametrize("case_name", ["Convolution", "Convolution-square", "Affine", "Affine-4d"])
def test_backward_params_agrees_on_both_paths(case_name: str) -> None:
    for seed in range(10):
        _assert_same(*_both_paths(case_name, seed, params_only=True), f"{case_name}, seed {seed}")


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_gradient_checks_pass_on_the_reference_path(case_name: str) -> None:
    with fast.disabled():
        for seed in range(3):
            case = CASES[case_name](np.random.default_rng(seed))
            report = lw.check_gradients(case.layer, case.x, case.t, dout=case.dout, rng=seed)
            assert report.passed, f"{case_name}\n{report}"


def _chain(rng: np.random.Generator, stride: int, pad: int, pool: tuple[int, int, int]) -> list[Any]:
    fn, c, k = 3, 2, 3
    conv = lw.Convolution(rng.standard_normal((fn, c, k, k)), rng.standard_normal(fn), stride=stride, pad=pad)
    return [conv, lw.Relu(), lw.Pooling(pool[0], pool[1], stride=pool[2]), None, lw.SoftmaxWithLoss()]


@pytest.mark.parametrize("size, stride, pad, pool",
                         [(10, 1, 1, (2, 2, 2)), (10, 1, 0, (3, 3, 1)), (9, 2, 1, (2, 2, 1))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_chain_of_layers_agrees_on_both_paths(size: int, stride: int, pad: int,
                                                pool: tuple[int, int, int], dtype: Any) -> None:
    # Convolution -> Relu -> Pooling -> Affine -> SoftmaxWithLoss, by hand: the fast kernels
    # pass each other their outputs in their own memory order.
    def run() -> dict[str, Any]:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((6, 2, size, size)).astype(dtype)
        t = rng.integers(0, 4, 6)
        layers = _chain(rng, stride, pad, pool)
        h = x
        for layer in layers[:3]:
            h = layer.forward(h)
        affine = layers[3] = lw.Affine(rng.standard_normal((h[0].size, 4)).astype(dtype), np.zeros(4, dtype))
        loss = layers[4].forward(affine.forward(h), t)
        d = layers[4].backward(2.0)
        for layer in reversed(layers[:4]):
            d = layer.backward(d)
        got: dict[str, Any] = {"loss": loss, "dx": d}
        for i, layer in enumerate(layers):
            got.update({f"{i}.d{k}": np.copy(v) for k, v in layer.grads.items()})
        return got

    with fast.enabled():
        fast_run = run()
    reference = run()
    tol = TOL if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-5}
    for key, ref in reference.items():
        np.testing.assert_allclose(fast_run[key], ref, err_msg=key, **tol)


def test_the_switch_is_off_by_default_and_each_block_restores_it() -> None:
    assert not fast.enabled()
    with fast.enabled():
        assert fast.enabled()
        with fast.disabled():
            assert not fast.enabled()
            with fast.enabled():
                assert fast.enabled()
            assert not fast.enabled()
        assert fast.enabled()
    assert not fast.enabled()
    with pytest.raises(RuntimeError, match="inside"), fast.enabled():
        raise RuntimeError("inside")
    assert not fast.enabled()
    fast.enable()
    try:
        assert fast.enabled()
    finally:
        fast.disable()
    assert not fast.enabled()


def test_backward_follows_the_path_its_forward_took() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6))
    for layer in (lw.Convolution(rng.standard_normal((3, 2, 3, 3)), np.zeros(3)), lw.Pooling(2, 2)):
        with fast.enabled():
            out = layer.forward(x)
        assert fast.kernel_ran(layer)
        dout = rng.standard_normal(out.shape)
        expected = layer.backward(dout)
        layer.forward(x)  # the same array, on the reference path
        assert not fast.kernel_ran(layer)
        np.testing.assert_allclose(layer.backward(dout), expected, **TOL)  # outside the block
        layer.forward(x)
        with fast.enabled():
            layer.forward(x)
        assert fast.kernel_ran(layer)  # the engine's backward follows, though the engine is off now
        np.testing.assert_allclose(layer.backward(dout), expected, **TOL)
