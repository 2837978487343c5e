"""A network as a ``torch.nn.Sequential`` with the same weights, and back.

:func:`to_torch` turns a network of the library's layers (every ready-made network, any
:class:`~layerwise.networks.Sequential` of them, or one layer) into plain PyTorch modules
that compute the same function, in the same mode (train or eval) and dtype::

    Affine              nn.Flatten (first layer, or input with more than two axes), then
                        nn.Linear with weight = W.T (ours is (n_in, n_out), torch's (out, in))
    Relu, Sigmoid       nn.ReLU, nn.Sigmoid
    Convolution         nn.Conv2d(stride, padding), zero padding
    Pooling             nn.MaxPool2d / nn.AvgPool2d(count_include_pad=True), ceil_mode=False
    ReluPool            nn.Sequential(nn.MaxPool2d, nn.ReLU), under the fused layer's name
    BatchNormalization  nn.BatchNorm1d on (N, D), nn.BatchNorm2d on (N, C, H, W), with our
                        eps, running statistics, and momentum 1 - ours (torch counts the
                        other way); in training mode torch updates running_var with the
                        unbiased batch variance, we with the biased one (outputs and
                        gradients agree)
    Dropout             nn.Dropout(p=ratio): both are inverted dropout

Modules are named as the layers (``Affine1``, ``Conv1``...). The loss layer is not a module:
in PyTorch it is a separate function, ``nn.CrossEntropyLoss()`` for SoftmaxWithLoss (labels
or one-hot targets, mean over the batch) and ``0.5 * nn.MSELoss(reduction="sum")(y, t) / N``
for IdentityWithLoss.

:func:`from_torch` reads such modules back into a Sequential (or, given ``like=net``, into a
copy of ``net``, of its class); the weights round-trip exactly, bit for bit.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from layerwise.errors import ConfigError
from layerwise.files.export.plan import ExportError, Step, missing_extra, plan
from layerwise.layers import (
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Layer,
    LossLayer,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from layerwise.layers.base import Array
from layerwise.layers.fused import ReluPool
from layerwise.networks.sequential import Sequential

if TYPE_CHECKING:
    import torch

__all__ = ["to_torch", "from_torch", "require_torch"]


def require_torch() -> Any:
    """The ``torch`` module, or a :class:`ConfigError` naming the extra that installs it."""
    try:
        import torch
    except ImportError:
        raise missing_extra("torch", "torch", "The PyTorch bridge") from None
    return torch


def _tensor(torch: Any, value: Array, transpose: bool = False) -> Any:
    # np.array copies: the module never shares memory with the network's arrays
    array = np.array(value.T if transpose else value, copy=True, order="C")
    return torch.nn.Parameter(torch.from_numpy(array))


def _dtype(torch: Any, array: Array) -> Any:
    """The torch dtype of a NumPy array's dtype."""
    return torch.from_numpy(np.empty(0, array.dtype)).dtype


def _pool_module(nn: Any, pool: Pooling) -> Any:
    args = {"kernel_size": (pool.pool_h, pool.pool_w), "stride": pool.stride, "padding": pool.pad,
            "ceil_mode": False}
    if pool.mode == "max":
        return nn.MaxPool2d(**args)
    return nn.AvgPool2d(count_include_pad=True, **args)


def _modules(torch: Any, step: Step, first: bool) -> list[tuple[str, Any]]:
    """The modules of one layer, ``(name, module)`` in order."""
    nn = torch.nn
    layer: Any = step.layer
    name, kind = step.name, type(layer)
    out: list[tuple[str, Any]] = []
    if kind is Affine:
        if first or len(step.in_shape) > 1:  # our Affine flattens images itself; Linear does not
            out.append((f"{name}_flatten", nn.Flatten()))
        linear = nn.Linear(*layer.W.shape, dtype=_dtype(torch, layer.W))
        linear.weight, linear.bias = _tensor(torch, layer.W, transpose=True), _tensor(torch, layer.b)
        out.append((name, linear))
    elif kind is Relu:
        out.append((name, nn.ReLU()))
    elif kind is Sigmoid:
        out.append((name, nn.Sigmoid()))
    elif kind is Convolution:
        fn, c, fh, fw = layer.W.shape
        conv = nn.Conv2d(c, fn, (fh, fw), stride=layer.stride, padding=layer.pad,
                         dtype=_dtype(torch, layer.W))
        conv.weight, conv.bias = _tensor(torch, layer.W), _tensor(torch, layer.b)
        out.append((name, conv))
    elif kind is Pooling:
        out.append((name, _pool_module(nn, layer)))
    elif kind is ReluPool:
        out.append((name, nn.Sequential(_pool_module(nn, layer.pool), nn.ReLU())))
    elif kind is BatchNormalization:
        make = nn.BatchNorm2d if len(step.in_shape) == 3 else nn.BatchNorm1d
        bn = make(layer.gamma.shape[0], eps=layer.eps, momentum=1.0 - layer.momentum,
                  dtype=_dtype(torch, layer.gamma))
        bn.weight, bn.bias = _tensor(torch, layer.gamma), _tensor(torch, layer.beta)
        bn.running_mean.copy_(torch.from_numpy(np.array(layer.running_mean)))
        bn.running_var.copy_(torch.from_numpy(np.array(layer.running_var)))
        out.append((name, bn))
    else:  # Dropout
        out.append((name, nn.Dropout(p=layer.ratio)))
    for _, module in out:
        module.train(layer.training)
    return out


def to_torch(model: Sequential | Layer, input_shape: Any = None) -> torch.nn.Sequential:
    """``model``'s ``predict`` as a ``torch.nn.Sequential`` with copies of its weights.

    Parameters
    ----------
    model : Sequential or Layer
        A network of the library's layers, or one layer.
    input_shape : sequence of int, optional
        The shape of one input sample, as for :func:`layerwise.files.export.to_onnx`; it decides
        between BatchNorm1d and BatchNorm2d for a lone BatchNormalization layer.

    The modules take the mode of the layers (``net.train()`` / ``net.eval()``). Raises
    :class:`~layerwise.files.export.ExportError` naming a layer that has no PyTorch counterpart
    (``MulLayer``, a layer class of your own) and :class:`~layerwise.errors.ConfigError` when
    torch is not installed (``pip install 'layerwise[torch]'``).
    """
    torch = require_torch()
    steps = plan(model, input_shape)
    modules: list[tuple[str, Any]] = []
    for k, step in enumerate(steps):
        modules.extend(_modules(torch, step, first=k == 0))
    named = OrderedDict(modules)
    if len(named) != len(modules):
        clash = next(n for k, (n, _) in enumerate(modules) if n in dict(modules[:k]))
        raise ConfigError(f"to_torch: two modules would both be named {clash!r}; rename the layer {clash}")
    seq = torch.nn.Sequential(named)
    # the container's own flag only (seq.train() would reset every module set above)
    seq.training = model.training
    return seq


# -- back from torch ------------------------------------------------------------------------------
def _numpy(tensor: Any) -> Array:
    array: Array = np.array(tensor.detach().cpu().numpy(), copy=True)
    return array


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _refuse(name: str, module: Any, why: str) -> ExportError:
    return ExportError(f"torch module {name} ({type(module).__name__}) cannot be read: {why}")


def _pool_layer(nn: Any, name: str, module: Any) -> Pooling:
    if isinstance(module, nn.MaxPool2d):
        if _pair(module.dilation) != (1, 1) or module.ceil_mode or module.return_indices:
            raise _refuse(name, module, "needs dilation 1, ceil_mode=False, return_indices=False")
        mode = "max"
    else:
        if not module.count_include_pad or module.ceil_mode or module.divisor_override is not None:
            raise _refuse(name, module, "needs count_include_pad=True, ceil_mode=False, no divisor_override")
        mode = "avg"
    kh, kw = _pair(module.kernel_size)
    stride = _pair(module.stride if module.stride is not None else module.kernel_size)
    return Pooling(kh, kw, stride=stride, pad=_pair(module.padding), mode=mode)  # type: ignore[arg-type]


def _layer(torch: Any, name: str, module: Any) -> Layer | None:
    """The layer of one module (None for a module that computes nothing: Flatten, Identity)."""
    nn = torch.nn
    kind = type(module)
    if kind is nn.Linear:
        b = _numpy(module.bias) if module.bias is not None else np.zeros(module.out_features,
                                                                          _numpy(module.weight).dtype)
        # C order, as a layerwise W is: a transposed view would change the product's rounding
        return Affine(np.ascontiguousarray(_numpy(module.weight).T), b)
    if kind is nn.ReLU:
        return Relu()
    if kind is nn.Sigmoid:
        return Sigmoid()
    if kind is nn.Conv2d:
        if (module.groups != 1 or _pair(module.dilation) != (1, 1) or module.padding_mode != "zeros"
                or isinstance(module.padding, str)):
            raise _refuse(name, module, "needs groups=1, dilation 1, numeric zero padding")
        W = _numpy(module.weight)
        b = _numpy(module.bias) if module.bias is not None else np.zeros(W.shape[0], W.dtype)
        return Convolution(W, b, stride=_pair(module.stride), pad=_pair(module.padding))
    if kind in (nn.MaxPool2d, nn.AvgPool2d):
        return _pool_layer(nn, name, module)
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d):
        if not module.affine or not module.track_running_stats or module.momentum is None:
            raise _refuse(name, module, "needs affine=True, track_running_stats=True and a momentum")
        return BatchNormalization(_numpy(module.weight), _numpy(module.bias), momentum=1.0 - module.momentum,
                                  eps=module.eps, running_mean=_numpy(module.running_mean),
                                  running_var=_numpy(module.running_var))
    if kind is nn.Dropout:
        return Dropout(module.p)
    if kind is nn.Identity:
        return None
    if kind is nn.Flatten:
        if module.start_dim != 1 or module.end_dim != -1:
            raise _refuse(name, module, "needs start_dim=1, end_dim=-1")
        return None
    if kind is nn.Sequential:
        parts = list(module.children())
        if [type(p) for p in parts] == [nn.MaxPool2d, nn.ReLU]:
            pool = _pool_layer(nn, name, parts[0])
            if pool.mode == "max":
                return ReluPool(pool, Relu())
        raise _refuse(name, module, "a nested Sequential must be (MaxPool2d, ReLU), as to_torch writes "
                                    "ReluPool")
    raise _refuse(name, module, "it has no layerwise layer; the modules that do: Linear, ReLU, Sigmoid, "
                                "Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Dropout, Flatten")


def from_torch(module: torch.nn.Module, loss: LossLayer | None = None,
               like: Sequential | None = None) -> Sequential:
    """The network of the modules ``module`` (an ``nn.Sequential`` or one module) holds.

    Parameters
    ----------
    module : torch.nn.Module
        Modules of the kinds :func:`to_torch` writes, in order.
    loss : LossLayer, optional
        The loss layer of the network built; SoftmaxWithLoss by default.
    like : Sequential, optional
        A network of the same architecture: the result is then a copy of it (of its class,
        with its loss, names and settings) holding the module's weights. Its layers must have
        the configs of the modules' layers and the same dtype.

    The weights are copied, each in the module's dtype; the layers take the modules' modes.
    Without ``like``, layers are named as the modules unless these are numbered ``0, 1, ...``.
    Raises :class:`~layerwise.files.export.ExportError` naming a module with no layerwise layer.
    """
    torch = require_torch()
    children = list(module.named_children()) if type(module) is torch.nn.Sequential else [("0", module)]
    layers: list[Layer] = []
    names: list[str] = []
    for k, (name, child) in enumerate(children):
        if type(child) is torch.nn.Flatten and (k + 1 >= len(children)
                                                 or type(children[k + 1][1]) is not torch.nn.Linear):
            raise _refuse(name, child, "a Flatten must come right before a Linear (Affine flattens "
                                       "its input)")
        layer = _layer(torch, name, child)
        if layer is not None:
            layer.train(child.training)
            layers.append(layer)
            names.append(name)
    if not layers:
        raise ExportError("the torch module holds no layer")
    if like is not None:
        return _fill(like, layers)
    named = None if any(n.isdigit() for n in names) else names
    return Sequential(layers, SoftmaxWithLoss() if loss is None else loss, names=named)


def _fill(like: Sequential, layers: list[Layer]) -> Sequential:
    """A copy of ``like`` holding the parameters and buffers of ``layers`` (same architecture)."""
    theirs = list(like.layers.items())
    mine = [layer.get_config() for layer in layers]
    wanted = [layer.get_config() for _, layer in theirs]
    if mine != wanted:
        diff = next((k for k, (a, b) in enumerate(zip(mine, wanted, strict=False)) if a != b), None)
        if diff is not None:
            where = f"layer {theirs[diff][0]} is {wanted[diff]}, the module's is {mine[diff]}"
        else:
            where = f"{len(wanted)} layers, the module has {len(mine)}"
        raise ConfigError(f"from_torch: the module does not fit {type(like).__name__}: {where}")
    for (name, target), layer in zip(theirs, layers, strict=True):
        if layer.dtype is not None and layer.dtype != target.dtype:
            raise ConfigError(f"from_torch: layer {name} is {target.dtype} in {type(like).__name__}, "
                              f"{layer.dtype} in the module; cast one of them first")
    net = like.copy()
    for target, layer in zip(net.layers.values(), layers, strict=True):
        for key in layer.param_names:
            target.set_param(key, getattr(layer, key))
        for key in layer.buffer_names:
            target.set_buffer(key, getattr(layer, key))
        target.train(layer.training)
    return net
