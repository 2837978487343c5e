"""The layer protocol: ``forward`` caches what ``backward`` needs (book §5.4).

A layer owns its parameters and their gradients as attributes named as in the book
(``W`` / ``dW``, ``b`` / ``db``, ``gamma`` / ``dgamma`` ...). ``params`` and ``grads`` return
dicts of those live arrays; :meth:`Layer.set_param` replaces one, checking shape and dtype.
State that is saved with a model but not trained (BatchNorm's running statistics) is listed in
``buffer_names`` and exposed the same way by ``buffers`` / :meth:`Layer.set_buffer`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from layerwise.errors import ShapeError
from layerwise.functions import as_float_array

__all__ = ["Layer", "LossLayer", "Array", "LAYER_TYPES", "layer_from_config"]

Array = NDArray[Any]

#: Every Layer subclass by class name, so a saved architecture can be rebuilt.
LAYER_TYPES: dict[str, type[Layer]] = {}


class Layer:
    """Base class of every layer.

    Subclasses implement ``forward(x)`` and ``backward(dout)``, and list their trainable
    parameters in ``param_names``; the gradient of parameter ``name`` lives in ``d<name>``.
    ``training`` is the train/eval mode switched by :meth:`train` / :meth:`eval` (only layers
    such as Dropout and BatchNormalization behave differently).
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()
    #: Whether each sample's output (and its share of the gradients) depends on that sample
    #: alone, with nothing random drawn: then a batch may be split into shards that run
    #: through separate copies of the layer (see :mod:`layerwise.parallel`). False unless a
    #: layer says otherwise, so a layer written outside layerwise is never split by surprise.
    #: For a loss layer it also means that the loss is the mean of per-sample losses.
    samples_independent: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
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
        return cls(**args)

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
        setattr(self, name, arr)

    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The floating dtype of the parameters, or ``None`` for a layer without any."""
        if not self.param_names:
            return None
        dt: np.dtype[Any] = getattr(self, self.param_names[0]).dtype
        return dt

    def astype(self, dtype: Any) -> Layer:
        """Cast parameters, gradients and buffers to ``dtype`` in place of the old arrays; return self."""
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

    # -- data parallelism -------------------------------------------------------------------
    def can_shard(self) -> bool:
        """Whether the next training step may split its batch across copies of this layer.

        :attr:`samples_independent` by default; Dropout and BatchNormalization decide by
        their state (mode, frozen mask).
        """
        return self.samples_independent

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


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from :meth:`Layer.get_config` output."""
    args = dict(config)
    name = args.pop("class", None)
    cls = LAYER_TYPES.get(str(name))
    if cls is None:
        raise ValueError(f"unknown layer class {name!r}; known: {sorted(LAYER_TYPES)}")
    return cls._from_config(**args)


class LossLayer(Layer):
    """A layer that ends a network: ``forward(x, t)`` returns the scalar loss and
    ``backward(dout=1.0)`` returns ``dL/dx`` scaled by ``dout``."""

    def forward(self, x: ArrayLike, t: ArrayLike) -> float:  # type: ignore[override]
        raise NotImplementedError  # pragma: no cover

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        raise NotImplementedError  # pragma: no cover
