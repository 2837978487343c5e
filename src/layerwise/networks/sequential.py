"""A network as a stack of layers ending in a loss layer (book §5.7)."""

from __future__ import annotations

import copy
import inspect
import math
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from layerwise import parallel
from layerwise.errors import ConfigError, LayerwiseError
from layerwise.layers.activation import Relu
from layerwise.layers.base import (
    Array,
    Layer,
    LossLayer,
    check_config,
    floating_dtype,
    layer_class,
    layer_from_config,
    real_number,
    short_repr,
)
from layerwise.layers.dropout import Dropout
from layerwise.layers.pooling import Pooling
from layerwise.networks.views import BufferView, GradView, ParamView

__all__ = ["Sequential", "NETWORK_TYPES", "network_from_config", "config_shapes", "StateDictError"]

#: Every network class by name, so a saved architecture can be rebuilt (classes whose name
#: starts with ``_``, shared bases, are not listed).
NETWORK_TYPES: dict[str, type[Sequential]] = {}

Shapes = dict[str, tuple[int, ...]]
_L = TypeVar("_L", bound="Layer | _LayerSpec")


#: A data-parallel step gives each thread at least this many activation values (the outputs
#: of all layers for its shard, about 1 MiB in float32): below that, handing work to threads
#: costs more than it saves (measured: TwoLayerNet's 12,000 values per step run twice as slow
#: on two threads; SimpleConvNet's 3.9 million run 1.6 times as fast).
MIN_SHARD_VALUES = 1 << 18
#: ... and at least this many samples.
MIN_SHARD_SAMPLES = 8

# Each network's copies for data-parallel steps, kept outside the network so that copying,
# saving or comparing a network never sees them: the layers' names and configs when the
# copies were made (a change rebuilds them), and the copies.
_REPLICAS: weakref.WeakKeyDictionary[Sequential, tuple[list[Any], list[Sequential]]] = (
    weakref.WeakKeyDictionary())


def _dropout(net: Sequential, name: str) -> Dropout:
    layer = net.layers[name]
    assert isinstance(layer, Dropout)
    return layer


class StateDictError(LayerwiseError, ValueError):
    """Weights that do not fit a network: names every missing, unexpected or mis-shaped entry."""


def _network_class(config: Any) -> tuple[type[Sequential], np.dtype[Any]]:
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


def network_from_config(config: Any) -> Sequential:
    """Rebuild a network (with placeholder weights) from :meth:`Sequential.get_config`.

    Raises :class:`~layerwise.errors.ConfigError` (or :class:`~layerwise.errors.ShapeError`)
    for a config that describes no network. The network is built as described, however large:
    to check a config against the weights meant for it first, see :func:`config_shapes`.
    """
    cls, dtype = _network_class(config)
    return cls._from_config(config).astype(dtype)


def config_shapes(config: Any) -> Shapes:
    """The shape of every entry of the :meth:`~Sequential.state_dict` of the network that
    :func:`network_from_config` would build from ``config``, computed without building it.

    A model file's tensors are compared with these before anything is allocated, so an
    architecture asking for a 5 TiB weight is refused by a message, not a MemoryError.
    Raises as :func:`network_from_config`.
    """
    cls, _ = _network_class(config)
    return cls._config_shapes(config)


class _LayerSpec:
    """A layer of a config before it is built: its class (for the names of its parameters and
    buffers) and their shapes."""

    def __init__(self, cls: type[Layer], shapes: Shapes) -> None:
        self.param_names, self.buffer_names, self.shapes = cls.param_names, cls.buffer_names, shapes


def _sequential_config(config: dict[str, Any]) -> dict[str, Any]:
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


def _check_one_input(layer: Layer | type[Layer]) -> None:
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


def _run_order(layers: Iterable[Layer]) -> list[Layer]:
    """``layers`` in the order a network runs them: as given, except that a :class:`Relu`
    directly followed by a max :class:`Pooling` runs after it (after every such pooling in a
    row). ReLU commutes with max pooling: ``relu(max(w)) == max(relu(w))`` over any window
    ``w``, padded with ``-inf`` or not, and the gradients agree too, since a window whose
    maximum is positive sends its gradient to the same (first) maximum either way, and one
    whose maximum is not positive sends none. So the result is the same, while ReLU touches
    the pooled values only, a quarter as many for 2x2 pooling."""
    order: list[Layer] = []
    for layer in layers:
        if order and type(order[-1]) is Relu and type(layer) is Pooling and layer.mode == "max":
            order.insert(len(order) - 1, layer)
        else:
            order.append(layer)
    return order


def _book_keys(layers: Sequence[_L], kind: str) -> dict[str, tuple[_L, str]]:
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


def _param_keys(layers: Sequence[Layer]) -> dict[str, tuple[Layer, str]]:
    return _book_keys(layers, "param")


def _buffer_keys(layers: Sequence[Layer]) -> dict[str, tuple[Layer, str]]:
    return _book_keys(layers, "buffer")


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
        L2 weight decay (book §6.4.2): :meth:`loss` adds ``0.5 * lambda * sum(W**2)`` over
        every weight matrix ``W`` (not biases, not BatchNorm's gamma/beta) and
        :meth:`gradient` adds ``lambda * W`` to each ``dW``. Subclasses may override
        :meth:`_regularization_loss` and :meth:`_regularize_grads` for other penalties.

    ``params`` and ``grads`` are views keyed ``W1``, ``b1``, ``W2``... of the layers' arrays;
    ``buffers`` (``running_mean1``, ...) holds non-trainable state such as BatchNorm's.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            NETWORK_TYPES[cls.__name__] = cls

    #: Samples per batch in :meth:`accuracy` and :meth:`evaluate`. Conv nets use 100: their
    #: activations for 1,000 images (50 MB per layer in DeepConvNet) would not fit in cache.
    eval_batch_size = 1000

    def __init__(
        self,
        layers: Iterable[Layer],
        loss_layer: LossLayer,
        names: Sequence[str] | None = None,
        param_keys: dict[str, tuple[Layer, str]] | None = None,
        weight_decay_lambda: float = 0.0,
    ) -> None:
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
            _check_one_input(layer)
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
        self.layers: dict[str, Layer] = dict(zip(names, layer_list, strict=True))
        self.last_layer = loss_layer
        self._index = param_keys if param_keys is not None else _param_keys(layer_list)
        self._buffer_index = _buffer_keys(layer_list)
        # The views read the layers on every access, so building them once is safe.
        self._params = ParamView(self._index)
        self._grads = GradView(self._index)
        self._buffers = BufferView(self._buffer_index)
        self.last_loss: float | None = None
        # the shape of one input sample, and the activation values per sample it gives rise
        # to, measured once for each new input shape (see _shard_count)
        self._sample_shape: tuple[int, ...] | None = None
        self._values_per_sample = 0.0
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
        """``(name, layer)`` pairs in the order :meth:`predict` runs them: the order of
        :attr:`layers`, except that a ReLU directly followed by a max pooling runs after it
        (see :func:`_run_order`)."""
        names = {id(layer): name for name, layer in self.layers.items()}
        return [(names[id(layer)], layer) for layer in _run_order(self.layers.values())]

    def predict(self, x: ArrayLike) -> Array:
        """Scores of the last layer before the loss, shape ``(N, n_out)``.

        The layers run in the order of ``layers``, except that a ReLU followed by a max
        pooling runs after it, on the pooled values: the same result with a quarter of the
        work (see :func:`_run_order`). Such a ReLU's cached ``mask`` then has the pooled shape.
        """
        out: Any = x
        for layer in _run_order(self.layers.values()):
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

    def _evaluate(self, x: ArrayLike, t: ArrayLike, batch_size: int | None,
                  with_loss: bool) -> tuple[float, float]:
        xs = np.asarray(x)
        t_given = np.asarray(t)
        ts = t_given if t_given.ndim == 1 else np.argmax(t_given, axis=1)
        if xs.shape[0] != ts.shape[0]:
            raise ConfigError(f"accuracy: {xs.shape[0]} inputs but {ts.shape[0]} targets")
        if xs.shape[0] == 0:
            raise ConfigError("accuracy: empty batch")
        step = self.eval_batch_size if batch_size is None else batch_size
        if step < 1:
            raise ConfigError(f"accuracy: batch_size must be at least 1, got {step}")
        starts = range(0, xs.shape[0], step)

        def batches(net: Sequential, mine: range) -> tuple[int, float]:
            correct, total_loss = 0, 0.0
            for i in mine:
                y = net.predict(xs[i : i + step])
                correct += int(np.sum(np.argmax(y, axis=1) == ts[i : i + step]))
                if with_loss:
                    total_loss += net.last_layer.forward(y, t_given[i : i + step]) * y.shape[0]
            return correct, total_loss

        modes = [(layer, layer.training) for layer in [*self.layers.values(), self.last_layer]]
        self.eval()
        try:
            shards = self._eval_shard_count(xs, step, len(starts))
            if shards < 2:
                correct, total_loss = batches(self, starts)
            else:  # every thread takes every shards-th batch on its own copy of the layers
                nets = [self, *self._replicas(shards - 1)]
                with parallel.blas_single_threaded():
                    parts = parallel.run_sharded(lambda i: batches(nets[i], starts[i::shards]), shards)
                correct = sum(c for c, _ in parts)
                total_loss = sum(loss for _, loss in parts)
        finally:
            for layer, mode in modes:
                layer.train(mode)
        return total_loss / xs.shape[0], correct / xs.shape[0]

    def _eval_shard_count(self, x: Array, step: int, n_batches: int) -> int:
        """How many threads :meth:`_evaluate` spreads its batches over (1: none), by the same
        rule as a training step's shards, applied to one batch."""
        if n_batches < 2 or x.ndim < 1:
            return 1
        threads = self._threads_for(x, x.shape)
        if threads < 2 or min(step, x.shape[0]) * self._values_per_sample < MIN_SHARD_VALUES:
            return 1
        return min(threads, n_batches) if self._layers_can_shard() else 1

    def _threads_for(self, x: ArrayLike, shape: tuple[int, ...]) -> int:
        """The threads a split of work on inputs ``x`` (of ``shape``) may use: 1 when only one
        is set or the caller is itself a pool thread. Measures the activations per sample
        first when the input shape is new, so that the caller can size the split."""
        threads = parallel.get_num_threads()
        if threads < 2 or parallel.in_worker():
            return 1
        if shape[1:] != self._sample_shape:
            self._measure(np.asarray(x))
        return threads

    def _layers_can_shard(self) -> bool:
        return all(layer.can_shard() for layer in [*self.layers.values(), self.last_layer])

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, Array]:
        """Gradients of the loss by backpropagation, keyed like :attr:`params`.

        One forward pass (its loss is kept in ``last_loss``), then ``backward`` through every
        layer in reverse; the first layer skips ``dx``, which nothing needs. Weight decay is
        then added to the weight gradients (:meth:`_regularize_grads`).

        A large batch of a network with large activations (a CNN) is split across threads
        (:mod:`layerwise.parallel`): each shard runs through its own copy of the layers and
        the gradients are summed, each weighted by its share of the batch, so the result is
        the same up to rounding. Dropout masks are drawn for the whole batch first, from the
        same generator, so they are those of an unsplit step. After such a step the layers'
        caches (``x``, ``mask``, ...) hold the first shard's values; call
        ``layerwise.set_num_threads(1)`` to inspect every cache of a whole batch.
        """
        shards = self._shard_count(x, t)
        if shards > 1:
            return self._parallel_gradient(np.asarray(x), np.asarray(t), shards)
        self.loss(x, t)
        self._backward(1.0)
        self._regularize_grads()
        return dict(self.grads)

    def _backward(self, dloss: float) -> None:
        """Backward through the loss layer and every layer, in the reverse of the order
        :meth:`predict` ran them; the first skips ``dx``."""
        dout = self.last_layer.backward(dloss)
        layers = _run_order(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        layers[0].backward_params(dout)

    # -- data parallelism ---------------------------------------------------------------------
    def _shard_count(self, x: ArrayLike, t: ArrayLike) -> int:
        """Into how many shards :meth:`gradient` splits this batch (1: not at all).

        The answer depends only on the batch's shape, the thread count and the layers, never
        on earlier steps, so a resumed run splits its steps as the uninterrupted run did.
        """
        shape = getattr(x, "shape", None)
        if shape is None:
            shape = np.shape(x)
        if not shape or shape[0] < 2 * MIN_SHARD_SAMPLES:
            return 1
        threads = self._threads_for(x, shape)
        n = shape[0]
        shards = min(threads, n // MIN_SHARD_SAMPLES, int(n * self._values_per_sample) // MIN_SHARD_VALUES)
        if shards < 2:
            return 1
        t_shape = np.shape(t)
        if not t_shape or t_shape[0] != n:
            return 1  # the unsplit path reports the mismatch
        return shards if self._layers_can_shard() else 1

    def _measure(self, x: Array) -> None:
        """Record how many activation values one sample shaped like ``x[0]`` gives rise to,
        by an inference-mode forward pass of that sample: it draws nothing random and changes
        no statistics (the layers' modes are restored), and it shows each layer its input
        shape (Dropout needs it to draw a whole batch's mask up front)."""
        layers = _run_order(self.layers.values())
        modes = [layer.training for layer in layers]
        values = 0
        out: Any = x[:1]
        try:
            for layer in layers:
                layer.train(False)
                out = layer.forward(out)
                values += getattr(out, "size", 0)
        finally:
            for layer, mode in zip(layers, modes, strict=True):
                layer.train(mode)
        self._sample_shape, self._values_per_sample = x.shape[1:], float(values)

    def _replicas(self, count: int) -> list[Sequential]:
        """``count`` copies of this network whose layers share its parameters and buffers."""
        configs: list[Any] = [(name, layer.get_config()) for name, layer in self.layers.items()]
        configs.append(self.last_layer.get_config())
        made_from, reps = _REPLICAS.get(self, (None, []))
        if made_from != configs or len(reps) < count:
            template = copy.copy(self)  # shallow: the layers are deep-copied below
            reps = []
            for _ in range(count):
                rep = copy.copy(template)
                rep.layers = {name: copy.deepcopy(layer) for name, layer in self.layers.items()}
                rep.last_layer = copy.deepcopy(self.last_layer)
                reps.append(rep)
            _REPLICAS[self] = (configs, reps)
        for rep in reps[:count]:
            pairs = zip([*self.layers.values(), self.last_layer],
                        [*rep.layers.values(), rep.last_layer], strict=True)
            for mine, theirs in pairs:
                theirs.training = mine.training
                for name in (*mine.param_names, *mine.buffer_names):
                    setattr(theirs, name, getattr(mine, name))
        return reps[:count]

    def _parallel_gradient(self, x: Array, t: Array, shards: int) -> dict[str, Array]:
        n = x.shape[0]
        nets = [self, *self._replicas(shards - 1)]
        bounds = [n * i // shards for i in range(shards + 1)]
        masks: dict[str, Array] = {}  # Dropout's masks for the whole batch, drawn up front
        for name, layer in self.layers.items():
            mask = layer.draw_batch_mask(n) if isinstance(layer, Dropout) else None
            if mask is not None:
                masks[name] = mask
                for net, lo, hi in zip(nets, bounds, bounds[1:], strict=False):
                    _dropout(net, name).preset_mask(mask[lo:hi])

        def shard(i: int) -> float:
            net, lo, hi = nets[i], bounds[i], bounds[i + 1]
            loss = net.last_layer.forward(net.predict(x[lo:hi]), t[lo:hi])
            net._backward((hi - lo) / n)  # each shard's mean loss weighted by its share
            return loss * (hi - lo) / n

        with parallel.blas_single_threaded():
            losses = parallel.run_sharded(shard, shards)
        for name, layer in self.layers.items():
            for p in layer.param_names:
                # in place: the first shard's gradient is a fresh array of this step
                total = getattr(layer, "d" + p)
                for rep in nets[1:]:
                    np.add(total, getattr(rep.layers[name], "d" + p), out=total)
        for name, mask in masks.items():  # the whole batch's mask, as after an unsplit step
            _dropout(self, name).mask = mask
        self.last_loss = float(sum(losses)) + self._regularization_loss()
        self._regularize_grads()
        return dict(self.grads)

    # -- regularization hooks -----------------------------------------------------------------
    def _decayed(self) -> list[tuple[Layer, str]]:
        """The weight matrices weight decay applies to: ``(layer, "W")`` pairs, each once."""
        seen: dict[int, tuple[Layer, str]] = {}
        for layer, name in self._index.values():
            if name == "W":
                seen.setdefault(id(layer), (layer, name))
        return list(seen.values())

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
        """Gradients by float64 central differences (slow; for checking, book §4.4).

        Computed on a float64 copy of the network, so the result does not suffer from
        float32 round-off and this network is left untouched. Dropout masks are frozen after
        a first forward pass (to compare with :meth:`gradient`, call
        :meth:`freeze_randomness` after it, so that the copy reuses the same masks).
        """
        from layerwise.gradient_check import numerical_gradient

        net = self.copy().astype(np.float64)
        x64 = np.asarray(x, dtype=np.float64)
        net.loss(x64, t)
        net.freeze_randomness()
        grads: dict[str, Array] = {}
        for key in net.params:
            grads[key] = numerical_gradient(lambda _: net.loss(x64, t), net.params[key])
        return grads

    # -- architecture and weights ------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """A JSON-able description of the architecture (not the weights)."""
        return {
            "class": type(self).__name__,
            "dtype": str(self.dtype),
            **self._config_args(),
        }

    def _config_args(self) -> dict[str, Any]:
        return {
            "layers": [layer.get_config() for layer in self.layers.values()],
            "names": list(self.layers),
            "loss": self.last_layer.get_config(),
            "weight_decay_lambda": self.weight_decay_lambda,
        }

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Sequential:
        args = _sequential_config(config)
        layers = [layer_from_config(c) for c in args["layers"]]
        loss = layer_from_config(args["loss"])
        if not isinstance(loss, LossLayer):
            raise ConfigError(f"Sequential: loss {type(loss).__name__} is not a loss layer")
        return Sequential(layers, loss, names=args.get("names"),
                          weight_decay_lambda=args.get("weight_decay_lambda", 0.0))

    @classmethod
    def _config_shapes(cls, config: dict[str, Any]) -> Shapes:
        """The shapes :func:`config_shapes` describes, for this class's config. Subclasses
        whose config is their constructor's arguments override it."""
        args = _sequential_config(config)
        specs = []
        for layer_config in args["layers"]:
            layer_cls, layer_args = layer_class(layer_config)
            _check_one_input(layer_cls)
            specs.append(_LayerSpec(layer_cls, layer_cls._config_shapes(**layer_args)))
        loss_cls, loss_args = layer_class(args["loss"])
        if not issubclass(loss_cls, LossLayer):
            raise ConfigError(f"Sequential: loss {loss_cls.__name__} is not a loss layer")
        loss_cls._config_shapes(**loss_args)  # checks its arguments
        shapes: Shapes = {}
        for kind in ("param", "buffer"):
            for key, (spec, name) in _book_keys(specs, kind).items():
                shapes[key] = spec.shapes[name]
        return shapes

    def state_dict(self) -> dict[str, Array]:
        """Parameters (keyed ``W1``, ``b1``...) and buffers such as BatchNorm's running
        statistics (keyed ``running_mean1``, ``running_var1``...), as contiguous copies."""
        state = {k: np.ascontiguousarray(v).copy() for k, v in self.params.items()}
        for key, (layer, name) in self._buffer_index.items():
            state[key] = np.ascontiguousarray(getattr(layer, name)).copy()
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy weights from ``state`` into the layers.

        With ``strict=True`` (the default) every missing, unexpected and mis-shaped entry is
        named in one :class:`StateDictError` and nothing is changed.
        """
        targets = dict(self._index)
        targets.update(self._buffer_index)
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
            raise StateDictError(f"{type(self).__name__}: weights do not fit: " + " | ".join(problems))
        for key, (layer, name) in targets.items():
            if key not in state:
                continue
            current = getattr(layer, name)
            value = np.array(state[key], dtype=current.dtype, copy=True)
            if name in layer.param_names:
                layer.set_param(name, value)
            else:
                layer.set_buffer(name, value)

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
