"""Behaviour of the chapter-5 layers: no mutation, dtypes, stability, clear errors."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from layer_cases import CASES

import layerwise as lw


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_backward_does_not_mutate_its_input(case_name: str) -> None:
    case = CASES[case_name](np.random.default_rng(7))
    layer = case.layer
    if isinstance(layer, lw.LossLayer):
        x = case.x.copy()
        t = np.array(case.t, copy=True)
        layer.forward(x, t)
        dout = np.asarray(2.0)
        layer.backward(dout)
        np.testing.assert_array_equal(x, case.x)
        np.testing.assert_array_equal(t, case.t)
        assert float(dout) == 2.0
        return
    inputs = case.x if isinstance(case.x, tuple) else (case.x,)
    kept = [a.copy() for a in inputs]
    out = layer.forward(*inputs)
    dout = np.random.default_rng(0).standard_normal(np.shape(out))
    dout_kept = dout.copy()
    layer.backward(dout)
    np.testing.assert_array_equal(dout, dout_kept)
    for a, b in zip(inputs, kept, strict=True):
        np.testing.assert_array_equal(a, b)


def test_relu_backward_returns_new_array_not_dout() -> None:
    relu = lw.Relu()
    relu.forward(np.array([[-1.0, 2.0]], dtype=np.float32))
    dout = np.array([[5.0, 6.0]], dtype=np.float32)
    dx = relu.backward(dout)
    np.testing.assert_array_equal(dx, [[0.0, 6.0]])
    assert dx is not dout
    np.testing.assert_array_equal(dout, [[5.0, 6.0]])
    np.testing.assert_array_equal(relu.mask, [[True, False]])


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_backward_before_forward_is_a_clear_error(case_name: str) -> None:
    layer = CASES[case_name](np.random.default_rng(0)).layer
    with pytest.raises(RuntimeError, match=r"backward\(\) called before .*forward\(\)"):
        layer.backward(np.ones((1, 1)))


def test_sigmoid_is_stable_at_extremes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = lw.Sigmoid().forward(np.array([-1000.0, 0.0, 1000.0], dtype=np.float32))
        y64 = lw.sigmoid(np.array([-1000.0, 1000.0]))
    assert y[0] == 0.0 and y[2] == 1.0 and y[1] == 0.5
    assert y.dtype == np.float32
    assert y64[0] == 0.0 and y64[1] == 1.0


def test_sigmoid_backward_is_from_cached_output() -> None:
    layer = lw.Sigmoid()
    y = layer.forward(np.array([0.5]))
    np.testing.assert_allclose(layer.backward(np.array([1.0])), y * (1 - y))


def test_softmax_and_log_softmax_are_stable() -> None:
    x = np.array([[1000.0, 1000.0, -1000.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = lw.softmax(x)
        logp = lw.log_softmax(x)
        loss = lw.SoftmaxWithLoss().forward(x, np.array([2]))
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]])
    assert np.isfinite(logp).all() and y.dtype == np.float32
    assert loss == pytest.approx(2000.0 + np.log(2), rel=1e-6)


def test_cross_entropy_error_matches_the_book() -> None:
    # book §4.2.2: y with 0.6 on the right class gives 0.51
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    t = np.zeros(10)
    t[2] = 1
    assert lw.cross_entropy_error(y, t) == pytest.approx(0.510825457, rel=1e-6)
    assert lw.cross_entropy_error(y[None], np.array([2])) == pytest.approx(0.510825457, rel=1e-6)


def test_affine_restores_nd_shape_and_keeps_float32() -> None:
    rng = np.random.default_rng(0)
    layer = lw.Affine(rng.standard_normal((12, 4)).astype(np.float32), np.zeros(4, np.float32))
    x = rng.standard_normal((5, 3, 2, 2))  # float64 input into a float32 layer
    out = layer.forward(x)
    assert out.shape == (5, 4) and out.dtype == np.float32
    dx = layer.backward(np.ones((5, 4)))
    assert dx.shape == (5, 3, 2, 2) and dx.dtype == np.float32
    assert layer.dW.shape == (12, 4) and layer.dW.dtype == np.float32
    np.testing.assert_allclose(layer.db, np.full(4, 5.0))


def test_relu_and_sigmoid_keep_dtype() -> None:
    x = np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)
    for layer in (lw.Relu(), lw.Sigmoid()):
        assert layer.forward(x).dtype == np.float32
        assert layer.backward(np.ones_like(x)).dtype == np.float32


def test_affine_shape_errors_name_the_layer_and_shapes() -> None:
    layer = lw.Affine(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(lw.ShapeError, match=r"Affine.*\(N, 3\).*\(4, 5\)"):
        layer.forward(np.zeros((4, 5)))
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(lw.ShapeError, match=r"Affine.backward.*\(4, 2\).*\(4, 3\)"):
        layer.backward(np.zeros((4, 3)))
    with pytest.raises(lw.ShapeError, match="b of shape"):
        lw.Affine(np.zeros((3, 2)), np.zeros(3))
    assert issubclass(lw.ShapeError, ValueError)


def test_softmax_with_loss_target_forms_agree() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    onehot = np.eye(4)[labels]
    a, b = lw.SoftmaxWithLoss(), lw.SoftmaxWithLoss()
    assert a.forward(x, labels) == pytest.approx(b.forward(x, onehot), rel=1e-12)
    np.testing.assert_allclose(a.backward(2.0), b.backward(2.0), rtol=1e-12)
    # the book's case that size comparison gets wrong: N == C with labels stays labels
    sq = rng.standard_normal((4, 4))
    assert lw.SoftmaxWithLoss().forward(sq, np.array([0, 1, 2, 3])) == pytest.approx(
        lw.SoftmaxWithLoss(target="one-hot").forward(sq, np.eye(4)), rel=1e-12)


def test_softmax_with_loss_rejects_bad_targets() -> None:
    x = np.zeros((3, 4))
    layer = lw.SoftmaxWithLoss()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\].*\[4\]"):
        layer.forward(x, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"labels must lie in"):
        layer.forward(x, np.array([0, -1, 2]))
    with pytest.raises(lw.ShapeError, match=r"\(3,\).*\(2,\)"):
        layer.forward(x, np.array([0, 1]))
    with pytest.raises(lw.ShapeError, match=r"one-hot targets of shape \(3, 4\)"):
        layer.forward(x, np.zeros((3, 5)))
    with pytest.raises(lw.ShapeError, match="labels"):
        layer.forward(x, np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match="integers"):
        layer.forward(x, np.array([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match="sum to 1"):
        layer.forward(x, np.ones((3, 4)))
    with pytest.raises(lw.ShapeError, match="labels of shape"):
        lw.SoftmaxWithLoss(target="labels").forward(x, np.eye(4)[:3])
    with pytest.raises(ValueError, match="target must be"):
        lw.SoftmaxWithLoss(target="onehot")  # type: ignore[arg-type]


def test_losses_reject_nan_inputs() -> None:
    x = np.array([[0.0, np.nan]])
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss: input contains 1 NaN"):
        lw.SoftmaxWithLoss().forward(x, np.array([0]))
    with pytest.raises(ValueError, match=r"IdentityWithLoss: input contains 1 NaN"):
        lw.IdentityWithLoss().forward(x, np.zeros((1, 2)))
    with pytest.raises(lw.ShapeError, match="IdentityWithLoss"):
        lw.IdentityWithLoss().forward(np.zeros((2, 2)), np.zeros((2, 3)))


def test_identity_with_loss_value_and_gradient() -> None:
    y = np.array([[1.0, 2.0], [3.0, 5.0]])
    t = np.array([[1.0, 1.0], [1.0, 1.0]])
    layer = lw.IdentityWithLoss()
    assert layer.forward(y, t) == pytest.approx(0.5 * (0 + 1 + 4 + 16) / 2)
    np.testing.assert_allclose(layer.backward(), (y - t) / 2)


def test_mul_and_add_layers_on_scalars_and_arrays() -> None:
    mul = lw.MulLayer()
    assert mul.forward(100, 2) == 200
    dx, dy = mul.backward(1.1)
    assert dx == pytest.approx(2.2) and dy == pytest.approx(110)
    add = lw.AddLayer()
    add.forward(np.ones((2, 3)), np.ones(3))
    dx, dy = add.backward(np.ones((2, 3)))
    assert dx.shape == (2, 3) and dy.shape == (3,)
    np.testing.assert_array_equal(dy, [2.0, 2.0, 2.0])


def test_layers_repr_and_deepcopy() -> None:
    layer = lw.Affine(np.zeros((3, 2), np.float32), np.zeros(2, np.float32))
    assert repr(layer) == "Affine(W=(3, 2), b=(2,))"
    clone = copy.deepcopy(layer)
    clone.W += 1
    assert layer.W.sum() == 0


def test_set_param_checks_shape() -> None:
    layer = lw.Affine(np.zeros((3, 2), np.float32), np.zeros(2, np.float32))
    with pytest.raises(lw.ShapeError, match=r"Affine.W: expected shape \(3, 2\), got \(2, 3\)"):
        layer.set_param("W", np.zeros((2, 3)))
    with pytest.raises(KeyError, match="no parameter 'gamma'"):
        layer.set_param("gamma", np.zeros(2))
    layer.set_param("W", np.ones((3, 2)))
    assert layer.W.dtype == np.float32 and layer.W.sum() == 6


def test_assigned_and_constructor_arrays_are_copied_not_shared() -> None:
    from layerwise.optimizers import SGD

    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    mine = np.full((4, 3), 0.1, dtype=np.float32)
    net.params["W1"] = mine
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    net.gradient(x, np.array([0, 1, 0, 1, 1]))
    SGD(0.5).step(net)
    assert np.all(mine == np.float32(0.1))  # the caller's array is untouched
    W = np.ones((2, 2), np.float32)
    layer = lw.Affine(W, np.zeros(2, np.float32))
    layer.W += 1
    assert np.all(W == 1)


def test_sigmoid_output_can_be_changed_without_changing_backward() -> None:
    layer = lw.Sigmoid()
    y = layer.forward(np.zeros(3))
    y += 1
    np.testing.assert_allclose(layer.backward(np.ones(3)), [0.25, 0.25, 0.25])


def test_batchnorm_needs_two_values_per_feature_in_training_mode() -> None:
    bn = lw.BatchNormalization(np.ones(3), np.zeros(3))
    with pytest.raises(lw.ShapeError, match=r"at least 2 values per feature.*got 1 sample"):
        bn.forward(np.array([[5.0, -2.0, 7.0]]))
    bn.eval()
    assert bn.forward(np.array([[5.0, -2.0, 7.0]])).shape == (1, 3)  # fine at inference


def test_public_loss_functions_check_their_targets() -> None:
    y = np.array([[0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match=r"cross_entropy_error: labels must lie in \[0, 2\].*\[-1\]"):
        lw.cross_entropy_error(y, np.array([-1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\].*\[3\]"):
        lw.cross_entropy_error(y, np.array([3]))
    with pytest.raises(lw.ShapeError, match=r"one-hot targets of shape \(1, 3\), got \(2, 3\)"):
        lw.cross_entropy_error(y, np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="softmax_cross_entropy: labels must be integers"):
        lw.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.7, 1.9]))
    with pytest.raises(lw.ShapeError, match=r"sum_squared_error: expected targets of shape \(2, 2\), got \(2,\)"):
        lw.sum_squared_error(np.ones((2, 2)), np.ones(2))
    with pytest.raises(lw.ShapeError, match="non-empty batch"):
        lw.SoftmaxWithLoss().forward(np.zeros((0, 3)), np.zeros(0, dtype=int))
    # the single-sample forms of the book still work
    assert lw.cross_entropy_error(np.array([0.2, 0.3, 0.5]), 2) == pytest.approx(-np.log(0.5 + 1e-7))
    loss, probs = lw.softmax_cross_entropy(np.array([[1.0, 2.0, 3.0]]), np.array([2]))
    assert loss == pytest.approx(lw.SoftmaxWithLoss().forward(np.array([[1.0, 2.0, 3.0]]), np.array([2])))
    np.testing.assert_allclose(probs.sum(), 1.0)


def test_softmax_with_loss_non_finite_scores() -> None:
    layer = lw.SoftmaxWithLoss()
    with pytest.raises(lw.NonFiniteError, match=r"SoftmaxWithLoss: input contains 1 NaN or infinite"):
        layer.forward(np.array([[0.0, np.inf]]), np.array([0]))
    with pytest.raises(lw.NonFiniteError, match=r"input contains 1 NaN or infinite"):
        layer.forward(np.array([[-np.inf, 1.0]]), np.array([0]))  # -inf at the target: infinite loss
    # -inf at another class is a probability of exactly 0: a finite loss and an exact gradient
    assert layer.forward(np.array([[0.0, -np.inf]]), np.array([0])) == 0.0
    np.testing.assert_array_equal(layer.backward(), [[0.0, 0.0]])
    big = np.array([[-3e38, 3e38]], dtype=np.float32)  # finite, but 6e38 overflows float32
    with pytest.raises(lw.NonFiniteError, match=r"the loss is inf: the scores span more than float32"):
        layer.forward(big, np.array([0]))
