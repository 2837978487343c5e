"""PyTorch parity and the bridge: for the same weights and input, every layer's forward output
and the gradients of its parameters and of its input equal PyTorch's, through the modules
``to_torch`` builds; ``from_torch`` brings a network back bit for bit.

(Pooling, Convolution and BatchNorm also have hand-written torch comparisons over chosen
geometries in test_pooling.py, test_conv.py and test_normalization.py; this file runs the
shared case table, tests/layer_cases.py via tests/export_cases.py, through the bridge.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _optional import require
from export_cases import LAYER_CASES, LOSS_CASES, random_stack

import layerwise as lw
from layerwise.errors import ConfigError
from layerwise.files.export import ExportError
from layerwise.layers.fused import ReluPool

torch = require("torch", "pip install 'layerwise[torch]'")
F = torch.nn.functional

TOL = {"rtol": 1e-10, "atol": 1e-12}  # float64 throughout: the two should agree to rounding


def torch_params(module: Any) -> dict[str, Any]:
    """Our parameter name -> (torch parameter, whether ours is its transpose) of one module."""
    if isinstance(module, torch.nn.Linear):
        return {"W": (module.weight, True), "b": (module.bias, False)}
    if isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
        names = ("W", "b") if isinstance(module, torch.nn.Conv2d) else ("gamma", "beta")
        return {names[0]: (module.weight, False), names[1]: (module.bias, False)}
    return {}


def the_module(seq: Any, name: str) -> Any:
    return dict(seq.named_children())[name]


def forward_and_backward(layer: Any, x: np.ndarray, seq: Any, dout_rng: np.random.Generator) -> None:
    """Compare ``layer`` with the torch modules ``seq``: output, dx, and every parameter's grad."""
    out = layer.forward(x)
    xt = torch.tensor(x, requires_grad=True)
    outt = seq(xt)
    np.testing.assert_allclose(out, outt.detach().numpy(), **TOL)
    dout = dout_rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    outt.backward(torch.tensor(dout))
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    params = torch_params(the_module(seq, layer.name))
    assert set(params) == set(layer.param_names)
    for name, (tparam, transposed) in params.items():
        grad = tparam.grad.numpy()
        np.testing.assert_allclose(layer.grads[name], grad.T if transposed else grad, **TOL)


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
@pytest.mark.parametrize("seed", range(3))
def test_every_layer_matches_pytorch_forward_and_gradients(name: str, seed: int, engine_or_book: str) -> None:
    rng = np.random.default_rng(seed)
    case = LAYER_CASES[name](rng)
    layer, x = case.layer, np.asarray(case.x, dtype=np.float64)
    seq = lw.to_torch(layer, input_shape=x.shape[1:])
    if isinstance(layer, lw.Dropout) and layer.training:
        # Dropout with a given mask: torch draws one, we impose it, both scale by 1 / (1 - p)
        torch.manual_seed(seed)
        x = np.where(x == 0, 1.0, x)  # a zero output then means a dropped unit
        xt = torch.tensor(x, requires_grad=True)
        outt = seq(xt)
        layer.fix_mask(outt.detach().numpy() != 0)
        out = layer.forward(x)
        np.testing.assert_allclose(out, outt.detach().numpy(), **TOL)
        dout = rng.standard_normal(x.shape)
        outt.backward(torch.tensor(dout))
        np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), **TOL)
        return
    forward_and_backward(layer, x, seq, rng)
    if isinstance(layer, lw.BatchNormalization) and layer.training:
        bn = the_module(seq, layer.name)
        np.testing.assert_allclose(layer.running_mean, bn.running_mean.numpy(), **TOL)
        # (running_var: torch uses the unbiased batch variance; see the next test)


def test_batchnorm_running_variance_differs_from_torch_only_by_the_unbiased_factor() -> None:
    rng = np.random.default_rng(0)
    layer = lw.BatchNormalization(np.ones(3), np.zeros(3), running_var=np.full(3, 2.0))
    x = rng.standard_normal((5, 3, 2, 2))
    bn = the_module(lw.to_torch(layer, input_shape=(3, 2, 2)), "BatchNormalization")
    assert isinstance(bn, torch.nn.BatchNorm2d) and bn.momentum == pytest.approx(0.1) and bn.eps == 1e-6
    layer.forward(x)
    bn(torch.tensor(x))
    m = 5 * 2 * 2
    batch_var = x.transpose(1, 0, 2, 3).reshape(3, -1).var(axis=1)
    np.testing.assert_allclose(layer.running_var, 0.9 * 2.0 + 0.1 * batch_var, **TOL)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 * 2.0 + 0.1 * batch_var * m / (m - 1), **TOL)


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
@pytest.mark.parametrize("seed", range(3))
def test_loss_layers_match_pytorch_losses(name: str, seed: int, engine_or_book: str) -> None:
    case = LOSS_CASES[name](np.random.default_rng(seed))
    layer, x, t, dout = case.layer, case.x, case.t, case.dout
    loss = layer.forward(x, t)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    if isinstance(layer, lw.SoftmaxWithLoss):
        # labels as class indices, one-hot rows as class probabilities: the same mean over N
        target = torch.tensor(t) if np.ndim(t) == 1 else torch.tensor(np.asarray(t, dtype=np.float64))
        losst = torch.nn.CrossEntropyLoss()(xt, target)
    else:
        # ours is 0.5 * sum((y - t)**2) / N: MSELoss's mean times C / 2, not MSELoss itself
        losst = 0.5 * torch.nn.MSELoss(reduction="sum")(xt, torch.tensor(t)) / x.shape[0]
        mean = torch.nn.MSELoss()(xt, torch.tensor(t)).item()
        assert loss == pytest.approx(mean * x[0].size / 2, rel=1e-12)
    (losst * dout).backward()
    assert loss == pytest.approx(losst.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)


# -- networks -------------------------------------------------------------------------------------

IMAGES = np.random.default_rng(5).uniform(0, 1, (6, 1, 28, 28))


@pytest.mark.parametrize("make", [
    lambda: lw.TwoLayerNet(784, 30, 10, rng=0, dtype=np.float64),
    lambda: lw.MultiLayerNetExtend(784, [20, 20], 10, use_batchnorm=True, rng=0, dtype=np.float64),
    lambda: lw.SimpleConvNet(rng=0, dtype=np.float64).fuse(),
    lambda: lw.DeepConvNet(rng=0, dtype=np.float64, dropout_ratio=0.0),
], ids=["TwoLayerNet", "MultiLayerNetExtend-batchnorm", "SimpleConvNet-fused", "DeepConvNet"])
def test_networks_match_pytorch_in_training_mode_loss_and_every_gradient(make: Any) -> None:
    net = make()
    x, t = IMAGES, np.arange(6) % 10
    seq = lw.to_torch(net.train())
    grads = net.gradient(x, t)
    xt = torch.tensor(x)
    loss = torch.nn.CrossEntropyLoss()(seq(xt), torch.tensor(t))
    loss.backward()
    assert net.last_loss == pytest.approx(loss.item(), rel=1e-10)
    tparams = {}
    for key, (layer, pname) in net._index.items():
        owner = next(n for n, lay in net.layers.items() if lay is layer)
        tparams[key] = torch_params(the_module(seq, owner))[pname]
    assert set(tparams) == set(grads)
    for key, (tparam, transposed) in tparams.items():
        g = tparam.grad.numpy()
        np.testing.assert_allclose(grads[key], g.T if transposed else g, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_random_stacks_match_pytorch_in_inference_mode(seed: int) -> None:
    net, x = random_stack(np.random.default_rng(2000 + seed), dtype=np.float64)
    seq = lw.to_torch(net, input_shape=x.shape[1:])
    assert not any(m.training for m in seq.modules() if m is not seq)
    np.testing.assert_allclose(seq(torch.tensor(x)).detach().numpy(), net.predict(x), **TOL)


def train_a_little(net: lw.Sequential, x: np.ndarray, t: np.ndarray) -> lw.Sequential:
    optimizer = lw.Adam(lr=0.01)
    net.train()
    for _ in range(3):
        optimizer.update(net.params, net.gradient(x, t))
    return net


@pytest.mark.parametrize("make", [
    lambda: lw.TwoLayerNet(784, 30, 10, rng=0),
    lambda: lw.MultiLayerNetExtend(784, [20, 20], 10, use_batchnorm=True, use_dropout=True, rng=0),
    lambda: lw.SimpleConvNet(rng=0).fuse(),
], ids=["TwoLayerNet", "MultiLayerNetExtend", "SimpleConvNet-fused"])
def test_a_trained_model_round_trips_exactly(make: Any) -> None:
    images = IMAGES.astype(np.float32)
    net = train_a_little(make(), images, np.arange(6) % 10).eval()
    seq = lw.to_torch(net)
    assert {p.dtype for p in seq.parameters()} == {torch.float32}
    back = lw.from_torch(seq, like=net)
    assert type(back) is type(net) and back is not net
    assert list(back.layers) == list(net.layers)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)  # bit for bit
        assert back.state_dict()[key].dtype == value.dtype
    np.testing.assert_array_equal(back.predict(images), net.predict(images))
    plain = lw.from_torch(seq)  # without like: a Sequential with the same layers and keys
    assert type(plain) is lw.Sequential and list(plain.layers) == list(net.layers)
    assert [layer.get_config() for layer in plain.layers.values()] == \
           [layer.get_config() for layer in net.layers.values()]
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(plain.state_dict()[key], value)


def test_continue_in_pytorch_and_come_back() -> None:
    net = lw.TwoLayerNet(784, 20, 10, rng=0)
    seq = lw.to_torch(net)
    optimizer = torch.optim.SGD(seq.parameters(), lr=0.1)
    x, t = torch.tensor(IMAGES.astype(np.float32)), torch.tensor(np.arange(6) % 10)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.CrossEntropyLoss()(seq(x), t).backward()
        optimizer.step()
    back = lw.from_torch(seq, like=net)
    np.testing.assert_array_equal(back.params["W1"], seq.Affine1.weight.detach().numpy().T)
    np.testing.assert_allclose(back.predict(IMAGES.astype(np.float32)), seq(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert not np.array_equal(back.params["W1"], net.params["W1"])  # net itself is untouched


def test_to_torch_copies_the_weights_and_keeps_the_modes() -> None:
    net = lw.MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, use_dropout=True, rng=0)
    before = net.state_dict()
    seq = lw.to_torch(net.eval())
    assert not any(m.training for m in seq.modules())
    with torch.no_grad():
        seq.Affine1.weight += 1.0
        seq.BatchNorm1.running_mean += 1.0
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    assert isinstance(seq.BatchNorm1, torch.nn.BatchNorm1d) and isinstance(seq.Dropout1, torch.nn.Dropout)
    assert lw.to_torch(net.train()).Dropout1.training


# -- what cannot cross ----------------------------------------------------------------------------

def test_layers_without_a_pytorch_counterpart_are_named() -> None:
    with pytest.raises(ExportError, match=r"layer MulLayer \(MulLayer\) cannot be exported"):
        lw.to_torch(lw.MulLayer())
    with pytest.raises(ExportError, match=r"torch module 1 \(Tanh\) cannot be read") as info:
        lw.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()))
    assert "\n" not in str(info.value)
    with pytest.raises(ExportError, match="count_include_pad=True"):
        lw.from_torch(torch.nn.Sequential(torch.nn.AvgPool2d(3, padding=1, count_include_pad=False)))
    with pytest.raises(ExportError, match="Flatten must come right before a Linear"):
        lw.from_torch(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.ReLU()))


def test_from_torch_with_like_refuses_another_architecture() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    other = lw.to_torch(lw.TwoLayerNet(4, 5, 2, rng=0))
    with pytest.raises(ConfigError, match="does not fit TwoLayerNet: layer Affine1"):
        lw.from_torch(other, like=net)
    with pytest.raises(ConfigError, match="float32 in TwoLayerNet, float64 in the module"):
        lw.from_torch(lw.to_torch(lw.TwoLayerNet(4, 3, 2, rng=0, dtype=np.float64)), like=net)


def test_numbered_modules_get_default_names_and_the_given_loss() -> None:
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    net = lw.from_torch(seq, loss=lw.IdentityWithLoss())
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.last_layer, lw.IdentityWithLoss)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(net.predict(x), seq(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    fused = lw.from_torch(torch.nn.Sequential(torch.nn.Sequential(torch.nn.MaxPool2d(2), torch.nn.ReLU())))
    assert isinstance(next(iter(fused.layers.values())), ReluPool)


def test_without_torch_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'layerwise\[torch\]'"):
        lw.to_torch(lw.TwoLayerNet(4, 3, 2, rng=0))
