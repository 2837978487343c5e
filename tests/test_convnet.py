"""SimpleConvNet and DeepConvNet: the book's structure and keys, end-to-end gradient checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layerwise as lw
from layerwise.fast import parallel
from layerwise.layers.fused import ReluPool, fuse_relu_pool
from layerwise.networks.sequential import network_from_config

TINY = {"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1}


def _images(seed: int, n: int, shape: tuple[int, int, int], classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)).astype(np.float32), rng.integers(0, classes, n)


def test_simple_conv_net_gradient_check_float64() -> None:
    net = lw.SimpleConvNet(input_dim=(1, 8, 8), conv_param=TINY, hidden_size=5, output_size=4,
                           weight_init_std=0.3, rng=0)
    x, t = _images(1, 3, (1, 8, 8), 4)
    report = lw.check_gradients(net, x - 0.5, t)
    assert [r.name for r in report.rows] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for row in report.rows:
        assert row.max_rel_error < 1e-6, str(report)


def test_simple_conv_net_with_padding_stride_and_channels_gradient_check() -> None:
    conv = {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 2}
    net = lw.SimpleConvNet(input_dim=(2, 7, 7), conv_param=conv, hidden_size=4, output_size=3,
                           weight_init_std=0.5, rng=1)
    x, t = _images(2, 2, (2, 7, 7), 3)
    assert lw.check_gradients(net, x - 0.5, t).passed


def test_simple_conv_net_book_api_and_float32() -> None:
    net = lw.SimpleConvNet(rng=0)  # the book's defaults: 30 5x5 filters, hidden 100
    # the book's list by default; fused=True: Relu1 and Pool1 as one visible fused layer
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert "fused" not in repr(net)
    fused = lw.SimpleConvNet(rng=0, fused=True)
    assert list(fused.layers) == ["Conv1", "Relu1+Pool1", "Affine1", "Relu2", "Affine2"]
    assert "fused: Relu1+Pool1" in repr(fused)
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10), "b3": (10,)}
    assert all(v.dtype == np.float32 for v in net.params.values())
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.2)
    x, t = _images(0, 4, (1, 28, 28), 10)
    kept = x.copy()
    y = net.predict(x)
    assert y.shape == (4, 10) and y.dtype == np.float32
    assert net.loss(x, t) == pytest.approx(np.log(10), rel=0.01)
    grads = net.gradient(x, t)
    assert set(grads) == set(net.params)
    assert all(grads[k].shape == net.params[k].shape and grads[k].dtype == np.float32 for k in grads)
    np.testing.assert_array_equal(x, kept)  # the input is not mutated
    assert 0.0 <= net.accuracy(x, t) <= 1.0
    assert repr(net).startswith("SimpleConvNet(input_dim=(1, 28, 28), filters=(30, 1, 5, 5)")
    a, b = lw.SimpleConvNet(rng=42), lw.SimpleConvNet(rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])


def test_simple_conv_net_learns_a_tiny_problem() -> None:
    # class k: a bright bar in row k of an 8x8 image, plus noise
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 200)
    x = 0.3 * rng.random((200, 1, 8, 8)).astype(np.float32)
    x[np.arange(200), 0, 2 * t, :] += 1.0
    net = lw.SimpleConvNet(input_dim=(1, 8, 8), conv_param={**TINY, "filter_num": 4}, hidden_size=16,
                           output_size=4, weight_init_std=0.1, rng=1)
    first = net.loss(x, t)
    for _ in range(150):
        idx = rng.choice(200, 20, replace=False)
        grads = net.gradient(x[idx], t[idx])
        for key in net.params:
            net.params[key] -= 0.1 * grads[key]
    assert net.loss(x, t) < 0.3 * first
    assert net.accuracy(x, t) > 0.9


def test_simple_conv_net_errors() -> None:
    with pytest.raises(lw.ShapeError, match="not an integer"):  # 7x7 conv output cannot be pooled 2x2
        lw.SimpleConvNet(input_dim=(1, 9, 9), conv_param=TINY)
    with pytest.raises(ValueError, match=r"input_dim must be three positive integers"):
        lw.SimpleConvNet(input_dim=(28, 28))
    with pytest.raises(ValueError, match=r"lacks \['stride'\]"):
        lw.SimpleConvNet(conv_param={"filter_num": 3, "filter_size": 3, "pad": 0})
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        lw.SimpleConvNet(hidden_size=0)
    net = lw.SimpleConvNet(input_dim=(1, 8, 8), conv_param=TINY)
    with pytest.raises(lw.ShapeError, match=r"Convolution: expected input of shape \(N, 1, H, W\)"):
        net.predict(np.zeros((2, 3, 8, 8)))


# -- DeepConvNet ----------------------------------------------------------------------------------

def _small_deep_params() -> dict[str, Any]:
    sizes = (2, 2, 3, 3, 4, 4)
    pads = (1, 1, 1, 2, 1, 1)
    return {f"conv_param_{k + 1}": {"filter_num": n, "filter_size": 3, "pad": p, "stride": 1}
            for k, (n, p) in enumerate(zip(sizes, pads, strict=True))}


def test_deep_conv_net() -> None:
    net = lw.DeepConvNet(rng=0)
    assert list(net.params) == [f"{p}{k}" for k in range(1, 9) for p in "Wb"]
    shapes = [net.params[f"W{k}"].shape for k in range(1, 9)]
    assert shapes == [(16, 1, 3, 3), (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3),
                      (64, 32, 3, 3), (64, 64, 3, 3), (1024, 50), (50, 10)]
    # He initialisation, as the book: std sqrt(2 / inputs per neuron)
    for key, fan_in in (("W2", 16 * 9), ("W6", 64 * 9), ("W7", 64 * 4 * 4)):
        assert net.params[key].std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.1)
    names = list(net.layers)
    assert names[:5] == ["Conv1", "Relu1", "Conv2", "Relu2", "Pool1"]  # the book's list
    assert list(lw.DeepConvNet(rng=0, fused=True).layers)[:5] == ["Conv1", "Relu1", "Conv2", "Relu2+Pool1", "Conv3"]
    assert names[-3:] == ["Dropout1", "Affine2", "Dropout2"]
    x, t = _images(0, 2, (1, 28, 28), 10)
    assert net.predict(x).shape == (2, 10)
    assert set(net.gradient(x, t)) == set(net.params)
    assert 0.0 <= net.accuracy(x, t) <= 1.0 and net.training  # accuracy restores the mode
    assert "DeepConvNet(input_dim=(1, 28, 28), filters=[16, 16, 32, 32, 64, 64]" in repr(net)


@pytest.mark.parametrize("training", [False, True])
def test_deep_conv_net_gradients(training: bool) -> None:
    # in training mode check_gradients freezes the Dropout masks of its first forward pass;
    # in eval mode Dropout is off and the loss is a deterministic function of the weights
    small = lw.DeepConvNet(input_dim=(1, 4, 4), hidden_size=3, output_size=3, rng=1, **_small_deep_params())
    small.train(training)
    # zero biases in so small a net can leave a ReLU input at exactly 0, its kink
    rng = np.random.default_rng(4)
    for key in small.params:
        if key.startswith("b"):
            small.params[key] = rng.uniform(0.1, 0.5, small.params[key].shape)
    xs, ts = _images(3, 2, (1, 4, 4), 3)
    report = lw.check_gradients(small, xs - 0.5, ts)
    for row in report.rows:
        assert row.max_rel_error < 1e-6, str(report)


# -- the listed layers are what runs; fusing ReLU and max pooling is an explicit step ------------
def _book_order_step(net: lw.Sequential, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Scores and gradients with every layer run strictly in the order of ``net.layers``."""
    out = x
    for layer in net.layers.values():
        out = layer.forward(out)
    scores = out
    net.last_layer.forward(scores, t)
    d = net.last_layer.backward(1.0)
    for layer in reversed(list(net.layers.values())):
        d = layer.backward(d)
    return scores, {k: np.array(v) for k, v in net.grads.items()}


class _Recording(lw.layers.Relu):
    """A ReLU that notes its name in a shared log on every forward and backward."""

    def __init__(self, log: list[str], label: str) -> None:
        super().__init__()
        self.log, self.label = log, label

    def forward(self, x: Any) -> Any:
        self.log.append(f"forward {self.label}")
        return super().forward(x)

    def backward(self, dout: Any) -> Any:
        self.log.append(f"backward {self.label}")
        return super().backward(dout)


def test_the_layers_listed_are_the_layers_run_in_that_order() -> None:
    log: list[str] = []
    rng = np.random.default_rng(0)
    conv = lw.layers.Convolution(rng.standard_normal((3, 1, 3, 3)), np.zeros(3), pad=1)
    pooled = 3 * 3 * 3
    layers = [conv, _Recording(log, "a"), lw.layers.Pooling(2, 2), _Recording(log, "b"),
              lw.layers.Affine(rng.standard_normal((pooled, 4)), np.zeros(4)), _Recording(log, "c")]
    net = lw.Sequential(layers, lw.layers.SoftmaxWithLoss())
    assert net.execution_order() == list(net.layers.items())
    net.gradient(rng.standard_normal((2, 1, 6, 6)), np.array([0, 3]))
    assert log == ["forward a", "forward b", "forward c", "backward c", "backward b", "backward a"]


def test_relu_mask_has_the_shape_of_the_convolution_output() -> None:
    rng = np.random.default_rng(1)
    conv = lw.layers.Convolution(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), np.zeros(3, np.float32),
                                 pad=1)
    relu, pool = lw.layers.Relu(), lw.layers.Pooling(2, 2)
    affine = lw.layers.Affine(rng.standard_normal((3 * 4 * 4, 5)).astype(np.float32), np.zeros(5, np.float32))
    net = lw.Sequential([conv, relu, pool, affine], lw.layers.SoftmaxWithLoss())
    x = rng.standard_normal((4, 2, 8, 8)).astype(np.float32)
    net.gradient(x, rng.integers(0, 5, 4))
    assert relu.mask is not None and relu.mask.shape == conv.forward(x).shape == (4, 3, 8, 8)
    np.testing.assert_array_equal(relu.mask, conv.forward(x) <= 0)

    simple = lw.SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 4, "filter_size": 3, "pad": 0,
                                                                 "stride": 1}, hidden_size=6, output_size=3, rng=0,
                              fused=False)
    assert list(simple.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    before = parallel.get_num_threads()
    parallel.set_num_threads(1)  # (a split step leaves the first part's caches; see DataParallel)
    try:
        simple.gradient(rng.standard_normal((5, 1, 10, 10)).astype(np.float32), np.array([0, 1, 2, 0, 1]))
    finally:
        parallel.set_num_threads(before)
    mask = simple.layers["Relu1"].mask
    assert mask is not None and mask.shape == (5, 4, 8, 8)


@pytest.mark.parametrize(("pool", "size"), [
    ({"pool_h": 2, "pool_w": 2}, 8),
    ({"pool_h": 3, "pool_w": 3, "stride": 2, "pad": 1}, 9),  # overlapping, padded
    ({"pool_h": 2, "pool_w": 3, "stride": 1}, 8),            # overlapping, no padding
])
def test_fuse_replaces_relu_and_max_pool_visibly_with_the_same_result(pool: dict[str, Any], size: int) -> None:
    rng = np.random.default_rng(5)
    conv = lw.layers.Convolution(rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
                                 rng.standard_normal(3).astype(np.float32), pad=1)
    pooling = lw.layers.Pooling(**pool)
    x = rng.standard_normal((4, 2, size, size)).astype(np.float32)
    x[0] = 0.0  # all-zero outputs: every window a tie, relu's zeros against the conv's bias
    x[1, :, :4] = -5.0  # large negative patches: windows whose maximum is not positive
    x[2, :, 2:6:2] = x[2, :, 3:7:2]  # equal rows: ties inside windows
    probe = lw.Sequential([conv, lw.layers.Relu(), pooling], lw.layers.SoftmaxWithLoss())
    feats = int(np.prod(probe.predict(x[:1]).shape[1:]))
    affine = lw.layers.Affine(rng.standard_normal((feats, 5)).astype(np.float32), np.zeros(5, np.float32))
    net = lw.Sequential([conv, lw.layers.Relu(), pooling, affine], lw.layers.SoftmaxWithLoss())
    t = rng.integers(0, 5, 4)
    book = net.copy()
    scores, grads = _book_order_step(book, x, t)
    assert net.fuse() is net
    assert list(net.layers) == ["Convolution1", "Relu1+Pooling1", "Affine1"]
    assert "ReluPool" in repr(net)
    np.testing.assert_array_equal(net.predict(x), scores)
    for key, g in net.gradient(x, t).items():
        np.testing.assert_array_equal(g, grads[key], err_msg=key)
    fused = net.layers["Relu1+Pooling1"]
    assert isinstance(fused, ReluPool) and fused.relu.mask is not None
    assert fused.relu.mask.shape == scores.shape[:1] + pooling.forward(conv.forward(x)).shape[1:]
    again = network_from_config(net.get_config())  # a fused network's file loads fused
    assert list(again.layers) == list(net.layers)


def test_fuse_takes_exactly_relu_then_max_pooling() -> None:
    class MyRelu(lw.layers.Relu):
        pass

    relu, avg = lw.layers.Relu(), lw.layers.Pooling(2, 2, mode="avg")
    p1, p2 = lw.layers.Pooling(2, 2), lw.layers.Pooling(2, 2)

    def kinds(layers: list[Any]) -> list[str]:
        return [type(layer).__name__ for layer in fuse_relu_pool({str(i): la for i, la in enumerate(layers)}).values()]

    assert kinds([relu, p1, p2, avg]) == ["ReluPool", "Pooling", "Pooling"]
    assert kinds([relu, avg, p1]) == ["Relu", "Pooling", "Pooling"]  # average pooling does not commute
    assert kinds([MyRelu(), p1]) == ["MyRelu", "Pooling"]  # a subclass may do anything in forward
    assert kinds([p1, relu]) == ["Pooling", "Relu"]
    with pytest.raises(lw.ConfigError, match="max Pooling"):
        ReluPool(avg)


def test_a_simple_conv_net_file_saved_before_loads_to_the_same_network(tmp_path: Any) -> None:
    net = lw.SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 4, "filter_size": 3, "pad": 0,
                                                              "stride": 1}, hidden_size=6, output_size=3, rng=0,
                           fused=False)
    x = np.random.default_rng(2).standard_normal((3, 1, 10, 10)).astype(np.float32)
    fused = net.copy().fuse()
    np.testing.assert_array_equal(fused.predict(x), net.predict(x))
    config = fused.get_config()  # the config names the class and sizes, and fused=True
    assert config["fused"] is True and "layers" not in config
    again = network_from_config(config)
    again.load_state_dict(fused.state_dict())
    assert list(again.layers) == ["Conv1", "Relu1+Pool1", "Affine1", "Relu2", "Affine2"]
    np.testing.assert_array_equal(again.predict(x), net.predict(x))
    assert "fused" not in net.get_config()  # the book's list, the default, is not written
    book = network_from_config(net.get_config())
    assert list(book.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    older = network_from_config(dict(net.get_config(), fused=False))  # files that say so load
    assert list(older.layers) == list(book.layers)


def test_a_relu_pool_config_takes_a_pooling_config_only() -> None:
    from layerwise.layers.base import layer_from_config

    pool = {"class": "Pooling", "pool_h": 2, "pool_w": 2, "stride": [2, 2], "pad": [0, 0], "mode": "max"}
    assert isinstance(layer_from_config({"class": "ReluPool", "pool": pool}), ReluPool)
    nested: dict[str, Any] = {"class": "ReluPool", "pool": pool}
    for _ in range(50):
        nested = {"class": "ReluPool", "pool": nested}
    for bad in (nested, {"class": "ReluPool", "pool": {"class": "Relu"}}, {"class": "ReluPool"},
                {"class": "ReluPool", "pool": {**pool, "mode": "avg"}}):
        with pytest.raises(lw.ConfigError):
            layer_from_config(bad)
