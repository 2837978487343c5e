"""A network as a stack of layers ending in a loss layer (book §5.7)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError
from layerwise.functions import check_targets
from layerwise.layers.base import Array, Layer, LossLayer, floating_dtype, real_number
from layerwise.layers.fused import fuse_relu_pool
from layerwise.networks.config import (
    NETWORK_TYPES,
    Shapes,
    book_keys,
    load_weights,
    named_layers,
    network_class,
    sequential_config_shapes,
    sequential_from_config,
)
from layerwise.networks.summary import Summary, summarize
from layerwise.networks.views import BufferView, GradView, ParamView

__all__ = ["Sequential", "network_from_config", "config_shapes"]


class Sequential:
    """Layers applied in order, then a loss layer; the book's network methods.

    Parameters
    ----------
    layers : sequence of Layer
        The hidden and output layers, in order.
    loss_layer : LossLayer
        For example :class:`~layerwise.layers.SoftmaxWithLoss`.
    names : sequence of str, optional
        Names of the layers in ``self.layers``; by default ``Affine1``, ``Relu1``, ...
    weight_decay_lambda : float, optional
        L2 weight decay (book §6.4.2): :meth:`loss` adds ``0.5 * lambda * sum(W**2)`` over the
        weight matrices (not biases, not BatchNorm's gamma/beta), :meth:`gradient` ``lambda * W``
        to each ``dW`` (other penalties: override the two ``_regulariz*`` hooks).

    ``params`` and ``grads`` are views keyed ``W1``, ``b1``, ``W2``... of the layers' arrays;
    ``buffers`` (``running_mean1``, ...) holds non-trainable state such as BatchNorm's.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            NETWORK_TYPES[cls.__name__] = cls

    #: Samples per batch in :meth:`accuracy` and :meth:`evaluate` (conv nets: 100, for the cache).
    eval_batch_size = 1000

    def __init__(self, layers: Iterable[Layer], loss_layer: LossLayer, names: Sequence[str] | None = None,
                 param_keys: dict[str, tuple[Layer, str]] | None = None,
                 weight_decay_lambda: float = 0.0) -> None:
        self.layers: dict[str, Layer] = named_layers(layers, loss_layer, names)
        self.last_layer = loss_layer
        layer_list = list(self.layers.values())
        self._index = param_keys if param_keys is not None else book_keys(layer_list, "param")
        self._buffer_index = book_keys(layer_list, "buffer")
        # The views read the layers on every access, so building them once is safe.
        self._params = ParamView(self._index)
        self._grads = GradView(self._index)
        self._buffers = BufferView(self._buffer_index)
        self.last_loss: float | None = None
        weight_decay_lambda = real_number(weight_decay_lambda, type(self).__name__, "weight_decay_lambda")
        if not 0.0 <= weight_decay_lambda < math.inf:
            raise ConfigError(f"Invalid weight_decay_lambda: {weight_decay_lambda} (must be >= 0 and finite)")
        self.weight_decay_lambda = weight_decay_lambda

    # -- book API -----------------------------------------------------------------------------
    @property
    def lastLayer(self) -> LossLayer:  # noqa: N802 - the book's name
        return self.last_layer

    @property
    def params(self) -> ParamView:
        """Parameters by key (``W1``, ``b1``, ...): a live view of the layers' arrays."""
        return self._params

    @property
    def grads(self) -> GradView:
        """Gradients of the last :meth:`gradient` call, by parameter key."""
        return self._grads

    @property
    def buffers(self) -> BufferView:
        """Non-trainable state by key (``running_mean1``, ``running_var1``, ...): a live view."""
        return self._buffers

    def execution_order(self) -> list[tuple[str, Layer]]:
        """``(name, layer)`` pairs in the order :meth:`predict` runs them: that of :attr:`layers`."""
        return list(self.layers.items())

    def summary(self, input_shape: tuple[int, ...] | None = None) -> Summary:
        """Layers, output shapes, parameter counts and totals, as Keras's ``model.summary()``."""
        return summarize(self, input_shape)

    def fuse(self) -> Sequential:
        """Rewrite :attr:`layers` visibly for speed: each ``Relu`` directly followed by a max
        ``Pooling`` becomes one :class:`~layerwise.layers.fused.ReluPool` (named
        ``"Relu1+Pool1"``), which pools first; the same values and gradients. Returns self."""
        self.layers = fuse_relu_pool(self.layers)
        return self

    def predict(self, x: ArrayLike) -> Array:
        """Scores of the last layer before the loss, ``(N, n_out)``: :attr:`layers` in order."""
        out: Any = x
        for layer in self.layers.values():
            out = layer.forward(out)
        result: Array = out
        return result

    def loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """The loss of the network on ``x`` against targets ``t`` (plus any weight decay)."""
        self.last_loss = self.data_loss(x, t) + self._regularization_loss()
        return self.last_loss

    def data_loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """The loss layer's value alone, without the weight-decay penalty (for reporting)."""
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> float:
        """Fraction of samples whose highest score is the target class (labels or one-hot).

        Evaluated in inference mode, as the book's ``predict(x, train_flg=False)``: Dropout
        off, BatchNorm on its running statistics (which stay untouched); each layer's mode is
        restored afterwards. ``batch_size`` defaults to :attr:`eval_batch_size`.
        """
        return self._evaluate(x, t, batch_size, with_loss=False)[1]

    def evaluate(self, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> tuple[float, float]:
        """``(loss, accuracy)`` over all of ``x`` in one inference-mode pass: the mean data
        loss (without the weight-decay penalty) and :meth:`accuracy`."""
        return self._evaluate(x, t, batch_size, with_loss=True)

    def _evaluate(self, x: ArrayLike, t: ArrayLike, batch_size: int | None, with_loss: bool,
                  scorer: Any = None) -> tuple[float, float]:
        """``(loss, accuracy)`` in inference mode, batch by batch; ``scorer`` (this network by
        default) scores the batches: the engine (layerwise.fast) passes its own."""
        xs, t_given = np.asarray(x), np.asarray(t)
        if xs.shape[0] != t_given.shape[0]:
            raise ConfigError(f"accuracy: {xs.shape[0]} inputs but {t_given.shape[0]} targets")
        if xs.shape[0] == 0:
            raise ConfigError("accuracy: empty batch")
        step = self.eval_batch_size if batch_size is None else batch_size
        if step < 1:
            raise ConfigError(f"accuracy: batch_size must be at least 1, got {step}")
        starts = range(0, xs.shape[0], step)
        modes = [(layer, layer.training) for layer in [*self.layers.values(), self.last_layer]]
        self.eval()
        try:
            by = self if scorer is None else scorer
            correct, total_loss = by.score_batches(xs, t_given, starts, step, with_loss)
        finally:
            for layer, mode in modes:
                layer.train(mode)
        return total_loss / xs.shape[0], correct / xs.shape[0]

    def score_batches(self, x: Array, t: Array, starts: Iterable[int], step: int,
                      with_loss: bool = True) -> tuple[int, float]:
        """``(correct, summed_loss)`` over the batches ``x[i : i + step]`` for ``i`` in
        ``starts``, in the present mode: how many samples have the target (labels or one-hot
        ``t``) as their highest score, and the sum of the batches' data losses, each times its
        number of samples (0.0 unless ``with_loss``)."""
        correct, total_loss = 0, 0.0
        for i in starts:
            y = self.predict(x[i : i + step])
            target = t[i : i + step]
            if target.ndim == 2 and target.shape == y.shape:
                labels = np.argmax(target, axis=1)
            else:  # labels (N,) in [0, C); any other shape is a ShapeError, not a wrong count
                labels, _ = check_targets("accuracy", y.shape, target, kind="labels")
            correct += int(np.sum(np.argmax(y, axis=1) == labels))
            if with_loss:
                total_loss += self.last_layer.forward(y, target) * y.shape[0]
        return correct, total_loss

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, Array]:
        """Gradients of the loss by backpropagation, keyed like :attr:`params` (book §5.7.2).

        The book's loop: one forward pass through :attr:`layers` in order (its loss is kept in
        ``last_loss``), then :meth:`backward` through every layer in reverse, on the whole batch
        at once; weight decay is then added to the weight gradients
        (:meth:`apply_weight_decay`). Every layer's caches hold what its own code computed.
        """
        return self.loss_and_gradient(x, t)[1]

    def loss_and_gradient(self, x: ArrayLike, t: ArrayLike) -> tuple[float, dict[str, Array]]:
        """``(loss, grads)`` of one training step: the loss of the forward pass (the data
        loss plus the weight-decay penalty, as :meth:`loss`) and :meth:`gradient`'s result.
        Also sets ``last_loss``, as :meth:`gradient` does."""
        data_loss = self.data_loss(x, t)
        self.backward()
        return self.apply_weight_decay(data_loss)

    def backward(self, dout: float = 1.0) -> None:
        """Backward from the loss (scaled by ``dout``) through the loss layer and every layer,
        in reverse order, leaving each layer's parameter gradients in its ``dW``, ``db``...
        (book §5.7.2)."""
        grad = self.last_layer.backward(dout)
        for layer in reversed(list(self.layers.values())):
            grad = layer.backward(grad)

    def apply_weight_decay(self, data_loss: float) -> tuple[float, dict[str, Array]]:
        """After :meth:`backward`: add weight decay to ``data_loss`` and to the weight gradients;
        keep the total in ``last_loss`` and return it with the gradients."""
        self.last_loss = data_loss + self._regularization_loss()
        self._regularize_grads()
        return self.last_loss, dict(self.grads)

    def _decayed(self) -> list[tuple[Layer, str]]:
        """The weight matrices weight decay applies to: ``(layer, "W")`` pairs, each once."""
        weights = {id(layer): (layer, name) for layer, name in self._index.values() if name == "W"}
        return list(weights.values())

    def _regularization_loss(self) -> float:
        """The penalty :meth:`loss` adds: ``0.5 * lambda * sum(W**2)`` over the weights."""
        lam = self.weight_decay_lambda
        if lam == 0.0:
            return 0.0
        total = sum(float(np.sum(np.square(getattr(layer, name)), dtype=np.float64))
                    for layer, name in self._decayed())
        return 0.5 * lam * total

    def _regularize_grads(self) -> None:
        """Add the penalty's gradient ``lambda * W`` to each ``dW`` (after backward)."""
        lam = self.weight_decay_lambda
        if lam == 0.0:
            return
        for layer, name in self._decayed():
            grad = "d" + name
            setattr(layer, grad, getattr(layer, grad) + lam * getattr(layer, name))

    def numerical_gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, Array]:
        """Gradients by float64 central differences on a float64 copy (slow; book §4.4): see
        :func:`~layerwise.gradient_check.network_numerical_gradient`."""
        from layerwise.gradient_check import network_numerical_gradient

        return network_numerical_gradient(self, x, t)

    # -- architecture and weights ------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """A JSON-able description of the architecture (not the weights)."""
        return {"class": type(self).__name__, "dtype": str(self.dtype), **self._config_args()}

    def _config_args(self) -> dict[str, Any]:
        return {"layers": [layer.get_config() for layer in self.layers.values()], "names": list(self.layers),
                "loss": self.last_layer.get_config(), "weight_decay_lambda": self.weight_decay_lambda}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Sequential:
        return sequential_from_config(config)

    @classmethod
    def _config_shapes(cls, config: dict[str, Any]) -> Shapes:
        """The shapes :func:`config_shapes` describes, for this class's config. Subclasses
        whose config is their constructor's arguments override it."""
        return sequential_config_shapes(config)

    def state_dict(self) -> dict[str, Array]:
        """Parameters (keyed ``W1``, ``b1``...) and buffers such as BatchNorm's running
        statistics (keyed ``running_mean1``, ``running_var1``...), as copies."""
        targets = {**self._index, **self._buffer_index}
        return {key: np.asarray(getattr(layer, name)).copy() for key, (layer, name) in targets.items()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy weights from ``state`` into the layers.

        With ``strict=True`` (the default) every missing, unexpected and mis-shaped entry is
        named in one :class:`StateDictError` and nothing is changed.
        """
        load_weights({**self._index, **self._buffer_index}, state, strict, type(self).__name__)

    # -- modes, dtype, copies -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Sequential:
        """Put every layer in training mode (``mode=False``: inference mode); return self."""
        for layer in [*self.layers.values(), self.last_layer]:
            layer.train(mode)
        return self

    def eval(self) -> Sequential:
        """Put every layer in inference mode (Dropout off, BatchNorm running statistics)."""
        return self.train(False)

    @property
    def training(self) -> bool:
        return self.last_layer.training

    def freeze_randomness(self) -> None:
        """Make every layer reuse its last random choices (Dropout masks); see Layer."""
        for layer in [*self.layers.values(), self.last_layer]:
            layer.freeze_randomness()

    def unfreeze_randomness(self) -> None:
        for layer in [*self.layers.values(), self.last_layer]:
            layer.unfreeze_randomness()

    def astype(self, dtype: Any) -> Sequential:
        """Cast every parameter (and gradient, and buffer) to ``dtype``, one of float16,
        float32 and float64; return self."""
        dtype = floating_dtype(dtype, f"{type(self).__name__}.astype")
        for layer in self.layers.values():
            layer.astype(dtype)
        return self

    @property
    def dtype(self) -> np.dtype[Any]:
        for layer in self.layers.values():
            if layer.dtype is not None:
                return layer.dtype
        return np.dtype(np.float32)

    def copy(self) -> Sequential:
        """A deep copy (parameters, gradients, state)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        inner = ",\n  ".join(f"{name}: {layer!r}" for name, layer in self.layers.items())
        return f"{type(self).__name__}(\n  {inner},\n  loss: {self.last_layer!r}\n)"


NETWORK_TYPES["Sequential"] = Sequential


def network_from_config(config: Any) -> Sequential:
    """Rebuild a network (placeholder weights) from :meth:`Sequential.get_config`; a
    :class:`ConfigError` for a config that describes none (checking first: :func:`config_shapes`)."""
    cls, dtype = network_class(config)
    net: Sequential = cls._from_config(config).astype(dtype)
    return net


def config_shapes(config: Any) -> Shapes:
    """The shapes of ``network_from_config(config).state_dict()``, computed without building it:
    a model file asking for a 5 TiB weight is refused before anything is allocated."""
    cls, _ = network_class(config)
    shapes: Shapes = cls._config_shapes(config)
    return shapes
