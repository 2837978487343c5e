"""The layer protocol: ``forward`` caches what ``backward`` needs (book §5.4).

A layer owns its parameters and their gradients as attributes named as in the book
(``W`` / ``dW``, ``b`` / ``db``, ``gamma`` / ``dgamma`` ...). ``params`` and ``grads`` return
dicts of those live arrays; :meth:`Layer.set_param` replaces one, checking shape and dtype.
State that is saved with a model but not trained (BatchNorm's running statistics) is listed in
``buffer_names`` and exposed the same way by ``buffers`` / :meth:`Layer.set_buffer`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from layerwise.errors import ConfigError, NonFiniteError, ShapeError, check_int, short_repr
from layerwise.functions import as_float_array

__all__ = [
    "require_finite",
    "Layer",
    "LossLayer",
    "Array",
    "LAYER_TYPES",
    "FLOAT_DTYPES",
    "layer_from_config",
    "layer_class",
    "floating_dtype",
    "real_number",
    "check_config",
    "config_pair",
    "parameter_array",
]

Array = NDArray[Any]

#: Every concrete Layer subclass by class name, so a saved architecture can be rebuilt.
#: Classes whose name starts with ``_`` (helpers, test doubles) are not listed.
LAYER_TYPES: dict[str, type[Layer]] = {}

#: The dtypes parameters may have: those NumPy computes with natively that safetensors stores.
#: (``longdouble`` is neither portable nor storable; integers would truncate every update.)
FLOAT_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.float16), np.dtype(np.float32),
                                           np.dtype(np.float64))
_FLOAT_NAMES = {str(dt): dt for dt in FLOAT_DTYPES}


# -- argument checks shared by the layers and networks -------------------------------------------
def floating_dtype(dtype: Any, who: str, arg: str = "dtype") -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype, checked to be one of :data:`FLOAT_DTYPES`.

    Takes a dtype, a scalar type (``np.float32``, ``float``) or one of the names
    ``"float16"``, ``"float32"``, ``"float64"`` (as :meth:`Sequential.get_config` writes them).
    Raises :class:`~layerwise.errors.ConfigError` naming ``who`` and ``arg`` otherwise: an
    integer dtype would make every weight 0 (``0.01 * N(0, 1)`` truncates).
    """
    dt: np.dtype[Any] | None = None
    if isinstance(dtype, str):
        dt = _FLOAT_NAMES.get(dtype)  # not np.dtype(text): it parses "f4,(" as Python source
    elif isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, (np.generic, float))):
        dt = np.dtype(dtype)
    if dt is None or dt not in FLOAT_DTYPES:  # (`None in FLOAT_DTYPES` holds: None means float64)
        raise ConfigError(f"{who}: {arg} must be float16, float32 or float64, got {short_repr(dtype)}")
    return dt


def real_number(value: Any, who: str, arg: str) -> float:
    """``value`` as a float, checked to be a real number (an int or a float; not a bool or a
    string). NaN and infinities pass, and an int too large for a float becomes an infinity:
    the caller checks the range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{who}: {arg} must be a number, got {short_repr(value)}")
    if isinstance(value, int) and abs(value) > 2**1023:
        return math.inf if value > 0 else -math.inf
    return float(value)


def config_pair(value: Any, who: str, arg: str, minimum: int) -> tuple[int, int]:
    """A ``[h, w]`` entry of a layer's config (two integers ``>= minimum``), checked."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{who}: {arg} must be a pair [h, w], got {short_repr(value)}")
    return check_int(value[0], who, arg, minimum), check_int(value[1], who, arg, minimum)


def parameter_array(value: ArrayLike, who: str, arg: str, dtype: np.dtype[Any] | None = None) -> Array:
    """A new array of ``value`` for parameter ``arg``: floating arrays keep their dtype (one of
    :data:`FLOAT_DTYPES`), integers and booleans become float32 (or ``dtype`` when given).
    Complex, string and object arrays are refused with a :class:`~layerwise.errors.ConfigError`."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ConfigError(f"{who}: {arg} must hold real numbers, got an array of dtype {arr.dtype}")
    arr = np.array(as_float_array(arr, dtype), copy=True)  # the layer owns its parameters
    if arr.dtype not in FLOAT_DTYPES:
        raise ConfigError(f"{who}: {arg} must be float16, float32 or float64, got dtype {arr.dtype}")
    return arr


def check_config(config: Any, who: str, required: Iterable[str] = (),
                 optional: Iterable[str] = ()) -> dict[str, Any]:
    """``config`` checked to be a dict holding the keys ``required`` and no keys but those and
    ``optional`` (and ``"class"``); a :class:`~layerwise.errors.ConfigError` names the others."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"{who}: the config must be a JSON object, got {short_repr(config)}")
    required = list(required)
    known = {"class", *required, *optional}
    missing = [k for k in required if k not in config]
    unknown = sorted(str(k) for k in config if k not in known)
    if missing or unknown:
        parts = [f"missing {missing}"] if missing else []
        parts += [f"unknown {short_repr(unknown)}"] if unknown else []
        raise ConfigError(f"{who}: config keys: {'; '.join(parts)} (it takes {sorted(known - {'class'})})")
    return dict(config)



def require_finite(label: str, arr: Array) -> None:
    """:class:`~layerwise.errors.NonFiniteError` (a ``ValueError``) naming ``label`` unless
    every entry of ``arr`` is finite: a weight that is NaN would silently poison every output."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise NonFiniteError(f"{label}: expected finite values, got {len(bad)} NaN or infinite "
                             f"entr{'y' if len(bad) == 1 else 'ies'} (the first at index {first}: "
                             f"{arr[first]})")

class Layer:
    """Base class of every layer.

    Subclasses implement ``forward(x)`` and ``backward(dout)``, and list their trainable
    parameters in ``param_names``; the gradient of parameter ``name`` lives in ``d<name>``.
    ``training`` is the train/eval mode switched by :meth:`train` / :meth:`eval` (only layers
    such as Dropout and BatchNormalization behave differently).
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LAYER_TYPES[cls.__name__] = cls

    def __init__(self) -> None:
        self.training = True

    # -- architecture (for model files) ---------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """A JSON-able description from which :func:`layer_from_config` rebuilds the layer
        (with placeholder parameters that a model file then fills in)."""
        return {"class": self.name, **self._config_args()}

    def _config_args(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_config(cls, **args: Any) -> Layer:
        """The layer of ``get_config()``'s arguments ``args``. This default passes them to the
        constructor, once they are checked to fit its signature."""
        try:
            inspect.signature(cls).bind(**args)
        except TypeError as exc:  # what bind() raises for a missing or an unknown argument
            raise ConfigError(f"{cls.__name__}: the config does not fit the constructor: {exc}") from None
        return cls(**args)

    @classmethod
    def _config_shapes(cls, **args: Any) -> dict[str, tuple[int, ...]]:
        """The shapes of the parameters and buffers :meth:`_from_config` would give the layer,
        by name, without allocating them (a model file is checked against them before a
        network is built). This default builds the layer, which is cheap without parameters;
        layers with parameters override it."""
        layer = cls._from_config(**args)
        return {n: tuple(np.shape(getattr(layer, n))) for n in (*cls.param_names, *cls.buffer_names)}

    # -- the protocol -------------------------------------------------------------------
    def forward(self, x: ArrayLike) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dout: ArrayLike) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward_params(self, dout: ArrayLike) -> None:
        """Compute the parameter gradients of ``backward`` when nobody needs ``dx``.

        Networks call this on their first layer; layers for which ``dx`` is costly (Affine,
        Convolution) override it to skip that product.
        """
        self.backward(dout)

    # -- parameters ---------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Array]:
        """The layer's parameters by name (the live arrays, not copies)."""
        return {name: getattr(self, name) for name in self.param_names}

    @property
    def grads(self) -> dict[str, Array]:
        """The gradients of the last ``backward`` by parameter name (live arrays)."""
        return {name: getattr(self, "d" + name) for name in self.param_names}

    def set_param(self, name: str, value: ArrayLike) -> None:
        """Replace parameter ``name`` with ``value`` (same shape; cast to the layer's dtype)."""
        if name not in self.param_names:
            raise KeyError(f"{self.name} has no parameter {name!r}; it has {list(self.param_names)}")
        current: Array = getattr(self, name)
        if value is current:  # `params[k] -= step` hands the updated array back: nothing to do
            return
        # A copy: the layer owns its parameters, so an optimizer updating them in place never
        # changes an array the caller still holds.
        arr = np.array(value, dtype=current.dtype, copy=True)
        if arr.shape != current.shape:
            raise ShapeError(
                f"{self.name}.{name}: expected shape {current.shape}, got {arr.shape}"
            )
        require_finite(f"{self.name}.{name}", arr)
        setattr(self, name, arr)

    @property
    def buffers(self) -> dict[str, Array]:
        """Non-trainable state by name (the live arrays), e.g. BatchNorm's running statistics."""
        return {name: getattr(self, name) for name in self.buffer_names}

    def set_buffer(self, name: str, value: ArrayLike) -> None:
        """Replace buffer ``name`` with ``value`` (same shape; cast to the buffer's dtype)."""
        if name not in self.buffer_names:
            raise KeyError(f"{self.name} has no buffer {name!r}; it has {list(self.buffer_names)}")
        current: Array = getattr(self, name)
        arr = np.array(value, dtype=current.dtype)
        if arr.shape != current.shape:
            raise ShapeError(f"{self.name}.{name}: expected shape {current.shape}, got {arr.shape}")
        require_finite(f"{self.name}.{name}", arr)
        setattr(self, name, arr)

    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The floating dtype of the parameters, or ``None`` for a layer without any."""
        if not self.param_names:
            return None
        dt: np.dtype[Any] = getattr(self, self.param_names[0]).dtype
        return dt

    def astype(self, dtype: Any) -> Layer:
        """Cast parameters, gradients and buffers to ``dtype`` (one of :data:`FLOAT_DTYPES`) in
        place of the old arrays; return self."""
        dtype = floating_dtype(dtype, f"{self.name}.astype")
        for name in self.param_names:
            setattr(self, name, getattr(self, name).astype(dtype))
            setattr(self, "d" + name, getattr(self, "d" + name).astype(dtype))
        for name in self.buffer_names:
            setattr(self, name, getattr(self, name).astype(dtype))
        return self

    # -- mode -----------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Layer:
        """Switch to training mode (``mode=False``: inference mode); return self."""
        self.training = mode
        return self

    def eval(self) -> Layer:
        """Switch to inference mode; return self."""
        return self.train(False)

    # -- randomness -------------------------------------------------------------------------
    def freeze_randomness(self) -> None:
        """Make later forward passes reuse the random choices of the last one (Dropout's mask).

        Gradient checks call this after a first forward pass so that every evaluation of the
        loss sees the same function. A no-op for deterministic layers.
        """

    def unfreeze_randomness(self) -> None:
        """Undo :meth:`freeze_randomness`: draw fresh random choices again. No-op by default."""

    # -- helpers for subclasses -------------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__

    def _input(self, x: ArrayLike) -> Array:
        """``x`` as a float array in the parameters' dtype (no promotion to float64)."""
        dt = self.dtype
        if dt is not None:
            return np.asarray(x, dtype=dt)
        return as_float_array(x)

    def _require(self, cache: Any) -> None:
        if cache is None:
            raise RuntimeError(f"{self.name}.backward() called before {self.name}.forward()")

    def _dout(self, dout: ArrayLike, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """Check that ``dout`` has the forward output's shape and cast it to its dtype."""
        d = np.asarray(dout)
        if d.shape != shape:
            raise ShapeError(
                f"{self.name}.backward: expected dout of shape {shape} (the forward output), "
                f"got {d.shape}"
            )
        return d.astype(dtype, copy=False)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={getattr(self, n).shape}" for n in self.param_names)
        return f"{self.name}({shapes})"


def layer_class(config: Any) -> tuple[type[Layer], dict[str, Any]]:
    """The layer class a :meth:`Layer.get_config` output names, and its other entries.

    Raises :class:`~layerwise.errors.ConfigError` for a config that is not a JSON object or
    names no known layer."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"layer config must be a JSON object, got {short_repr(config)}")
    args = dict(config)
    name = args.pop("class", None)
    cls = LAYER_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"unknown layer class {short_repr(name)}; known: {sorted(LAYER_TYPES)}")
    return cls, args


def layer_from_config(config: Any) -> Layer:
    """Rebuild a layer from :meth:`Layer.get_config` output (with placeholder parameters)."""
    cls, args = layer_class(config)
    return cls._from_config(**args)


class LossLayer(Layer):
    """A layer that ends a network: ``forward(x, t)`` returns the scalar loss and
    ``backward(dout=1.0)`` returns ``dL/dx`` scaled by ``dout``."""

    def forward(self, x: ArrayLike, t: ArrayLike) -> float:  # type: ignore[override]
        raise NotImplementedError  # pragma: no cover

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        raise NotImplementedError  # pragma: no cover


del LAYER_TYPES["LossLayer"]  # an abstract base: no architecture can use it
