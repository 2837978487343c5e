"""Data parallelism: a batch split across threads, each running its own copy of the layers.

NumPy runs each element-wise operation on one core; only BLAS products use more. A training
step of a network with large activations (a CNN: ReLU, pooling and im2col over 100 x 30 x 24 x 24
values) therefore leaves the other cores idle for most of its time. :class:`DataParallel`
cuts such a batch into one contiguous shard per thread and runs forward and backward of each
shard on its own copy of the layers (the parameter arrays are shared, the caches are not),
with BLAS kept to one thread meanwhile so that the shards do not compete for cores, then sums
the shards' gradients, each weighted by its share of the batch. NumPy releases the GIL inside
its loops, so the threads really run at once. ``accuracy`` and ``evaluate`` spread such a
network's batches over the threads the same way, and element-wise optimizers update large
parameters in one part per thread (:mod:`layerwise.optimizers`).

This is part of the engine (:mod:`layerwise.fast`): with the engine on, its training step and
evaluation (:mod:`layerwise.fast.training`, used by the :class:`~layerwise.training.trainer.Trainer`)
hand a batch to :class:`DataParallel` when :meth:`DataParallel.worth_splitting` says so
(:data:`MIN_SHARD_VALUES`, :data:`MIN_SHARD_SAMPLES`). The book's API
(:meth:`~layerwise.networks.Sequential.gradient`) never does: it runs the whole batch in one
thread, and the layers know nothing of threads.

Small networks (the book's TwoLayerNet) stay on one thread: their steps are a few hundred
microseconds of many small operations, and handing them to threads costs more than it saves.

``set_num_threads(n)`` sets how many threads layerwise uses (``1`` turns this off); the default
is the ``LAYERWISE_NUM_THREADS`` environment variable, else the number of CPUs this process
may run on.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from layerwise.errors import ConfigError
from layerwise.layers.activation import Relu, Sigmoid
from layerwise.layers.affine import Affine
from layerwise.layers.base import Layer, LossLayer
from layerwise.layers.convolution import Convolution
from layerwise.layers.dropout import Dropout
from layerwise.layers.fused import ReluPool
from layerwise.layers.loss import IdentityWithLoss, SoftmaxWithLoss
from layerwise.layers.normalization import BatchNormalization
from layerwise.layers.pooling import Pooling


def backward_without_input_gradient(net: Any, dout: float = 1.0) -> None:
    """The network's backward pass (:meth:`~layerwise.networks.Sequential.backward`) without
    the first layer's ``dx``, which nothing reads: the engine's step saves that product."""
    grad = net.last_layer.backward(dout)
    layers = list(net.layers.values())
    for layer in reversed(layers[1:]):
        grad = layer.backward(grad)
    layers[0].backward_params(grad)


class Network(Protocol):
    """What :class:`DataParallel` uses of the network it splits: a
    :class:`~layerwise.networks.Sequential`, named here as a protocol (the engine depends on
    the shape of a network, not on its module)."""

    layers: dict[str, Layer]
    last_layer: LossLayer

    def data_loss(self, x: ArrayLike, t: ArrayLike) -> float: ...

    def backward(self, dout: float = 1.0) -> None: ...

    def apply_weight_decay(self, data_loss: float) -> tuple[float, dict[str, NDArray[Any]]]: ...

    def score_batches(self, x: NDArray[Any], t: NDArray[Any], starts: Iterable[int], step: int,
                      with_loss: bool = True) -> tuple[int, float]: ...

    def _evaluate(self, x: ArrayLike, t: ArrayLike, batch_size: int | None, with_loss: bool,
                  split: DataParallel | None = None) -> tuple[float, float]: ...

__all__ = ["get_num_threads", "set_num_threads", "run_sharded", "blas_single_threaded", "in_worker",
           "DataParallel", "backward_without_input_gradient", "PER_SAMPLE", "MIN_SHARD_VALUES",
           "MIN_SHARD_SAMPLES"]

R = TypeVar("R")

_lock = threading.Lock()
_num_threads: int | None = None  # None: not decided yet (see default_num_threads)
_pool: ThreadPoolExecutor | None = None
_local = threading.local()


def default_num_threads() -> int:
    """``LAYERWISE_NUM_THREADS`` if set, else the number of CPUs this process may use."""
    env = os.environ.get("LAYERWISE_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ConfigError(f"LAYERWISE_NUM_THREADS must be a positive integer, got {env!r}") from None
        if n < 1:
            raise ConfigError(f"LAYERWISE_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """How many threads a data-parallel step may use (1: everything on the calling thread)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = default_num_threads()
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads for data-parallel steps; ``1`` keeps everything on one thread."""
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"set_num_threads: expected a positive integer, got {n!r}")
    with _lock:
        _num_threads = int(n)
        if _pool is not None and _pool._max_workers != _num_threads - 1:
            _pool.shutdown(wait=True)
            _pool = None


def in_worker() -> bool:
    """Whether the calling thread is one of layerwise's pool threads (which never fan out)."""
    return bool(getattr(_local, "worker", False))


def _mark_worker() -> None:
    _local.worker = True


def _get_pool(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="layerwise",
                                       initializer=_mark_worker)
        return _pool


def run_sharded(fn: Callable[[int], R], n: int) -> list[R]:
    """``[fn(0), ..., fn(n - 1)]``: ``fn(0)`` on the calling thread, the rest on pool threads.

    Waits for every call before returning or raising, so no shard is still running when the
    caller goes on; the first shard's exception (in shard order) is re-raised. NumPy's error
    handling (``np.errstate``) is per thread: the caller's settings are applied in each worker.
    """
    if n < 1:
        raise ConfigError(f"run_sharded: n must be at least 1, got {n}")
    if n == 1:
        return [fn(0)]
    err = np.geterr()

    def call(i: int) -> R:
        with np.errstate(**err):
            return fn(i)

    futures = [_get_pool(n - 1).submit(call, i) for i in range(1, n)]
    results: list[Any] = [None] * n
    errors: list[BaseException | None] = [None] * n
    try:
        results[0] = fn(0)
    except BaseException as exc:  # re-raised below, after the other shards are done
        errors[0] = exc
    for i, fut in enumerate(futures, start=1):
        try:
            results[i] = fut.result()
        except BaseException as exc:
            errors[i] = exc
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return results


class _BlasLimit:
    """Reference-counted "BLAS on one thread" switch, shared by every caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._controller: Any = None
        self._limiter: Any = None

    def enter(self) -> None:
        with self._lock:
            if self._count == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._count += 1

    def exit(self) -> None:
        with self._lock:
            self._count -= 1
            if self._count == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


_blas_limit = _BlasLimit()


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: forget the pool (a new one is made
    when needed) and start the locks and the BLAS limit afresh."""
    global _pool, _lock, _blas_limit
    _pool = None
    _lock = threading.Lock()
    _blas_limit = _BlasLimit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def blas_single_threaded() -> Iterator[None]:
    """BLAS (NumPy's matrix products) on one thread inside the block, as before after it.

    Data-parallel shards each run their own products; a multi-threaded BLAS under them would
    put two threads on each core. Nested and concurrent uses are counted: the limit is lifted
    when the last one ends.
    """
    _blas_limit.enter()
    try:
        yield
    finally:
        _blas_limit.exit()


# -- data parallelism --------------------------------------------------------------------------
#: A data-parallel step gives each thread at least this many activation values (the outputs
#: of all layers for its shard, about 1 MiB in float32): below that, handing work to threads
#: costs more than it saves (measured: TwoLayerNet's 12,000 values per step run twice as slow
#: on two threads; SimpleConvNet's 3.9 million run 1.6 times as fast). Read at each step: a
#: test may lower it to split a small network.
MIN_SHARD_VALUES = 1 << 18
#: ... and at least this many samples.
MIN_SHARD_SAMPLES = 8


def _always(layer: Any) -> bool:
    return True


#: The layers a batch may be split across copies of: those whose output for each sample (and
#: its share of the gradients) depends on that sample alone, with nothing random drawn that
#: :class:`DataParallel` cannot draw for the whole batch up front. For a loss layer it also
#: means that the loss is the mean of per-sample losses. Each class maps to a rule saying
#: whether a layer in its present state qualifies (BatchNorm only on running statistics,
#: Dropout unless its mask is frozen). A subclass follows its nearest base listed here; a
#: layer class written elsewhere joins by an entry, or by a class attribute
#: ``samples_independent = True``. Any other layer keeps its network on one thread.
PER_SAMPLE: dict[type[Layer], Callable[[Any], bool]] = {
    Relu: _always, Sigmoid: _always, Affine: _always, Convolution: _always, Pooling: _always,
    SoftmaxWithLoss: _always, IdentityWithLoss: _always, ReluPool: _always,
    Dropout: lambda layer: not layer.training or not layer.frozen,
    BatchNormalization: lambda layer: not layer.training,
}


def _per_sample(layer: Layer) -> bool:
    for cls in type(layer).__mro__:
        rule = PER_SAMPLE.get(cls)
        if rule is not None:
            return rule(layer)
        if "samples_independent" in vars(cls):
            return bool(vars(cls)["samples_independent"])
    return False


class _Replicas:
    """What :class:`DataParallel` keeps of a network between steps (outside the network, so
    that copying, saving or comparing it never sees them): the measuring pass's result and the
    network's copies for the other shards."""

    def __init__(self) -> None:
        self.measured_for: Any = None  # (sample shape, the layers' ids) of the measurement
        self.values_per_sample = 0.0
        self.input_shapes: dict[str, tuple[int, ...]] = {}  # each layer's input, per sample
        self.made_from: Any = None  # the layers' names and configs when the copies were made
        self.replicas: list[Network] = []


_COPIES: weakref.WeakKeyDictionary[Network, _Replicas] = weakref.WeakKeyDictionary()


class DataParallel:
    """A network's training steps and evaluation with each batch split across threads.

    ``DataParallel(net, threads)`` splits a batch of ``N`` samples into contiguous shards
    (:meth:`split`), runs forward and backward of each on its own copy of the layers, which
    share ``net``'s parameters (:meth:`run_shards`), and sums the gradients into ``net``'s
    layers, each shard's weighted by its share of the batch (:meth:`sum_gradients`): the
    gradient of the mean loss, the same as one thread's up to float rounding. Dropout masks
    are drawn for the whole batch first, from each layer's own generator, so they are those of
    an unsplit step. After a split step the layers' caches (``x``, ``mask``...) hold the first
    shard's values, Dropout's ``mask`` the whole batch's.

    The three methods are the seam for other backends (processes, MPI): a subclass may
    override them and keep the rest. :mod:`layerwise.fast.distributed` is the MPI one, in the same
    three steps: the same contiguous split, one shard per process through
    :meth:`data_loss_and_backward`, and an allreduce for the sum.

    Parameters
    ----------
    net : Sequential
    threads : int, optional
        The most threads to use; by default :func:`get_num_threads`. A step uses fewer (down
        to one, no split at all) when the batch or the network is too small for threads to
        pay (:data:`MIN_SHARD_VALUES`, :data:`MIN_SHARD_SAMPLES`), when a layer is not listed
        in :data:`PER_SAMPLE`, or when called from one of layerwise's pool threads. The
        decision depends only on the batch's shape, the thread count and the layers, never on
        earlier steps, so a resumed run splits its steps as the uninterrupted run did.
    """

    def __init__(self, net: Network, threads: int | None = None) -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                    or threads < 1):
            raise ConfigError(f"DataParallel: threads must be a positive integer, got {threads!r}")
        self.net = net
        self.threads = threads

    def __repr__(self) -> str:
        return f"DataParallel({type(self.net).__name__}, threads={self.threads or get_num_threads()})"

    # -- the seam: split, run, sum ----------------------------------------------------------
    def split(self, n: int, shards: int) -> list[tuple[int, int]]:
        """``(lo, hi)`` bounds of ``shards`` contiguous shards of ``n`` samples, as even as can be."""
        bounds = [n * i // shards for i in range(shards + 1)]
        return list(zip(bounds, bounds[1:], strict=False))

    def run_shards(self, fn: Callable[[int], R], shards: int) -> list[R]:
        """``[fn(0), ..., fn(shards - 1)]``, on as many threads, with BLAS on one thread each."""
        with blas_single_threaded():
            return run_sharded(fn, shards)

    def sum_gradients(self, nets: list[Network]) -> None:
        """Add the parameter gradients of ``nets[1:]`` into those of ``nets[0]`` (in place:
        the first shard's gradients are fresh arrays of this step)."""
        for name, layer in nets[0].layers.items():
            for p in layer.param_names:
                total = getattr(layer, "d" + p)
                for rep in nets[1:]:
                    np.add(total, getattr(rep.layers[name], "d" + p), out=total)

    # -- when splitting is worth it ----------------------------------------------------------------------
    def worth_splitting(self, x: ArrayLike, t: ArrayLike) -> bool:
        """Whether :meth:`loss_and_gradient` would split this batch."""
        return self.shard_count(x, t) > 1

    def shard_count(self, x: ArrayLike, t: ArrayLike) -> int:
        """Into how many shards a training step splits this batch (1: not at all)."""
        shape = getattr(x, "shape", None)
        if shape is None:
            shape = np.shape(x)
        if not shape or shape[0] < 2 * MIN_SHARD_SAMPLES:
            return 1
        threads = self._threads_for(x, shape)
        n = shape[0]
        copies = _COPIES.get(self.net)
        per_sample = copies.values_per_sample if copies is not None else 0.0
        shards = min(threads, n // MIN_SHARD_SAMPLES, int(n * per_sample) // MIN_SHARD_VALUES)
        if shards < 2:
            return 1
        t_shape = np.shape(t)
        if not t_shape or t_shape[0] != n:
            return 1  # the unsplit path reports the mismatch
        return shards if self._layers_per_sample() else 1

    def worth_splitting_evaluation(self, x: NDArray[Any], batch_size: int, n_batches: int) -> bool:
        """Whether evaluating ``x`` in ``n_batches`` batches of ``batch_size`` would spread them
        over threads (by the same rule as a training step's shards, applied to one batch)."""
        return self._evaluation_threads(x, batch_size, n_batches) > 1

    def _evaluation_threads(self, x: NDArray[Any], batch_size: int, n_batches: int) -> int:
        if n_batches < 2 or x.ndim < 1:
            return 1
        threads = self._threads_for(x, x.shape)
        copies = _COPIES.get(self.net)
        per_sample = copies.values_per_sample if copies is not None else 0.0
        if threads < 2 or min(batch_size, x.shape[0]) * per_sample < MIN_SHARD_VALUES:
            return 1
        return min(threads, n_batches) if self._layers_per_sample() else 1

    def _threads_for(self, x: ArrayLike, shape: tuple[int, ...]) -> int:
        """The threads a split of work on inputs ``x`` (of ``shape``) may use: 1 when only one
        is set or the caller is itself a pool thread. Measures the network first when the
        input shape (or the list of layers) is new, so that the caller can size the split."""
        threads = self.threads if self.threads is not None else get_num_threads()
        if threads < 2 or in_worker():
            return 1
        copies = _COPIES.setdefault(self.net, _Replicas())
        key = (tuple(shape[1:]), tuple(id(layer) for layer in self.net.layers.values()))
        if copies.measured_for != key:
            self._measure(copies, np.asarray(x), key)
        return threads

    def input_shapes(self, x: ArrayLike) -> dict[str, tuple[int, ...]]:
        """Each layer's input shape for one sample shaped like ``x[0]``, by name (measured by
        an inference-mode forward pass of one sample when the shape is new; cached)."""
        xs = np.asarray(x)
        copies = _COPIES.setdefault(self.net, _Replicas())
        key = (tuple(xs.shape[1:]), tuple(id(layer) for layer in self.net.layers.values()))
        if copies.measured_for != key:
            self._measure(copies, xs, key)
        return dict(copies.input_shapes)

    def _layers_per_sample(self) -> bool:
        return all(_per_sample(layer) for layer in [*self.net.layers.values(), self.net.last_layer])

    def _measure(self, copies: _Replicas, x: NDArray[Any], key: Any) -> None:
        """Record how many activation values one sample shaped like ``x[0]`` gives rise to,
        and each layer's input shape, by an inference-mode forward pass of that sample: it
        draws nothing random and changes no statistics (the layers' modes are restored)."""
        layers = self.net.layers
        modes = [layer.training for layer in layers.values()]
        values = 0
        shapes: dict[str, tuple[int, ...]] = {}
        out: Any = x[:1]
        try:
            for name, layer in layers.items():
                shapes[name] = tuple(np.shape(out)[1:])
                layer.train(False)
                out = layer.forward(out)
                values += getattr(out, "size", 0)
        finally:
            for layer, mode in zip(layers.values(), modes, strict=True):
                layer.train(mode)
        copies.measured_for, copies.values_per_sample, copies.input_shapes = key, float(values), shapes

    def _replicas(self, count: int) -> list[Network]:
        """``count`` copies of the network whose layers share its parameters and buffers."""
        net = self.net
        copies = _COPIES.setdefault(net, _Replicas())
        configs: list[Any] = [(name, layer.get_config()) for name, layer in net.layers.items()]
        configs.append(net.last_layer.get_config())
        if copies.made_from != configs or len(copies.replicas) < count:
            template = copy.copy(net)  # shallow: the layers are deep-copied below
            reps = []
            for _ in range(count):
                rep = copy.copy(template)
                rep.layers = {name: copy.deepcopy(layer) for name, layer in net.layers.items()}
                rep.last_layer = copy.deepcopy(net.last_layer)
                reps.append(rep)
            copies.made_from, copies.replicas = configs, reps
        for rep in copies.replicas[:count]:
            pairs = zip([*net.layers.values(), net.last_layer],
                        [*rep.layers.values(), rep.last_layer], strict=True)
            for mine, theirs in pairs:
                theirs.training = mine.training
                for name in (*mine.param_names, *mine.buffer_names):
                    setattr(theirs, name, getattr(mine, name))
        return copies.replicas[:count]

    # -- the network's methods, split -----------------------------------------------------------
    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray[Any]]:
        """:meth:`Sequential.gradient`, split; sets the network's ``last_loss``."""
        return self.loss_and_gradient(x, t)[1]

    def loss_and_gradient(self, x: ArrayLike, t: ArrayLike) -> tuple[float, dict[str, NDArray[Any]]]:
        """:meth:`Sequential.loss_and_gradient`, split across threads when that is worth it."""
        return self.net.apply_weight_decay(self.data_loss_and_backward(x, t))

    def data_loss_and_backward(self, x: ArrayLike, t: ArrayLike, dout: float = 1.0) -> float:
        """Forward and backward of ``(x, t)``, split across threads when that is worth it: returns
        the data loss times ``dout`` and leaves the gradients of that product in the layers
        (no weight decay). ``dout`` is a shard's share of a larger batch, for callers that
        add up shards themselves (:mod:`layerwise.fast.distributed`)."""
        net = self.net
        shards = self.shard_count(x, t)
        if shards < 2:
            data_loss = net.data_loss(x, t)
            backward_without_input_gradient(net, dout)
            return data_loss * dout
        xs, ts = np.asarray(x), np.asarray(t)
        n = xs.shape[0]
        nets = [net, *self._replicas(shards - 1)]
        bounds = self.split(n, shards)
        masks = self._fix_dropout_masks(nets, bounds, n)

        def shard(i: int) -> float:
            lo, hi = bounds[i]
            loss = nets[i].data_loss(xs[lo:hi], ts[lo:hi])
            backward_without_input_gradient(nets[i], (hi - lo) / n * dout)  # weighted by its share
            return loss * (hi - lo) / n * dout

        try:
            losses = self.run_shards(shard, shards)
        finally:
            for name in masks:
                for each in nets:
                    each.layers[name].unfreeze_randomness()
        for name, mask in masks.items():  # the whole batch's mask, as after an unsplit step
            net.layers[name].mask = mask  # type: ignore[attr-defined]
        self.sum_gradients(nets)
        return float(sum(losses))

    def _fix_dropout_masks(self, nets: list[Network], bounds: list[tuple[int, int]],
                           n: int) -> dict[str, NDArray[Any]]:
        """Draw each training-mode Dropout's mask for the whole batch, as an unsplit forward
        pass would (same generator, same order), and fix each shard's slice of it in that
        shard's copy of the layer for this step. Returns the masks by layer name."""
        copies = _COPIES[self.net]
        masks: dict[str, NDArray[Any]] = {}
        for name, layer in self.net.layers.items():
            if isinstance(layer, Dropout) and layer.training:
                masks[name] = mask = layer.draw_mask((n, *copies.input_shapes[name]))
                for each, (lo, hi) in zip(nets, bounds, strict=True):
                    each.layers[name].fix_mask(mask[lo:hi])  # type: ignore[attr-defined]
        return masks

    def evaluate(self, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> tuple[float, float]:
        """:meth:`Sequential.evaluate`, its batches spread over threads when that is worth it."""
        return self.net._evaluate(x, t, batch_size, True, self)

    def accuracy(self, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> float:
        """:meth:`Sequential.accuracy`, its batches spread over threads when that is worth it."""
        return self.net._evaluate(x, t, batch_size, False, self)[1]

    def score_batches(self, x: NDArray[Any], t: NDArray[Any], starts: range, step: int,
                      with_loss: bool) -> tuple[int, float]:
        """:meth:`Sequential.score_batches`, every ``k``-th batch on the ``k``-th of the threads
        (each on its own copy of the layers), when that is worth it."""
        k = self._evaluation_threads(x, step, len(starts))
        if k < 2:
            return self.net.score_batches(x, t, starts, step, with_loss)
        nets = [self.net, *self._replicas(k - 1)]
        parts = self.run_shards(lambda i: nets[i].score_batches(x, t, starts[i::k], step, with_loss), k)
        return sum(c for c, _ in parts), sum(loss for _, loss in parts)
