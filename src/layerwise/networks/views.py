"""Book-style ``params`` / ``grads`` dicts that are views of the layers' own arrays."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from numpy.typing import ArrayLike

from layerwise.errors import NonFiniteError
from layerwise.layers.base import Array, Layer

__all__ = ["ParamView", "GradView", "BufferView"]


@contextmanager
def _named(inner: str, outer: str) -> Iterator[None]:
    """A NonFiniteError of the layer (``Affine1.W: ...``) named as the caller named the array
    (``params['W1']: ...``): the layer checks the values once."""
    try:
        yield
    except NonFiniteError as exc:
        raise NonFiniteError(str(exc).replace(inner, outer, 1)) from None


class ParamView(MutableMapping[str, Array]):
    """``net.params``: reading ``params["W1"]`` returns the layer's current array; assigning
    ``params["W1"] = new`` replaces the layer's parameter (shape-checked, cast to its dtype).

    So an optimizer that updates ``params[k]`` in place and code that assigns a new array
    both reach the layer: there is no second copy to go stale (the book's aliasing bug).
    """

    def __init__(self, index: Mapping[str, tuple[Layer, str]]) -> None:
        self._index = dict(index)

    def __getitem__(self, key: str) -> Array:
        layer, name = self._lookup(key)
        value: Array = getattr(layer, name)
        return value

    def __setitem__(self, key: str, value: ArrayLike) -> None:
        layer, name = self._lookup(key)
        with _named(f"{layer.name}.{name}", f"params[{key!r}]"):
            layer.set_param(name, value)

    def __delitem__(self, key: str) -> None:
        raise TypeError("parameters cannot be deleted from a network")

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def _lookup(self, key: str) -> tuple[Layer, str]:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no parameter {key!r}; the network has {list(self._index)}") from None

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: array{self[k].shape}" for k in self)
        return f"{type(self).__name__}({{{inner}}})"


class GradView(Mapping[str, Array]):
    """``net.grads``: the gradient arrays of the last backward pass, by parameter key."""

    def __init__(self, index: Mapping[str, tuple[Layer, str]]) -> None:
        self._index = dict(index)

    def __getitem__(self, key: str) -> Array:
        try:
            layer, name = self._index[key]
        except KeyError:
            raise KeyError(f"no parameter {key!r}; the network has {list(self._index)}") from None
        value: Array = getattr(layer, "d" + name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: array{self[k].shape}" for k in self)
        return f"{type(self).__name__}({{{inner}}})"


class BufferView(ParamView):
    """``net.buffers``: non-trainable state (BatchNorm's running statistics) by key, e.g.
    ``running_mean1``; reading returns the live array, assigning goes through
    :meth:`~layerwise.layers.Layer.set_buffer` (shape-checked, cast to the buffer's dtype)."""

    def __setitem__(self, key: str, value: ArrayLike) -> None:
        layer, name = self._lookup(key)
        with _named(f"{layer.name}.{name}", f"buffers[{key!r}]"):
            layer.set_buffer(name, value)

    def _lookup(self, key: str) -> tuple[Layer, str]:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no buffer {key!r}; the network has {list(self._index)}") from None
