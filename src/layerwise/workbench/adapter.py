"""The learner's own layers inside layerwise: one adapter, so that their ``Affine``, ``Relu`` and
``SoftmaxWithLoss`` go into a :class:`~layerwise.networks.Sequential`, train with a
:class:`~layerwise.training.trainer.Trainer` and are drawn by :func:`~layerwise.figures.tracing.trace`.

The adapter calls the learner's ``forward`` and ``backward`` and nothing else: the numbers are
theirs. Parameters (``W``, ``b``) and their gradients (``dW``, ``db``) are the learner object's
own attributes, read and written through the adapter, so an optimizer updates the arrays their
code uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.layers.base import Array, Layer, LossLayer

__all__ = ["yours", "your_two_layer_net"]

_PARAMS = ("W", "b")


class _Yours(Layer):
    """A learner's layer object, seen as a layerwise :class:`~layerwise.layers.Layer`."""

    def __init__(self, obj: Any) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "param_names",
                           tuple(n for n in _PARAMS if isinstance(getattr(obj, n, None), np.ndarray)))
        super().__init__()

    @property
    def name(self) -> str:
        return type(self._obj).__name__

    def __getattr__(self, attr: str) -> Any:  # W, b, dW, db and the learner's caches
        if attr.startswith("__") or attr == "_obj":
            raise AttributeError(attr)
        return getattr(self._obj, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in self.param_names or attr in {"d" + n for n in self.param_names}:
            setattr(self._obj, attr, value)
        else:
            object.__setattr__(self, attr, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Yours:
        import copy

        twin = object.__new__(type(self))
        object.__setattr__(twin, "_obj", copy.deepcopy(self._obj, memo))
        for key, value in vars(self).items():
            if key != "_obj":
                object.__setattr__(twin, key, copy.deepcopy(value, memo))
        return twin

    def forward(self, x: ArrayLike) -> Array:
        return np.asarray(self._obj.forward(x))

    def backward(self, dout: ArrayLike) -> Array:
        return np.asarray(self._obj.backward(dout))

    def backward_params(self, dout: ArrayLike) -> None:
        self.backward(dout)

    def __repr__(self) -> str:
        return f"yours({type(self._obj).__name__})"


class _YoursLoss(_Yours, LossLayer):
    """A learner's loss layer (``forward(x, t)`` returns the loss)."""

    def forward(self, x: ArrayLike, t: ArrayLike) -> float:  # type: ignore[override]
        return float(np.asarray(self._obj.forward(x, t)))

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        return np.asarray(self._obj.backward(dout))


def yours(obj: Any) -> Layer:
    """The learner's layer ``obj`` (an instance of their class) as a layerwise layer; a loss
    layer when its ``forward`` takes ``(x, t)``."""
    import inspect

    try:
        takes = len(inspect.signature(obj.forward).parameters)
    except (TypeError, ValueError):
        takes = 1
    return _YoursLoss(obj) if takes >= 2 else _Yours(obj)


def your_two_layer_net(affine: type, relu: type, loss: type, input_size: int = 784, hidden_size: int = 50,
                       output_size: int = 10, weight_init_std: float = 0.01,
                       rng: np.random.Generator | int | None = 0) -> Any:
    """The book's TwoLayerNet (§5.7.2) built from the learner's classes, with the weights that
    :class:`~layerwise.networks.TwoLayerNet` draws from the same ``rng`` (float32)."""
    from layerwise.networks import Sequential, TwoLayerNet

    ref = TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=weight_init_std, rng=rng)
    p = {k: np.array(v) for k, v in ref.params.items()}
    layers = [yours(affine(p["W1"], p["b1"])), yours(relu()), yours(affine(p["W2"], p["b2"]))]
    return Sequential(layers, yours(loss()))  # type: ignore[arg-type]
