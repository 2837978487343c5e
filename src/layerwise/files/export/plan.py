"""What an exporter needs to know about a network before it writes anything.

:func:`plan` walks a :class:`~layerwise.networks.Sequential` (or one layer) as
:meth:`~layerwise.networks.Sequential.predict` would run it and returns one :class:`Step` per
layer: its name, the layer, and the shape of one sample going in and coming out. The shapes
are computed with the layers' own rules (``conv_output_size``), not by running the network, so
the network and its caches are left untouched. The ONNX exporter and the PyTorch bridge both
start here, so both refuse the same layers with the same message.

Only the library's layers of exactly these classes are known: a subclass may do anything in
``forward``, so ``class MyRelu(Relu)`` is refused by name rather than exported as a ReLU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerwise.conv_utils import conv_output_size
from layerwise.errors import ConfigError, LayerwiseError, ShapeError
from layerwise.layers import (
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    IdentityWithLoss,
    Layer,
    LossLayer,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from layerwise.layers.fused import ReluPool
from layerwise.networks.sequential import Sequential

__all__ = ["ExportError", "Step", "Shape", "plan", "network_dtype", "loss_of", "SUPPORTED_LAYERS",
           "missing_extra"]

Shape = tuple[int, ...]  # the shape of one sample, without the batch axis


class ExportError(LayerwiseError, ValueError):
    """A network holds something an exporter cannot translate: a layer of an unknown class,
    a network whose ``predict`` is its own, a loss other than the library's. The message
    names the layer (its name in the network and its class)."""


@dataclass(frozen=True)
class Step:
    """One layer of a network on the way through an exporter.

    ``in_shape`` and ``out_shape`` are the shapes of one sample (no batch axis): ``(784,)``
    for flat input, ``(C, H, W)`` for images.
    """

    name: str
    layer: Layer
    in_shape: Shape
    out_shape: Shape


def missing_extra(package: str, extra: str, what: str) -> ConfigError:
    """The error for an optional package that is not installed, naming the extra to install."""
    return ConfigError(f"{what} needs the Python package {package}: pip install 'layerwise[{extra}]'")


def _window_out(name: str, shape: Shape, kernel: tuple[int, int], stride: tuple[int, int],
                pad: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{name}: expects images (C, H, W) per sample, gets shape {shape}")
    try:
        return (conv_output_size(shape[1], kernel[0], stride[0], pad[0]),
                conv_output_size(shape[2], kernel[1], stride[1], pad[1]))
    except ShapeError as exc:
        raise ShapeError(f"{name}: input {shape}: {exc}") from None


def _affine(name: str, layer: Any, shape: Shape) -> Shape:
    n_in, n_out = layer.W.shape
    if math.prod(shape) != n_in:
        raise ShapeError(f"{name}: expects {n_in} features per sample, gets shape {shape}")
    return (int(n_out),)


def _same(name: str, layer: Any, shape: Shape) -> Shape:
    return shape


def _convolution(name: str, layer: Any, shape: Shape) -> Shape:
    fn, c, fh, fw = layer.W.shape
    if len(shape) != 3 or shape[0] != c:
        raise ShapeError(f"{name}: expects images ({c}, H, W) per sample, gets shape {shape}")
    oh, ow = _window_out(name, shape, (fh, fw), layer.stride, layer.pad)
    return (int(fn), oh, ow)


def _pooling(name: str, layer: Any, shape: Shape) -> Shape:
    pool = layer.pool if isinstance(layer, ReluPool) else layer
    oh, ow = _window_out(name, shape, (pool.pool_h, pool.pool_w), pool.stride, pool.pad)
    return (shape[0], oh, ow)


def _batchnorm(name: str, layer: Any, shape: Shape) -> Shape:
    dim = layer.gamma.shape[0]
    if len(shape) not in (1, 3) or shape[0] != dim:
        raise ShapeError(f"{name}: expects ({dim},) or ({dim}, H, W) per sample, gets shape {shape}")
    return shape


#: The layers an exporter translates, by exact class, with the rule for their output shape.
SUPPORTED_LAYERS: dict[type[Layer], Callable[[str, Any, Shape], Shape]] = {
    Affine: _affine,
    Relu: _same,
    Sigmoid: _same,
    Convolution: _convolution,
    Pooling: _pooling,
    ReluPool: _pooling,
    BatchNormalization: _batchnorm,
    Dropout: _same,
}


def _check_layer(name: str, layer: Any) -> None:
    if type(layer) not in SUPPORTED_LAYERS:
        known = ", ".join(cls.__name__ for cls in SUPPORTED_LAYERS)
        raise ExportError(f"layer {name} ({type(layer).__name__}) cannot be exported; "
                          f"the layers that can: {known}")
    if type(layer) is ReluPool and (type(layer.pool) is not Pooling or type(layer.relu) is not Relu):
        raise ExportError(f"layer {name} (ReluPool) holds {type(layer.pool).__name__} and "
                          f"{type(layer.relu).__name__}; only a Pooling and a Relu can be exported")


def _layers_of(model: Sequential | Layer) -> list[tuple[str, Layer]]:
    if isinstance(model, Sequential):
        if type(model).predict is not Sequential.predict:
            raise ExportError(f"{type(model).__name__} has its own predict(); only networks that run "
                              "their layers in order can be exported")
        return list(model.layers.items())
    if isinstance(model, LossLayer):
        raise ExportError(f"{type(model).__name__} is a loss layer; export the network that ends in it")
    if isinstance(model, Layer):
        return [(type(model).__name__, model)]
    raise TypeError(f"expected a Sequential network or a Layer, got {type(model).__name__}")


def _first_shape(model: Sequential | Layer, first: tuple[str, Layer]) -> Shape:
    """The input shape a network implies: its first layer's input, or the images it was built for."""
    name, layer = first
    if type(layer) is Affine:
        return (int(layer.W.shape[0]),)
    if type(layer) is BatchNormalization:
        return (int(layer.gamma.shape[0]),)
    input_dim = getattr(model, "input_dim", None)  # SimpleConvNet, DeepConvNet
    if isinstance(input_dim, tuple) and len(input_dim) == 3:
        return tuple(int(v) for v in input_dim)
    raise ConfigError(f"the input shape of {name} ({type(layer).__name__}) cannot be told from the "
                      "network; give input_shape, e.g. (1, 28, 28)")


def _check_shape(input_shape: Any) -> Shape:
    dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if dims is None or not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                               and v >= 1 for v in dims):
        raise ConfigError(f"input_shape must be the positive sizes of one sample, e.g. (784,) or "
                          f"(1, 28, 28) (or () for scalars), got {input_shape!r}")
    return tuple(int(v) for v in dims)


def plan(model: Sequential | Layer, input_shape: Any = None) -> list[Step]:
    """The steps of ``model``'s ``predict``, with every layer checked to be exportable.

    Parameters
    ----------
    model : Sequential or Layer
        A network of the library's layers, or one such layer.
    input_shape : sequence of int, optional
        The shape of one input sample; by default the first layer's input (``(n_in,)`` for an
        Affine, the ``input_dim`` of a conv net).

    Raises :class:`ExportError` naming the first layer that cannot be exported, and
    :class:`~layerwise.errors.ShapeError` naming the first layer the shapes do not fit.
    """
    layers = _layers_of(model)
    for name, layer in layers:
        _check_layer(name, layer)
    shape = _first_shape(model, layers[0]) if input_shape is None else _check_shape(input_shape)
    steps = []
    for name, layer in layers:
        out = SUPPORTED_LAYERS[type(layer)](name, layer, shape)
        steps.append(Step(name, layer, shape, out))
        shape = out
    network_dtype(steps)  # checks that the layers agree
    return steps


def network_dtype(steps: list[Step]) -> np.dtype[Any]:
    """The one floating dtype of the steps' parameters (float32 when none has any)."""
    dtypes: dict[np.dtype[Any], str] = {}
    for step in steps:
        if step.layer.dtype is not None:
            dtypes.setdefault(step.layer.dtype, step.name)
    if len(dtypes) > 1:
        found = ", ".join(f"{name} is {dt}" for dt, name in dtypes.items())
        raise ConfigError(f"the layers have different dtypes ({found}); cast the network with astype() first")
    return next(iter(dtypes), np.dtype(np.float32))


def loss_of(model: Sequential | Layer) -> str | None:
    """``"softmax"`` or ``"identity"`` for a network ending in SoftmaxWithLoss or
    IdentityWithLoss, None for a lone layer; :class:`ExportError` for any other loss layer."""
    if not isinstance(model, Sequential):
        return None
    loss = model.last_layer
    if type(loss) is SoftmaxWithLoss:
        return "softmax"
    if type(loss) is IdentityWithLoss:
        return "identity"
    raise ExportError(f"loss layer {type(loss).__name__} cannot be exported; "
                      "the loss layers that can: SoftmaxWithLoss, IdentityWithLoss")
