"""Initial weights (book §6.2): a fixed standard deviation, Xavier and He.

An initializer is a callable ``init(shape, rng, dtype=np.float32) -> ndarray`` that draws
from the explicit generator ``rng`` (never the global ``np.random``); ``dtype`` is float16,
float32 or float64 (an integer dtype would truncate the weights to zero). The draws are made in
float64 and then cast, so one seed gives the same weights in every dtype.

Fan-in and fan-out follow this library's layouts: an Affine weight has shape
``(n_in, n_out)``; a convolution filter bank ``(FN, C, FH, FW)`` has fan-in ``C*FH*FW`` and
fan-out ``FN*FH*FW``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from layerwise.errors import ConfigError, short_repr
from layerwise.layers.base import Array, floating_dtype, real_number

__all__ = [
    "Initializer",
    "constant_std",
    "xavier",
    "he",
    "glorot_normal",
    "glorot_uniform",
    "get_initializer",
    "check_init_std",
    "fans",
]


class Initializer(Protocol):
    def __call__(self, shape: Sequence[int], rng: np.random.Generator, dtype: Any = ...) -> Array: ...


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` (see the module docstring)."""
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        raise ConfigError("fans: a weight needs at least one dimension, got shape ()")
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _check_rng(rng: Any, who: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{who}: rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng


def _normal(std: float, shape: Sequence[int], rng: np.random.Generator, dtype: Any, who: str) -> Array:
    gen = _check_rng(rng, who)
    return (std * gen.standard_normal(tuple(shape))).astype(floating_dtype(dtype, who))


def constant_std(std: float = 0.01) -> Initializer:
    """``std * N(0, 1)`` whatever the shape: the book's ``weight_init_std`` (0.01 by default).

    ``std`` must be positive and finite: with ``std = 0`` every weight is zero, every hidden
    unit computes the same thing and gets the same update, and the network never learns more
    than one feature per layer (book §6.2.1, "weights initialised to zero"). A
    :class:`~layerwise.errors.ConfigError` says so.
    """
    std = real_number(std, "constant_std", "std")
    if not 0.0 < std < math.inf:
        raise ConfigError(f"Invalid weight init std: {std} (must be positive and finite: zero "
                          "weights would all learn the same thing)")

    def init(shape: Sequence[int], rng: np.random.Generator, dtype: Any = np.float32) -> Array:
        return _normal(std, shape, rng, dtype, "constant_std")

    init.__name__ = init.__qualname__ = f"constant_std({std:g})"
    return init


def xavier(shape: Sequence[int], rng: np.random.Generator, dtype: Any = np.float32) -> Array:
    """Normal with ``std = sqrt(1 / fan_in)``: "Xavier" as the book uses it (for sigmoid/tanh).

    Glorot & Bengio (2010) average in the fan-out too; see :func:`glorot_normal` and
    :func:`glorot_uniform` for the paper's forms.
    """
    fan_in, _ = fans(shape)
    return _normal(math.sqrt(1.0 / fan_in), shape, rng, dtype, "xavier")


def he(shape: Sequence[int], rng: np.random.Generator, dtype: Any = np.float32) -> Array:
    """Normal with ``std = sqrt(2 / fan_in)`` (He et al. 2015), for ReLU networks."""
    fan_in, _ = fans(shape)
    return _normal(math.sqrt(2.0 / fan_in), shape, rng, dtype, "he")


def glorot_normal(shape: Sequence[int], rng: np.random.Generator, dtype: Any = np.float32) -> Array:
    """Normal with ``std = sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = fans(shape)
    return _normal(math.sqrt(2.0 / (fan_in + fan_out)), shape, rng, dtype, "glorot_normal")


def glorot_uniform(shape: Sequence[int], rng: np.random.Generator, dtype: Any = np.float32) -> Array:
    """Uniform on ``[-a, a]`` with ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = fans(shape)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    gen = _check_rng(rng, "glorot_uniform")
    return gen.uniform(-a, a, tuple(shape)).astype(floating_dtype(dtype, "glorot_uniform"))


_NAMED: dict[str, Initializer] = {
    "he": he,
    "relu": he,  # the book's MultiLayerNet spells He "relu"
    "xavier": xavier,
    "sigmoid": xavier,  # ... and Xavier "sigmoid"
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "std": constant_std(0.01),
}


def get_initializer(spec: str | float | Callable[..., Array]) -> Initializer:
    """The initializer for ``spec``, the book's ``weight_init_std``.

    ``"he"`` / ``"relu"``, ``"xavier"`` / ``"sigmoid"``, ``"glorot_normal"``,
    ``"glorot_uniform"``, ``"std"`` (0.01), a positive finite number (a fixed standard
    deviation), or an initializer callable (returned as is). Names are case-insensitive.
    An unknown name or a bad number raises :class:`~layerwise.errors.ConfigError`.
    """
    if isinstance(spec, str):
        try:
            return _NAMED[spec.lower()]
        except KeyError:
            raise ConfigError(
                f"Unknown weight initializer {short_repr(spec)}; expected a number or one of {sorted(_NAMED)}"
            ) from None
    if isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool):
        return constant_std(spec)
    if callable(spec):
        return spec
    raise TypeError(f"weight initializer must be a name, a number or a callable, got {spec!r}")


def check_init_std(spec: Any, who: str, callables: bool = True) -> str | float | Callable[..., Array]:
    """A network's ``weight_init_std`` argument, checked: an initializer name (returned as
    given), a positive finite number (returned as a float) or, if ``callables``, an
    initializer callable. Anything else raises :class:`~layerwise.errors.ConfigError` naming
    ``who`` and the argument."""
    if isinstance(spec, str):
        if spec.lower() in _NAMED:
            return spec
    elif isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, (bool, np.bool_)):
        std = real_number(spec, who, "weight_init_std")
        if 0.0 < std < math.inf:
            return std
    elif callables and callable(spec):
        return spec
    what = "a positive, finite number" + (", an initializer callable" if callables else "")
    if isinstance(spec, str):
        raise ConfigError(f"{who}: weight_init_std: Unknown weight initializer {short_repr(spec)}; "
                          f"expected {what} or one of {sorted(_NAMED)}")
    raise ConfigError(f"{who}: weight_init_std must be {what} or one of {sorted(_NAMED)}, "
                      f"got {short_repr(spec)}")
