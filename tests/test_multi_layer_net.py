"""MultiLayerNet and MultiLayerNetExtend: structure, weight decay, BN/Dropout modes, gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise as lw


def _data(seed: int = 0, n: int = 6, d: int = 5, c: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, c, n)


def _blobs(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 8)) * 3
    t = rng.integers(0, 3, n)
    return (centers[t] + rng.standard_normal((n, 8))).astype(np.float32), t


def test_structure_and_keys_follow_the_book() -> None:
    net = lw.MultiLayerNet(5, [4, 4], 3, rng=0)
    assert list(net.layers) == [
        "Affine1", "Activation_function1", "Affine2", "Activation_function2", "Affine3"]
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert net.hidden_layer_num == 2 and net.hidden_size_list == [4, 4]
    assert isinstance(net, lw.Sequential)
    assert repr(net) == "MultiLayerNet(5-4-4-3, relu, dtype=float32)"

    ext = lw.MultiLayerNetExtend(5, [4, 4], 3, use_batchnorm=True, use_dropout=True, rng=0)
    assert list(ext.layers) == [
        "Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
        "Affine2", "BatchNorm2", "Activation_function2", "Dropout2", "Affine3"]
    assert list(ext.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert list(ext.buffers) == ["running_mean1", "running_var1", "running_mean2", "running_var2"]
    assert "batchnorm, dropout=0.5" in repr(ext)
    plain = lw.MultiLayerNetExtend(5, [4], 3, rng=0)
    assert list(plain.layers) == ["Affine1", "Activation_function1", "Affine2"]
    assert len(plain.buffers) == 0


@pytest.mark.parametrize(
    ("spec", "std"), [("relu", np.sqrt(2 / 400)), ("he", np.sqrt(2 / 400)), ("sigmoid", np.sqrt(1 / 400)),
                      ("xavier", np.sqrt(1 / 400)), (0.01, 0.01)])
def test_weight_init_std(spec: str | float, std: float) -> None:
    net = lw.MultiLayerNet(400, [300], 10, weight_init_std=spec, rng=0)
    w = net.params["W1"]
    assert w.dtype == np.float32
    assert abs(float(w.std()) - std) < 0.02 * std
    np.testing.assert_array_equal(net.params["b1"], 0)


def test_same_seed_same_network() -> None:
    a = lw.MultiLayerNetExtend(6, [5], 3, use_dropout=True, rng=7)
    b = lw.MultiLayerNetExtend(6, [5], 3, use_dropout=True, rng=np.random.default_rng(7))
    x, _ = _data(d=6)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    np.testing.assert_array_equal(a.predict(x), b.predict(x))  # the dropout masks too


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_multi_layer_net_gradient_check(activation: str, lam: float) -> None:
    net = lw.MultiLayerNet(5, [6, 4], 3, activation=activation, weight_init_std=0.8,
                           weight_decay_lambda=lam, rng=1)
    x, t = _data(1)
    report = lw.check_gradients(net, x, t)
    assert report.passed, str(report)
    assert [r.name for r in report.rows] == ["W1", "b1", "W2", "b2", "W3", "b3"]


@pytest.mark.parametrize("lam", [0.0, 0.2])
@pytest.mark.parametrize("training", [True, False])
def test_extend_gradient_check_with_batchnorm_and_dropout(lam: float, training: bool) -> None:
    net = lw.MultiLayerNetExtend(5, [6, 4], 3, weight_init_std=0.8, weight_decay_lambda=lam,
                                 use_dropout=True, dropout_ration=0.3, use_batchnorm=True, rng=2)
    x, t = _data(2, n=8)
    net.train()
    net.loss(x, t)  # move the running statistics away from their initial values
    net.train(training)
    # in training mode BatchNorm subtracts the batch mean, so the biases before it (b1, b2)
    # have a zero gradient: only round-off is left to compare, hence an absolute tolerance
    report = lw.check_gradients(net, x, t, atol=1e-9)
    assert report.passed, str(report)
    assert {r.name for r in report.rows} >= {"gamma1", "beta1", "gamma2", "beta2"}
    for row in report.rows:
        if training and row.name in ("b1", "b2"):
            assert row.max_abs_error < 1e-9
        else:
            assert row.max_rel_error < 1e-6, str(report)
    if training:
        grads = net.copy().astype(np.float64).gradient(x.astype(np.float64), t)
        np.testing.assert_allclose(grads["b1"], 0.0, atol=1e-12)


def test_weight_decay_loss_and_gradient_are_consistent() -> None:
    x, t = _data(3)
    plain = lw.MultiLayerNet(5, [4], 3, weight_init_std=0.5, rng=3)
    decayed = lw.MultiLayerNet(5, [4], 3, weight_init_std=0.5, weight_decay_lambda=0.1, rng=3)
    penalty = 0.5 * 0.1 * sum(float(np.sum(plain.params[k].astype(np.float64) ** 2)) for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty, rel=1e-6)
    g0, g1 = plain.gradient(x, t), decayed.gradient(x, t)
    assert decayed.last_loss == pytest.approx(plain.last_loss + penalty, rel=1e-6)  # type: ignore[operator]
    for k in ("W1", "W2"):
        np.testing.assert_allclose(g1[k], g0[k] + 0.1 * plain.params[k], rtol=1e-5, atol=1e-7)
        assert g1[k].dtype == np.float32
    for k in ("b1", "b2"):  # biases are not decayed
        np.testing.assert_array_equal(g1[k], g0[k])
    with pytest.raises(ValueError, match="Invalid weight_decay_lambda: -1.0"):
        lw.MultiLayerNet(5, [4], 3, weight_decay_lambda=-1)


def test_batchnorm_gamma_is_not_decayed() -> None:
    net = lw.MultiLayerNetExtend(5, [4], 3, use_batchnorm=True, weight_decay_lambda=0.5, rng=0)
    x, t = _data(0)
    net.params["gamma1"] = np.full(4, 3.0)
    before = net.copy()
    before.weight_decay_lambda = 0.0
    g, g0 = net.gradient(x, t), before.gradient(x, t)
    np.testing.assert_allclose(g["gamma1"], g0["gamma1"], rtol=1e-6)


def test_gradient_is_one_forward_pass() -> None:
    net = lw.MultiLayerNetExtend(5, [4], 3, use_batchnorm=True, rng=0)
    calls = []
    bn = net.layers["BatchNorm1"]
    original = bn.forward
    bn.forward = lambda x: (calls.append(1), original(x))[1]  # type: ignore[method-assign]
    x, t = _data(0)
    net.gradient(x, t)
    assert len(calls) == 1


def test_train_and_eval_change_dropout_and_batchnorm() -> None:
    x, t = _data(4, n=10)
    net = lw.MultiLayerNetExtend(5, [8], 3, use_dropout=True, use_batchnorm=True, rng=4)
    bn = net.layers["BatchNorm1"]
    assert net.training
    assert not np.array_equal(net.predict(x), net.predict(x))  # fresh dropout masks
    running = bn.running_mean.copy()
    net.predict(x)
    assert not np.array_equal(bn.running_mean, running)  # training updates the statistics

    net.eval()
    assert not net.training and not bn.training and not net.layers["Dropout1"].training
    running = bn.running_mean.copy()
    y = net.predict(x)
    np.testing.assert_array_equal(y, net.predict(x))  # deterministic
    np.testing.assert_allclose(net.predict(x[:1]), y[:1], rtol=1e-6)  # no batch statistics
    np.testing.assert_array_equal(bn.running_mean, running)  # and no updates
    net.train()
    assert net.layers["Dropout1"].training and bn.training


def test_accuracy_evaluates_in_inference_mode_and_restores_the_mode() -> None:
    x, t = _blobs(5, n=60)
    net = lw.MultiLayerNetExtend(8, [16], 3, use_dropout=True, use_batchnorm=True, rng=5)
    net.train()
    net.loss(x, t)
    running = net.buffers["running_mean1"].copy()
    first = net.accuracy(x, t)
    assert net.accuracy(x, t) == first  # no dropout noise
    np.testing.assert_array_equal(net.buffers["running_mean1"], running)
    assert net.training and all(layer.training for layer in net.layers.values())
    net.layers["Dropout1"].eval()  # a mixed state is restored as it was
    net.accuracy(x, t)
    assert not net.layers["Dropout1"].training and net.layers["BatchNorm1"].training


def test_float32_throughout() -> None:
    net = lw.MultiLayerNetExtend(5, [4], 3, use_dropout=True, use_batchnorm=True, rng=0)
    x, t = _data(0)
    grads = net.gradient(x.astype(np.float64), t)
    assert all(v.dtype == np.float32 for v in net.params.values())
    assert all(v.dtype == np.float32 for v in grads.values())
    assert all(v.dtype == np.float32 for v in net.buffers.values())
    assert net.predict(x).dtype == np.float32
    net64 = net.copy().astype(np.float64)
    assert net64.buffers["running_var1"].dtype == np.float64


def test_buffers_view_reads_and_writes_through() -> None:
    net = lw.MultiLayerNetExtend(5, [4], 3, use_batchnorm=True, rng=0)
    assert net.buffers["running_var1"] is net.layers["BatchNorm1"].running_var
    net.buffers["running_var1"] = np.full(4, 2.0)
    np.testing.assert_array_equal(net.layers["BatchNorm1"].running_var, 2.0)
    assert net.layers["BatchNorm1"].running_var.dtype == np.float32
    with pytest.raises(lw.ShapeError, match=r"running_var: expected shape \(4,\), got \(3,\)"):
        net.buffers["running_var1"] = np.ones(3)
    with pytest.raises(KeyError, match="no buffer 'running_var9'"):
        _ = net.buffers["running_var9"]


def test_numerical_gradient_method_with_frozen_dropout() -> None:
    net = lw.MultiLayerNetExtend(4, [5], 3, weight_init_std=0.8, use_dropout=True, rng=6)
    x, t = _data(6, d=4)
    back = net.copy().astype(np.float64)
    grads = back.gradient(x.astype(np.float64), t)
    back.freeze_randomness()  # the numerical gradient's copy then reuses these masks
    num = back.numerical_gradient(x, t)
    for k in grads:
        np.testing.assert_allclose(grads[k], num[k], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kw", [{}, {"use_batchnorm": True}, {"use_batchnorm": True, "use_dropout": True,
                                                               "dropout_ration": 0.2}])
def test_extend_trains_with_adam(kw: dict[str, object]) -> None:
    x, t = _blobs(0)
    rng = np.random.default_rng(0)
    net = lw.MultiLayerNetExtend(8, [16, 16], 3, weight_decay_lambda=1e-3, rng=1, **kw)  # type: ignore[arg-type]
    optimizer = lw.Adam(lr=0.01)
    first = net.loss(x, t)
    for _ in range(60):
        idx = rng.choice(300, 50, replace=False)
        net.train()
        net.gradient(x[idx], t[idx])
        optimizer.step(net)
    net.eval()
    assert net.loss(x, t) < 0.5 * first
    assert net.accuracy(x, t) > 0.9


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="activation must be 'relu' or 'sigmoid', got 'tanh'"):
        lw.MultiLayerNet(5, [4], 3, activation="tanh")
    with pytest.raises(ValueError, match=r"positive integers, got \[5, 0, 3\]"):
        lw.MultiLayerNet(5, [0], 3)
    with pytest.raises(ValueError, match="Invalid dropout ratio: 1.0"):
        lw.MultiLayerNetExtend(5, [4], 3, use_dropout=True, dropout_ration=1.0)
    with pytest.raises(ValueError, match="Unknown weight initializer"):
        lw.MultiLayerNet(5, [4], 3, weight_init_std="lecun")
    no_hidden = lw.MultiLayerNet(5, [], 3, rng=0)
    assert list(no_hidden.layers) == ["Affine1"]
