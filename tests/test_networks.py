"""TwoLayerNet and Sequential: the book's methods, parameter views, gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise as lw


def _data(seed: int = 0, n: int = 3, d: int = 784, c: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(np.float32), rng.integers(0, c, n)


def test_two_layer_net_784_50_10_gradient_check_float64() -> None:
    net = lw.TwoLayerNet(784, 50, 10, rng=np.random.default_rng(0))
    x, t = _data()
    report = lw.check_gradients(net, x, t)
    assert [r.name for r in report.rows] == ["W1", "b1", "W2", "b2"]
    for row in report.rows:
        assert row.max_rel_error < 1e-6, str(report)


def test_gradient_check_catches_a_broken_network() -> None:
    net = lw.TwoLayerNet(6, 4, 3, weight_init_std=1.0, rng=0)
    net.layers["Relu1"].backward = lambda dout: dout  # type: ignore[method-assign]  # drops the mask
    x, t = _data(1, n=5, d=6, c=3)
    x = x - 0.5
    assert not lw.check_gradients(net, x, t).passed


def test_two_layer_net_book_api_and_float32() -> None:
    net = lw.TwoLayerNet(784, 50, 10, rng=0)
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.params["W1"].shape == (784, 50) and net.params["W1"].dtype == np.float32
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert net.lastLayer is net.last_layer
    x, t = _data(n=4)
    y = net.predict(x)
    assert y.shape == (4, 10) and y.dtype == np.float32
    assert net.loss(x, t) == pytest.approx(np.log(10), rel=0.01)
    grads = net.gradient(x, t)
    assert set(grads) == {"W1", "b1", "W2", "b2"}
    assert all(g.dtype == np.float32 for g in grads.values())
    assert net.last_loss == pytest.approx(net.loss(x, t))
    assert 0.0 <= net.accuracy(x, t) <= 1.0
    assert "TwoLayerNet(784-50-10" in repr(net)


def test_numerical_gradient_method_agrees_with_gradient() -> None:
    net = lw.TwoLayerNet(5, 4, 3, weight_init_std=0.5, rng=2)
    x, t = _data(2, n=4, d=5, c=3)
    num = net.numerical_gradient(x, t)
    net64 = net.copy().astype(np.float64)
    back = net64.gradient(x.astype(np.float64), t)
    for key in net.params:
        np.testing.assert_allclose(back[key], num[key], rtol=1e-5, atol=1e-8)
    assert net.params["W1"].dtype == np.float32  # untouched


def test_params_view_in_place_update_reaches_the_layer() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    x, t = _data(0, n=2, d=4, c=2)
    grads = net.gradient(x, t)
    before = net.layers["Affine1"].W.copy()
    net.params["W1"] -= 0.1 * grads["W1"]
    np.testing.assert_allclose(net.layers["Affine1"].W, before - 0.1 * grads["W1"])
    assert net.params["W1"] is net.layers["Affine1"].W


def test_params_view_assignment_reaches_the_layer() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    new_w = np.full((4, 3), 0.5)
    net.params["W1"] = new_w
    assert np.all(net.layers["Affine1"].W == 0.5)
    assert net.layers["Affine1"].W.dtype == np.float32
    x = np.ones((1, 4), dtype=np.float32)
    np.testing.assert_allclose(net.layers["Affine1"].forward(x), [[2.0, 2.0, 2.0]])
    params = net.params
    params["b1"] = np.ones(3)  # a view kept in a variable still writes through
    np.testing.assert_array_equal(net.layers["Affine1"].b, np.ones(3))


def test_params_view_errors() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    with pytest.raises(lw.ShapeError, match=r"Affine.W: expected shape \(4, 3\), got \(3, 4\)"):
        net.params["W1"] = np.zeros((3, 4))
    with pytest.raises(KeyError, match="no parameter 'W9'"):
        _ = net.params["W9"]
    with pytest.raises(TypeError):
        del net.params["W1"]


def test_book_training_loop_reduces_loss() -> None:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 8)) * 3
    t = rng.integers(0, 3, 300)
    x = (centers[t] + rng.standard_normal((300, 8))).astype(np.float32)
    net = lw.TwoLayerNet(8, 16, 3, weight_init_std=0.1, rng=1)
    first = net.loss(x, t)
    for _ in range(200):
        idx = rng.choice(300, 50, replace=False)
        grads = net.gradient(x[idx], t[idx])
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.1 * grads[key]
    assert net.loss(x, t) < 0.5 * first
    assert net.accuracy(x, t) > 0.9
    assert net.accuracy(x, np.eye(3)[t]) == net.accuracy(x, t)


def test_same_seed_same_weights() -> None:
    a = lw.TwoLayerNet(10, 5, 3, rng=np.random.default_rng(42))
    b = lw.TwoLayerNet(10, 5, 3, rng=42)
    c = lw.TwoLayerNet(10, 5, 3, rng=43)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_sequential_with_sigmoid_and_regression_loss() -> None:
    rng = np.random.default_rng(5)
    net = lw.Sequential(
        [lw.Affine(rng.standard_normal((3, 4)), rng.standard_normal(4)), lw.Sigmoid(),
         lw.Affine(rng.standard_normal((4, 2)), rng.standard_normal(2))],
        lw.IdentityWithLoss(),
    )
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    x = rng.standard_normal((6, 3))
    t = rng.standard_normal((6, 2))
    report = lw.check_gradients(net, x, t)
    assert report.passed, str(report)
    assert "Sigmoid1" in repr(net)


def test_sequential_rejects_bad_construction() -> None:
    with pytest.raises(TypeError, match="LossLayer"):
        lw.Sequential([lw.Relu()], lw.Relu())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one layer"):
        lw.Sequential([], lw.SoftmaxWithLoss())
    with pytest.raises(ValueError, match="positive integer"):
        lw.TwoLayerNet(0, 5, 3)


def test_train_eval_switch() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    assert net.training
    net.eval()
    assert not net.training and not any(layer.training for layer in net.layers.values())
    net.train()
    assert all(layer.training for layer in net.layers.values())


def test_accuracy_errors() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    with pytest.raises(ValueError, match="3 inputs but 2 targets"):
        net.accuracy(np.zeros((3, 4)), np.zeros(2, dtype=int))


def test_evaluate_gives_loss_and_accuracy_in_one_pass_in_inference_mode() -> None:
    from layerwise.networks import MultiLayerNetExtend

    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((37, 6)), rng.integers(0, 3, 37)
    net = MultiLayerNetExtend(6, [5], 3, use_dropout=True, dropout_ration=0.5, use_batchnorm=True, rng=0)
    net.train()
    loss, acc = net.evaluate(x, t, batch_size=10)  # batches of 10, 10, 10 and 7
    assert acc == net.accuracy(x, t)
    net.eval()
    assert loss == pytest.approx(net.data_loss(x, t), rel=1e-6)  # float32 sums in other batches
    assert acc == np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert all(layer.training is False for layer in net.layers.values())
    net.train()
    net.evaluate(x, np.eye(3)[t])  # one-hot targets too
    assert all(layer.training for layer in net.layers.values())  # modes restored
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        net.evaluate(x, t, batch_size=0)
    assert lw.SimpleConvNet(rng=0).eval_batch_size == 100 and net.eval_batch_size == 1000


# -- issue 17, defect 5: bad arguments raise ConfigError naming the argument -------------------
_TINY_CONV = {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}
NETWORKS = {
    "TwoLayerNet": lambda **kw: lw.TwoLayerNet(4, 3, 2, rng=0, **kw),
    "MultiLayerNet": lambda **kw: lw.MultiLayerNet(4, [3], 2, rng=0, **kw),
    "MultiLayerNetExtend": lambda **kw: lw.MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, rng=0, **kw),
    "SimpleConvNet": lambda **kw: lw.SimpleConvNet((1, 6, 6), _TINY_CONV, 5, 3, rng=0, **kw),
    "DeepConvNet": lambda **kw: lw.DeepConvNet(hidden_size=4, output_size=3, rng=0, **kw),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("dtype", [np.int8, "int8", np.int64, np.bool_, np.complex64, np.longdouble, None, "f4,(",
                                   "float", object, 3])
def test_every_network_refuses_a_dtype_that_is_not_float16_32_or_64(name: str, dtype: object) -> None:
    with pytest.raises(lw.ConfigError, match=rf"{name}: dtype must be float16, float32 or float64, got "):
        NETWORKS[name](dtype=dtype)


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("dtype", [np.float16, "float32", np.dtype(np.float64)])
def test_every_network_takes_float16_32_and_64_and_its_repr_says_which(name: str, dtype: object) -> None:
    net = NETWORKS[name](dtype=dtype)
    assert net.dtype == np.dtype(dtype) and f"dtype={np.dtype(dtype)}" in repr(net)
    assert all(v.dtype == np.dtype(dtype) for v in net.state_dict().values())


def test_an_int8_network_no_longer_has_zero_weights_and_a_float32_repr() -> None:
    with pytest.raises(ValueError, match="TwoLayerNet: dtype"):  # ConfigError is a ValueError
        lw.TwoLayerNet(784, 50, 10, dtype=np.int8)
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    for target in (net, net.layers["Affine1"]):
        with pytest.raises(lw.ConfigError, match=r"astype: dtype must be float16, float32 or float64, got numpy.int32"):
            target.astype(np.int32)
    assert net.dtype == np.float32 and np.all(net.params["W1"] != 0)
    with pytest.raises(lw.ConfigError, match="dtype must be float16, float32 or float64, got 'int8'"):
        lw.networks.sequential.network_from_config({**net.get_config(), "dtype": "int8"})


@pytest.mark.parametrize("name", ["TwoLayerNet", "MultiLayerNet", "SimpleConvNet"])
@pytest.mark.parametrize("std", [float("nan"), -1, 0, 0.0, float("inf"), True, None, "kaiming", [0.1], 10**400])
def test_weight_init_std_must_be_a_positive_finite_number_or_a_known_name(name: str, std: object) -> None:
    with pytest.raises(lw.ConfigError, match=rf"{name}: weight_init_std"):
        NETWORKS[name](weight_init_std=std)


def test_two_layer_net_takes_an_initializer_name_and_records_it() -> None:
    net = lw.TwoLayerNet(400, 30, 2, weight_init_std="he", rng=0)
    assert abs(float(net.params["W1"].std()) - np.sqrt(2 / 400)) < 0.005
    assert net.get_config()["weight_init_std"] == "he"
    assert lw.TwoLayerNet(4, 3, 2, weight_init_std=np.float32(0.5)).get_config()["weight_init_std"] == 0.5


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: lw.TwoLayerNet(4, True, 2), "TwoLayerNet: hidden_size must be a positive integer, got True"),
        (lambda: lw.TwoLayerNet(4.0, 3, 2), "TwoLayerNet: input_size must be a positive integer, got 4.0"),
        (lambda: lw.TwoLayerNet("4", 3, 2), "TwoLayerNet: input_size must be a positive integer, got '4'"),
        (lambda: lw.MultiLayerNet(4, 3, 2), r"hidden_size_list must be a list of positive integers, got 3"),
        (lambda: lw.MultiLayerNet(4, "33", 2), r"hidden_size_list must be a list of positive integers, got '33'"),
        (lambda: lw.MultiLayerNet(4, [3], 2, activation=None), "activation must be 'relu' or 'sigmoid', got None"),
        (lambda: lw.MultiLayerNet(4, [3], 2, weight_decay_lambda=float("nan")), "Invalid weight_decay_lambda: nan"),
        (lambda: lw.MultiLayerNet(4, [3], 2, weight_decay_lambda=float("inf")), "Invalid weight_decay_lambda: inf"),
        (lambda: lw.MultiLayerNet(4, [3], 2, weight_decay_lambda="0.1"), "weight_decay_lambda must be a number"),
        (lambda: lw.MultiLayerNetExtend(4, [3], 2, use_dropout="no"), "use_dropout must be True or False, got 'no'"),
        (lambda: lw.MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=float("nan")),
         "Invalid dropout ratio: nan"),
        (lambda: lw.DeepConvNet(dropout_ratio=-0.1), r"Invalid dropout ratio: -0.1"),
        (lambda: lw.SimpleConvNet(conv_param={**_TINY_CONV, "filter_num": 2.0}),
         r"conv_param\['filter_num'\] must be a positive integer, got 2.0"),
        (lambda: lw.SimpleConvNet(conv_param={**_TINY_CONV, "pad": -1}),
         r"conv_param\['pad'\] must be a non-negative integer, got -1"),
        (lambda: lw.SimpleConvNet(conv_param={**_TINY_CONV, "dilation": 2}), r"has unknown keys \['dilation'\]"),
        (lambda: lw.SimpleConvNet(input_dim=(1, True, 6)), "input_dim must be three positive integers"),
        (lambda: lw.DeepConvNet(conv_param_3=[3, 3]), r"DeepConvNet: conv_param_3 must be a dict"),
        (lambda: lw.Dropout("0.5"), "Dropout: ratio must be a number, got '0.5'"),
        (lambda: lw.BatchNormalization(np.ones(2), np.zeros(2), momentum=float("nan")), "Invalid momentum value: nan"),
        (lambda: lw.BatchNormalization(np.ones(2), np.zeros(2), eps=float("inf")), "Invalid epsilon value: inf"),
        (lambda: lw.BatchNormalization(np.ones(2), np.zeros(2), eps=None), "eps must be a number, got None"),
        (lambda: lw.Affine(np.ones((2, 2), np.complex64), np.zeros(2)), "Affine: W must hold real numbers"),
        (lambda: lw.Affine(np.ones((2, 2), np.longdouble), np.zeros(2)),
         "Affine: W must be float16, float32 or float64, got dtype float128"),
        (lambda: lw.Convolution(np.array([["a"]]), np.zeros(1)), "Convolution: W must hold real numbers"),
        (lambda: lw.Pooling(2, 2, mode=["max"]), r"mode must be 'max' or 'avg', got \['max'\]"),
        (lambda: lw.SoftmaxWithLoss(target=None), "target must be 'auto', 'labels' or 'one-hot', got None"),
        (lambda: lw.Sequential([lw.MulLayer()], lw.SoftmaxWithLoss()), r"MulLayer.forward\(x, y\) does not take one"),
        (lambda: lw.Sequential([lw.Relu(), lw.Relu()], lw.SoftmaxWithLoss(), names=["a", "a"]),
         "names must be unique strings"),
        (lambda: lw.Sequential([lw.Relu()], lw.SoftmaxWithLoss(), names=[1]), "names must be unique strings"),
    ],
)
def test_other_numeric_and_kind_arguments_raise_config_error_naming_them(make: object, match: str) -> None:
    with pytest.raises(lw.ConfigError, match=match):
        make()  # type: ignore[operator]


def test_each_config_name_lives_in_one_module() -> None:
    from layerwise.networks import config, sequential

    assert config.NETWORK_TYPES["Sequential"] is sequential.Sequential
    assert set(sequential.__all__) == {"Sequential", "network_from_config", "config_shapes"}
    # rebuilding lives here, where Sequential is: config, which Sequential uses, names no class
    assert callable(sequential.network_from_config) and callable(sequential.config_shapes)
    assert not hasattr(config, "network_from_config")

