"""Architectures as JSON-able configs: the registry of network classes, checking a
:meth:`~layerwise.networks.sequential.Sequential.get_config` output, building a plain
Sequential's layers from it, and the shapes of its weights computed without building it.
Rebuilding any network from its config: ``network_from_config`` in
:mod:`layerwise.networks.sequential`."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from layerwise.errors import ConfigError, LayerwiseError, short_repr
from layerwise.layers.base import (
    Layer,
    LossLayer,
    check_config,
    floating_dtype,
    layer_class,
    layer_from_config,
)

__all__ = ["NETWORK_TYPES", "Shapes", "StateDictError", "network_class",
           "mismatch_problems", "sequential_config", "sequential_config_shapes", "check_one_input",
           "book_keys", "named_layers", "load_weights", "sequential_from_config"]

#: Every network class by name, so a saved architecture can be rebuilt (classes whose name
#: starts with ``_``, shared bases, are not listed). Filled by ``Sequential.__init_subclass__``.
#: The classes are Sequential and its subclasses; this module, which Sequential uses, does not
#: import it back to say so (``network_from_config`` in :mod:`~layerwise.networks.sequential`
#: gives them their type).
NETWORK_TYPES: dict[str, type[Any]] = {}

Shapes = dict[str, tuple[int, ...]]
_L = TypeVar("_L", bound="Layer | _LayerSpec")


class StateDictError(LayerwiseError, ValueError):
    """Weights that do not fit a network: names every missing, unexpected or mis-shaped entry."""


def network_class(config: Any) -> tuple[type[Any], np.dtype[Any]]:
    """The class a :meth:`Sequential.get_config` output names, and its dtype (float32 when
    the config gives none), checked."""
    if not isinstance(config, dict):
        raise ConfigError(f"architecture must be a JSON object, got {short_repr(config)}")
    name = config.get("class")
    cls = NETWORK_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"unknown network class {short_repr(name)}; known: {sorted(NETWORK_TYPES)}")
    return cls, floating_dtype(config.get("dtype", "float32"), cls.__name__)


def mismatch_problems(missing: Sequence[str], unexpected: Sequence[str],
                      wrong: Sequence[str]) -> list[str]:
    """The parts of a message about weights that do not fit, one per kind of problem, to be
    joined with " | "."""
    problems = []
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected: {', '.join(unexpected)}")
    if wrong:
        problems.append("wrong shape: " + "; ".join(wrong))
    return problems


class _LayerSpec:
    """A layer of a config before it is built: its class (for the names of its parameters and
    buffers) and their shapes."""

    def __init__(self, cls: type[Layer], shapes: Shapes) -> None:
        self.param_names, self.buffer_names, self.shapes = cls.param_names, cls.buffer_names, shapes


def sequential_config(config: dict[str, Any]) -> dict[str, Any]:
    """A :class:`Sequential` config's entries, checked to be of the right kinds."""
    args = check_config(config, "Sequential", ["layers", "loss"], ["dtype", "names", "weight_decay_lambda"])
    if not isinstance(args["layers"], list) or not args["layers"]:
        raise ConfigError(f"Sequential: layers must be a non-empty list of layer configs, "
                          f"got {short_repr(args['layers'])}")
    names = args.get("names")
    if names is not None and (not isinstance(names, list) or len(names) != len(args["layers"])):
        raise ConfigError(f"Sequential: names must be a list of {len(args['layers'])} strings, "
                          f"got {short_repr(names)}")
    return args


def sequential_config_shapes(config: dict[str, Any]) -> Shapes:
    """:func:`~layerwise.networks.sequential.config_shapes` for a plain Sequential config (a list
    of layer configs)."""
    args = sequential_config(config)
    specs = []
    for layer_config in args["layers"]:
        layer_cls, layer_args = layer_class(layer_config)
        check_one_input(layer_cls)
        specs.append(_LayerSpec(layer_cls, layer_cls._config_shapes(**layer_args)))
    loss_cls, loss_args = layer_class(args["loss"])
    if not issubclass(loss_cls, LossLayer):
        raise ConfigError(f"Sequential: loss {loss_cls.__name__} is not a loss layer")
    loss_cls._config_shapes(**loss_args)  # checks its arguments
    shapes: Shapes = {}
    for kind in ("param", "buffer"):
        for key, (spec, name) in book_keys(specs, kind).items():
            shapes[key] = spec.shapes[name]
    return shapes


def check_one_input(layer: Layer | type[Layer]) -> None:
    """Refuse a layer whose ``forward`` does not take one input (``MulLayer``, a loss layer):
    a Sequential hands each layer the previous one's output alone."""
    forward = inspect.signature(layer.forward)
    try:
        if isinstance(layer, type):
            forward.bind(None, None)  # self and x
        else:
            forward.bind(None)
    except TypeError:  # what bind() raises when the arguments do not fit the signature
        name = layer.__name__ if isinstance(layer, type) else layer.name
        raise ConfigError(f"Sequential: {name}.forward({', '.join(forward.parameters)}) does not take "
                          "one input; a layer of a Sequential takes the previous layer's output") from None


def book_keys(layers: Sequence[_L], kind: str) -> dict[str, tuple[_L, str]]:
    """Book-style keys for the layers' ``kind`` ("param" or "buffer") arrays: ``W1, b1`` for
    the first weight layer, ``gamma1, beta1, running_mean1...`` for a normalisation layer after
    it, ``W2, b2`` for the next weight layer, and so on."""
    index: dict[str, tuple[_L, str]] = {}
    k = 0
    for layer in layers:
        if "W" in layer.param_names:
            k += 1
        for name in getattr(layer, f"{kind}_names"):
            key = f"{name}{max(k, 1)}"
            if key in index:
                raise ConfigError(
                    f"two layers would both expose {kind} {key!r}; give this network "
                    f"explicit keys with param_keys=..."
                )
            index[key] = (layer, name)
    return index


def named_layers(layers: Iterable[Layer], loss_layer: LossLayer,
                 names: Sequence[str] | None) -> dict[str, Layer]:
    """A :class:`Sequential`'s layers by name, checked: Layer objects each taking one input,
    a LossLayer at the end, and unique names (by default ``Affine1``, ``Relu1``, ``Affine2``...:
    the class name and its count so far)."""
    layer_list = list(layers)
    if not layer_list:
        raise ConfigError("Sequential needs at least one layer")
    for layer in [*layer_list, loss_layer]:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes Layer objects, got {type(layer).__name__}")
    if not isinstance(loss_layer, LossLayer):
        raise TypeError(
            f"loss_layer must be a LossLayer such as SoftmaxWithLoss, got {type(loss_layer).__name__}"
        )
    for layer in layer_list:
        check_one_input(layer)
    if names is None:
        counts: dict[str, int] = {}
        names = []
        for layer in layer_list:
            counts[layer.name] = counts.get(layer.name, 0) + 1
            names.append(f"{layer.name}{counts[layer.name]}")
    names = list(names)
    if (len(names) != len(layer_list) or not all(isinstance(n, str) for n in names)
            or len(set(names)) != len(names)):
        raise ConfigError(f"Sequential: names must be unique strings, one per layer ({len(layer_list)}), "
                          f"got {short_repr(names)}")
    return dict(zip(names, layer_list, strict=True))


def load_weights(targets: Mapping[str, tuple[Layer, str]], state: Mapping[str, Any], strict: bool,
                 who: str) -> None:
    """Copy ``state``'s arrays into ``targets`` (``key -> (layer, name)`` of a parameter or a
    buffer), each cast to the dtype it replaces. First raise a :class:`StateDictError` naming
    every mis-shaped entry (and, when ``strict``, every missing and unexpected one): then
    nothing is changed."""
    missing = [k for k in targets if k not in state]
    unexpected = [k for k in state if k not in targets]
    wrong = []
    for key, (layer, name) in targets.items():
        if key in state:
            have = np.shape(getattr(layer, name))
            got = np.shape(state[key])
            if have != got:
                wrong.append(f"{key}: expected shape {have}, got {got}")
    problems = mismatch_problems(missing, unexpected, wrong)
    if wrong or (strict and problems):
        raise StateDictError(f"{who}: weights do not fit: " + " | ".join(problems))
    for key, (layer, name) in targets.items():
        if key not in state:
            continue
        current = getattr(layer, name)
        value = np.array(state[key], dtype=current.dtype, copy=True)
        if name in layer.param_names:
            layer.set_param(name, value)
        else:
            layer.set_buffer(name, value)


def sequential_from_config(config: dict[str, Any]) -> Any:
    """The plain :class:`~layerwise.networks.Sequential` of a config listing its layers (see
    :func:`layerwise.networks.sequential.network_from_config`)."""
    args = sequential_config(config)
    layers = [layer_from_config(c) for c in args["layers"]]
    loss = layer_from_config(args["loss"])
    if not isinstance(loss, LossLayer):
        raise ConfigError(f"Sequential: loss {type(loss).__name__} is not a loss layer")
    return NETWORK_TYPES["Sequential"](layers, loss, names=args.get("names"),
                                       weight_decay_lambda=args.get("weight_decay_lambda", 0.0))
