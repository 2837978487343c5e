"""Inverted Dropout: mask statistics and scaling, modes, reproducibility, frozen masks."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise as lw


@pytest.mark.parametrize("ratio", [0.2, 0.5, 0.8])
def test_drops_the_ratio_and_scales_the_rest(ratio: float) -> None:
    layer = lw.Dropout(ratio, rng=0)
    x = np.ones((400, 500), dtype=np.float32)
    out = layer.forward(x)
    dropped = np.mean(out == 0)
    # 200 000 Bernoulli draws: the standard error of the fraction is below 0.0012
    assert abs(dropped - ratio) < 0.006
    np.testing.assert_allclose(np.unique(out[out != 0]), [1 / (1 - ratio)], rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.03  # inverted: the expectation is unchanged
    assert out.dtype == np.float32


def test_backward_uses_the_forward_mask() -> None:
    layer = lw.Dropout(0.5, rng=1)
    x = np.random.default_rng(2).standard_normal((6, 7))
    out = layer.forward(x)
    dout = np.random.default_rng(3).standard_normal((6, 7))
    dx = layer.backward(dout)
    assert layer.mask is not None
    np.testing.assert_allclose(dx, dout * layer.mask * 2.0)
    np.testing.assert_allclose(out, x * layer.mask * 2.0)
    assert dx.dtype == np.float64


def test_eval_mode_is_the_identity() -> None:
    layer = lw.Dropout(0.5, rng=0).eval()
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x and out.dtype == np.float32
    dout = np.ones((2, 3), np.float32)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx, dout)
    assert dx is not dout


def test_train_eval_switch_on_a_network_reaches_dropout() -> None:
    rng = np.random.default_rng(0)
    net = lw.Sequential([lw.Affine(rng.standard_normal((4, 5)), np.zeros(5)), lw.Dropout(0.5, rng=0),
                         lw.Affine(rng.standard_normal((5, 3)), np.zeros(3))], lw.SoftmaxWithLoss())
    x = rng.standard_normal((8, 4))
    net.eval()
    np.testing.assert_array_equal(net.predict(x), net.predict(x))
    net.train()
    assert not np.array_equal(net.predict(x), net.predict(x))


def test_same_seed_same_masks_and_fresh_masks_each_call() -> None:
    x = np.ones((10, 10))
    a, b = lw.Dropout(0.5, rng=42), lw.Dropout(0.5, rng=np.random.default_rng(42))
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))


def test_freeze_reuses_the_mask_until_unfrozen() -> None:
    layer = lw.Dropout(0.5, rng=0)
    x = np.ones((10, 10))
    first = layer.forward(x)
    layer.freeze_randomness()
    np.testing.assert_array_equal(layer.forward(x), first)
    np.testing.assert_array_equal(layer.forward(2 * x), 2 * first)
    with pytest.raises(lw.ShapeError, match=r"frozen mask has shape \(10, 10\).*\(3, 10\)"):
        layer.forward(np.ones((3, 10)))
    layer.unfreeze_randomness()
    assert not np.array_equal(layer.forward(x), first)


def test_fix_mask() -> None:
    layer = lw.Dropout(0.75)
    layer.fix_mask(np.array([[True, False]]))
    np.testing.assert_array_equal(layer.forward(np.array([[1.0, 1.0]])), [[4.0, 0.0]])
    with pytest.raises(TypeError, match="boolean"):
        layer.fix_mask(np.array([[1.0, 0.0]]))


def test_freeze_before_forward_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before a training-mode forward"):
        lw.Dropout(0.5).freeze_randomness()
    layer = lw.Dropout(0.5).eval()
    layer.forward(np.ones(3))
    layer.freeze_randomness()  # nothing random happened: nothing to freeze, no error


def test_gradient_check_needs_the_frozen_mask() -> None:
    x = np.random.default_rng(5).standard_normal((4, 6))
    layer = lw.Dropout(0.5, rng=3)
    assert lw.check_gradients(layer, x).passed
    assert not layer.frozen and layer.mask is None  # the check ran on a copy

    class Unfreezable(lw.Dropout):
        def freeze_randomness(self) -> None:
            pass

    assert not lw.check_gradients(Unfreezable(0.5, rng=3), x).passed


def test_invalid_ratio() -> None:
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=f"Invalid dropout ratio: {bad}"):
            lw.Dropout(bad)
    assert lw.Dropout(0.3).dropout_ratio == 0.3
    assert repr(lw.Dropout(0.3)) == "Dropout(ratio=0.3)"


def test_zero_ratio_keeps_everything() -> None:
    x = np.random.default_rng(0).standard_normal((3, 3))
    np.testing.assert_array_equal(lw.Dropout(0.0, rng=0).forward(x), x)


def test_draw_mask_is_the_mask_forward_draws_and_fix_mask_takes_it() -> None:
    x = np.random.default_rng(1).standard_normal((4, 6))
    a, b = lw.Dropout(0.3, rng=5), lw.Dropout(0.3, rng=5)
    a.forward(x)
    mask = b.draw_mask(x.shape)
    assert a.mask is not None
    np.testing.assert_array_equal(mask, a.mask)
    b.fix_mask(mask[:2])  # a given mask for a part of the batch, until unfrozen
    np.testing.assert_allclose(b.forward(x[:2]), x[:2] * mask[:2] / 0.7)
    b.unfreeze_randomness()
    assert not b.frozen
