"""Data parallelism across processes: synchronous training over MPI (``mpi4py``), as Horovod does it.

Started by ``mpirun -n N``, every process (a *rank*) holds the whole network. Each global
batch of ``B`` samples, drawn from the same seeded permutation on every rank, is cut into
``N`` contiguous shards (:func:`shard_bounds`, the bounds of
:meth:`layerwise.parallel.DataParallel.split`); rank ``r`` runs forward and backward of the
``r``-th with its loss scaled by its share ``n_r / B``, and one ``Allreduce`` (MPI's buffer
interface, no pickling) sums the gradients, packed into one contiguous buffer of their own
dtype. Every rank then holds the gradient of the global batch's mean loss, the one a single
process computes up to float rounding, and applies the same update: the weights stay the
same on every rank, bit for bit. It is :class:`~layerwise.parallel.DataParallel`'s seam
(split, run the shards, sum the gradients) with processes for threads and an allreduce for
the sum.

What else keeps the ranks in step (:class:`DistributedTrainer`, which ``layerwise train``
uses under ``mpirun``):

- at start the ranks compare their layerwise and NumPy versions, architectures, data,
  settings and random states (:meth:`World.agree`), then rank 0's parameters and buffers
  are broadcast (:meth:`World.broadcast_network`);
- Dropout: every rank draws the whole batch's mask from the layer's generator (which is in
  the same state on every rank) and applies its own slice, so the masks are those of a
  single-process run, whatever ``N``;
- BatchNormalization in training mode normalises by the statistics of the whole global
  batch, not of its shard (SyncBatchNorm; Horovod's default would be per shard): for the
  step, each such layer becomes a :class:`_SyncBatchNorm`, whose forward pass allreduces the
  per-feature sums for the mean and then the sums of squared deviations for the variance,
  and whose backward pass allreduces the two sums in ``dx``, with the counts of the global
  batch (the shards may differ in size). Its running statistics therefore update to the
  same values on every rank, those of one process; after the step the layer is a plain
  BatchNormalization again, so model files and checkpoints are those of a one-process run.
  Three allreduces per such layer and step, besides the gradients' one (see
  :meth:`World.train_step`);
- evaluation is split across ranks and the counts and losses summed (:meth:`World.evaluate`);
- rank 0 alone logs, shows progress and writes checkpoints.

A book-style loop (chapter 5's ``train_neuralnet.py``) on the module-level functions::

    import layerwise as lw
    dist = lw.distributed
    rng = np.random.default_rng(0)                   # the same seed on every rank
    net = lw.TwoLayerNet(784, 50, 10, rng=rng)
    dist.broadcast_parameters(net)
    for i in range(iters_num):
        idx = rng.choice(train_size, batch_size)     # the same batch on every rank
        x_shard, t_shard = dist.shard(x_train[idx], t_train[idx])
        grads = dist.allreduce_mean(net.gradient(x_shard, t_shard), weight=len(x_shard))
        optimizer.update(net.params, grads)

Faults: an exception on one rank after the start would leave the others waiting in the next
collective call forever; :meth:`World.abort_on_error` (which ``layerwise train`` uses)
reports it and ends every rank with ``MPI_Abort``. A rank that dies is noticed by
``mpirun``, which ends the others.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stdout
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from layerwise import parallel
from layerwise.errors import ConfigError, DataError, LayerwiseError, NonFiniteError, ShapeError
from layerwise.layers.dropout import Dropout
from layerwise.layers.normalization import BatchNormalization
from layerwise.networks.sequential import Sequential
from layerwise.trainer import EpochRecord, Trainer

__all__ = ["launched", "init", "World", "DistributedTrainer", "DistributedError", "shard_bounds",
           "shard", "allreduce_mean", "broadcast_parameters", "average_buffers", "rank", "size",
           "SIZE_VARIABLES"]

#: Environment variables through which launchers tell a process the size of its job: Open MPI,
#: MPICH / Intel MPI (Hydra), MVAPICH. ``layerwise train`` runs distributed when one says > 1.
SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")


class DistributedError(LayerwiseError, RuntimeError):
    """The ranks of an MPI job cannot work together: one failed, or they run other versions."""


def launched() -> bool:
    """Whether this process was started by an MPI launcher as one of several (:data:`SIZE_VARIABLES`)."""
    for name in SIZE_VARIABLES:
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            continue
    return False


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as exc:  # RuntimeError: mpi4py without an MPI library
        raise ConfigError(f"distributed training needs mpi4py and an MPI library: "
                          f"pip install 'layerwise[mpi]' ({exc})") from None
    return MPI


def shard_bounds(n: int, shards: int, index: int) -> tuple[int, int]:
    """``(lo, hi)`` of the ``index``-th of ``shards`` contiguous shards of ``n`` samples, as
    even as can be (those of :meth:`layerwise.parallel.DataParallel.split`)."""
    return n * index // shards, n * (index + 1) // shards


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype.str}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).view(np.uint8).ravel().data)
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: How each fact that ranks compare at start is named in a report, and the error it raises.
_FACTS: dict[str, tuple[str, type[LayerwiseError]]] = {
    "version": ("versions", DistributedError),
    "settings": ("training settings", ConfigError),
    "model": ("model", ConfigError),
    "data": ("data", DataError),
    "schedule": ("batch size and epochs", ConfigError),
    "optimizer": ("optimizer state", ConfigError),
    "random": ("random generators' states (give every rank the same seed and checkpoint)", ConfigError),
}


class World:
    """The processes of an MPI job (``MPI.COMM_WORLD`` unless ``comm`` is given) and the
    collective operations layerwise needs of them.

    ``rank`` and ``size`` are this process's number and the job's size; ``allreduce_calls``,
    ``allreduce_bytes`` and ``allreduce_seconds`` count this rank's allreduces (for
    benchmarks). Every method whose docstring says *collective* must be called by every
    rank, in the same order.
    """

    def __init__(self, comm: Any = None) -> None:
        mpi = _mpi()
        self._mpi = mpi
        self.comm = mpi.COMM_WORLD if comm is None else comm
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self.allreduce_calls = 0
        self.allreduce_bytes = 0
        self.allreduce_seconds = 0.0
        self.agreed_error: BaseException | None = None  # raised on every rank by agree()
        self._blas_limit: Any = None

    def __repr__(self) -> str:
        return f"World(rank={self.rank}, size={self.size})"

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0, the one that prints and writes files."""
        return self.rank == 0

    # -- shards --------------------------------------------------------------------------------
    def bounds(self, n: int) -> tuple[int, int]:
        """``(lo, hi)``: this rank's contiguous part of ``n`` samples."""
        return shard_bounds(n, self.size, self.rank)

    def shard(self, *arrays: NDArray[Any]) -> tuple[NDArray[Any], ...]:
        """This rank's part of each array (views along the first axis, not copies)."""
        if not arrays:
            return ()
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ConfigError(f"shard: arrays of different lengths {[len(a) for a in arrays]}")
        lo, hi = self.bounds(n)
        return tuple(a[lo:hi] for a in arrays)

    # -- allreduce -----------------------------------------------------------------------------
    def allreduce_sum(self, buf: NDArray[Any]) -> NDArray[Any]:
        """Collective: replace the contiguous array ``buf`` by its sum over every rank (in
        place, in its own dtype) and return it."""
        if not buf.flags.c_contiguous:
            raise ConfigError("allreduce_sum: the buffer must be C-contiguous")
        start = time.perf_counter()
        self.comm.Allreduce(self._mpi.IN_PLACE, buf, op=self._mpi.SUM)
        self.allreduce_seconds += time.perf_counter() - start
        self.allreduce_bytes += buf.nbytes
        self.allreduce_calls += 1
        return buf

    def allreduce_mean(self, grads: Mapping[str, NDArray[Any]],
                       weight: float = 1.0) -> dict[str, NDArray[Any]]:
        """Collective: the weighted mean over the ranks of each array of ``grads``,
        ``sum_r w_r * g_r / sum_r w_r``, as new arrays (``grads`` is not changed).

        Give each rank's number of samples as ``weight`` when the shards may differ in size,
        so that the result is the gradient of the whole batch's mean loss. One allreduce of
        one buffer in the arrays' dtype (which must be one floating dtype) carries the
        arrays and the weight.
        """
        keys = list(grads)
        arrays = [np.asarray(grads[k]) for k in keys]
        dtype = _one_float_dtype(arrays, "allreduce_mean")
        if not (weight >= 0 and math.isfinite(weight)):
            raise ConfigError(f"allreduce_mean: weight must be a finite number >= 0, got {weight!r}")
        w = dtype.type(weight)
        buf = np.concatenate([*(np.multiply(a, w, dtype=dtype).ravel() for a in arrays),
                              np.array([w], dtype=dtype)])
        self.allreduce_sum(buf)
        total = buf[-1]
        if not total > 0:
            raise ConfigError("allreduce_mean: the weights of all ranks sum to 0 (every shard empty?)")
        out = buf[:-1]
        out /= total
        return dict(zip(keys, _views(out, [a.shape for a in arrays]), strict=True))

    # -- keeping the network the same on every rank ----------------------------------------------
    def broadcast_network(self, net: Sequential) -> None:
        """Collective: copy rank 0's parameters and buffers into ``net`` on every rank (in
        place, so the arrays ``net.params`` shows stay the same objects)."""
        arrays = _state_arrays(net, buffers=True)
        if not arrays:
            return
        buf = np.concatenate([a.ravel() for a in arrays]).astype(_one_float_dtype(arrays, "broadcast"),
                                                                 copy=False)
        self.comm.Bcast(buf, root=0)
        for a, v in zip(arrays, _views(buf, [a.shape for a in arrays]), strict=True):
            np.copyto(a, v)

    def average_buffers(self, net: Sequential) -> None:
        """Collective: replace ``net``'s buffers (BatchNorm's running statistics) by their
        mean over the ranks, in place (a no-op for a network without buffers). For a
        book-style loop whose BatchNorm layers normalise each rank's shard by its own
        statistics; :meth:`train_step` synchronises them, and needs none of it."""
        arrays = _state_arrays(net, buffers=True, params=False)
        if not arrays or self.size == 1:
            return
        dtype = _one_float_dtype(arrays, "average_buffers")
        buf = np.concatenate([a.ravel() for a in arrays]).astype(dtype, copy=False)
        self.allreduce_sum(buf)
        buf /= dtype.type(self.size)
        for a, v in zip(arrays, _views(buf, [a.shape for a in arrays]), strict=True):
            np.copyto(a, v)

    def train_step(self, net: Sequential, x: NDArray[Any], t: NDArray[Any],
                   batch_size: int) -> tuple[float, dict[str, NDArray[Any]]]:
        """Collective: ``net.loss_and_gradient`` of a global batch of ``batch_size`` samples,
        of which ``(x, t)`` is this rank's shard (:meth:`bounds`).

        Forward and backward of the shard with its loss scaled by its share of the batch
        (Dropout masks drawn for the whole batch, BatchNorm's statistics those of the whole
        batch: see the module docstring), then one allreduce of the gradients and the loss
        packed in one buffer; weight decay is added after it, once. Sets the gradients of
        ``net``'s layers and ``last_loss``. A non-finite loss on any rank gives NaN on every
        rank (the trainer reports divergence).

        Allreduces per step: that one, plus (on more than one rank) three per training-mode
        BatchNormalization layer: two in its forward pass, one in its backward pass, each of
        one small buffer in the layer's dtype (``D``, ``D`` and ``2 D`` values for ``D``
        features or channels). A
        rank whose shard is empty, or whose step stopped at a non-finite loss, still makes
        those calls, with zeros, so that no rank waits for it.
        """
        lo, hi = self.bounds(batch_size)
        if len(x) != hi - lo or len(t) != hi - lo:
            raise ConfigError(f"train_step: rank {self.rank} of {self.size} should get samples "
                              f"{lo}:{hi} of a batch of {batch_size} ({hi - lo}), got {len(x)} inputs "
                              f"and {len(t)} targets")
        fixed = _fix_dropout_masks(net, x, batch_size, lo, hi)
        loss = 0.0
        with _synced_batchnorm(net, self, x, batch_size) as synced:
            try:
                if hi > lo:
                    loss = parallel.DataParallel(net).data_loss_and_backward(x, t, (hi - lo) / batch_size)
            except NonFiniteError:
                loss = math.nan  # every rank sees it after the allreduce, and diverges together
            finally:
                for drop in fixed:
                    drop.unfreeze_randomness()
            _SyncBatchNorm.take_part(synced)  # an empty shard, or a step stopped by NaN
        slots = [(layer, "d" + p) for layer in net.layers.values() for p in layer.param_names]
        grads = [getattr(layer, g) if hi > lo else np.zeros_like(getattr(layer, g[1:])) for layer, g in slots]
        dtype = _one_float_dtype(grads, "train_step")
        buf = np.concatenate([*(g.ravel() for g in grads), np.array([loss], dtype=dtype)])
        self.allreduce_sum(buf)
        for (layer, g), v in zip(slots, _views(buf[:-1], [g.shape for g in grads]), strict=True):
            setattr(layer, g, v)
        return net.apply_weight_decay(float(buf[-1]))

    def evaluate(self, net: Sequential, x: NDArray[Any], t: NDArray[Any], batch_size: int | None = None,
                 with_loss: bool = True) -> tuple[float, float]:
        """Collective: ``net.evaluate(x, t)`` (``(mean loss, accuracy)``; with ``with_loss``
        false, ``(0.0, accuracy)``), each rank scoring its part of ``x``, the counts and
        losses summed. Raises :class:`~layerwise.errors.NonFiniteError` on every rank if
        the scores overflow on any."""
        if len(x) == 0:
            raise ConfigError("evaluate: empty data")
        lo, hi = self.bounds(len(x))
        sums = np.zeros(3, dtype=np.float64)  # correct, summed loss, ranks whose scores overflow
        if hi > lo:
            try:
                if with_loss:
                    loss, acc = net.evaluate(x[lo:hi], t[lo:hi], batch_size)
                else:
                    loss, acc = 0.0, net.accuracy(x[lo:hi], t[lo:hi], batch_size)
                sums[:2] = round(acc * (hi - lo)), loss * (hi - lo)
            except NonFiniteError:
                sums[2] = 1
        self.allreduce_sum(sums)
        if sums[2]:
            raise NonFiniteError(f"the scores are NaN or infinite on {int(sums[2])} rank(s)")
        return float(sums[1]) / len(x), float(sums[0]) / len(x)

    # -- start and faults -------------------------------------------------------------------------
    def agree(self, facts: Mapping[str, str], failure: BaseException | None = None) -> None:
        """Collective: every rank states whether its start succeeded (``failure``: the error
        if not) and its ``facts`` (text by name, e.g. ``"version"``); rank 0's are compared
        with everyone's. If any rank failed or any fact differs, every rank raises the same
        one-line error (kept in :attr:`agreed_error`), naming the ranks and what differs."""
        mine = None if failure is None else (isinstance(failure, ConfigError), _one_line(failure))
        reports = self.comm.allgather((mine, dict(facts)))  # a few short strings: pickling is fine
        failed = [(r, f) for r, (f, _) in enumerate(reports) if f is not None]
        error: LayerwiseError | None = None
        if failed:
            messages = {m for _, (_, m) in failed}
            if len(failed) == self.size and len(messages) == 1:
                text = messages.pop()
            else:
                text = "; ".join(f"rank {r}: {m}" for r, (_, m) in failed[:4])
                if len(failed) > 4:
                    text += f"; and {len(failed) - 4} more rank(s)"
            error = (ConfigError if failed[0][1][0] else DistributedError)(text)
        else:
            first = reports[0][1]
            for r, (_, theirs) in enumerate(reports):
                names = sorted(set(first) | set(theirs))
                key = next((k for k in names if first.get(k) != theirs.get(k)), None)
                if key is not None:
                    what, cls = _FACTS.get(key, (f"setting {key}", ConfigError))
                    error = cls(f"the ranks of this MPI job disagree on the {what}: rank 0 has "
                                f"{_short(first.get(key, 'none'))}, rank {r} has "
                                f"{_short(theirs.get(key, 'none'))}")
                    break
        if error is not None:
            self.agreed_error = error
            raise error

    @contextmanager
    def abort_on_error(self) -> Iterator[None]:
        """Inside the block, an exception on this rank is reported on stderr and ends every
        rank of the job (``MPI_Abort``), so that none waits forever in a collective call;
        those raised by :meth:`agree` (the same on every rank) pass. Ctrl-C passes too."""
        try:
            yield
        except Exception as exc:
            if exc is self.agreed_error:
                raise
            if not isinstance(exc, LayerwiseError):
                traceback.print_exc()
            self.abort(f"rank {self.rank} of {self.size}: {_one_line(exc)}",
                       2 if isinstance(exc, ConfigError) else 1)

    def abort(self, why: str, code: int = 1) -> NoReturn:
        """Print ``layerwise: error: WHY`` and end every rank of the job (``MPI_Abort``)."""
        print(f"layerwise: error: {why}; stopping every rank of the job", file=sys.stderr, flush=True)
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: Abort ends this process too

    # -- threads -----------------------------------------------------------------------------------
    def cpus_per_rank(self) -> int:
        """Collective: the CPUs this rank may use, shared out among the ranks on its node when
        the launcher did not bind each to its own cores."""
        try:
            mine = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            mine = os.cpu_count() or 1
        local = int(self.comm.Split_type(self._mpi.COMM_TYPE_SHARED).Get_size())
        if mine >= (os.cpu_count() or mine):  # not bound: every rank sees the whole node
            return max(1, mine // local)
        return max(1, mine)

    def limit_threads(self, threads: int) -> None:
        """Use ``threads`` threads in this rank for layerwise's data-parallel steps and for
        BLAS (so that ranks sharing a node do not run more threads than it has cores)."""
        parallel.set_num_threads(threads)
        from threadpoolctl import threadpool_limits

        self._blas_limit = threadpool_limits(limits=threads, user_api="blas")


def _versions() -> str:
    from layerwise.version import __version__

    return f"layerwise {__version__}, NumPy {np.__version__}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, LayerwiseError) else f"{type(exc).__name__}: {text}"


def _one_float_dtype(arrays: list[NDArray[Any]], who: str) -> np.dtype[Any]:
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        raise ConfigError(f"{who}: expected arrays of one floating dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


def _views(buf: NDArray[Any], shapes: list[tuple[int, ...]]) -> list[NDArray[Any]]:
    """Consecutive pieces of the flat ``buf``, reshaped to ``shapes``."""
    out, at = [], 0
    for shape in shapes:
        n = math.prod(shape)
        out.append(buf[at : at + n].reshape(shape))
        at += n
    return out


def _state_arrays(net: Sequential, buffers: bool, params: bool = True) -> list[NDArray[Any]]:
    """The layers' own parameter and/or buffer arrays, each once, in layer order."""
    seen: dict[int, NDArray[Any]] = {}
    for layer in net.layers.values():
        names = (*(layer.param_names if params else ()), *(layer.buffer_names if buffers else ()))
        for name in names:
            arr = getattr(layer, name)
            seen.setdefault(id(arr), arr)
    return list(seen.values())


def _fix_dropout_masks(net: Sequential, x: NDArray[Any], batch_size: int, lo: int, hi: int) -> list[Dropout]:
    """Draw each training-mode Dropout's mask for the whole batch (the same draw on every
    rank, as a single process draws it) and fix this rank's slice of it for this step."""
    drops = [(name, layer) for name, layer in net.layers.items()
             if isinstance(layer, Dropout) and layer.training and not layer.frozen]
    if not drops:
        return []
    shapes = parallel.DataParallel(net).input_shapes(x)
    for name, layer in drops:
        layer.fix_mask(layer.draw_mask((batch_size, *shapes[name]))[lo:hi])
    return [layer for _, layer in drops]


class _SyncBatchNorm(BatchNormalization):
    """BatchNormalization whose batch statistics are those of the whole global batch
    (SyncBatchNorm), for one :meth:`World.train_step`.

    :func:`_synced_batchnorm` turns each training-mode BatchNormalization of a network into
    one of these for the step (by its ``__class__``: the same object, arrays and caches) and
    back after it, so that everything outside a step (evaluation, ``state_dict``, model files,
    checkpoints, copies) sees plain BatchNormalization layers. The book's formulas are
    unchanged; only the sums over the batch axis become sums over every rank's rows, and the
    counts the global ones (``M``: the global batch's samples, times ``H * W`` per channel
    for images), whatever the shards' sizes:

    - forward, two passes (as one process computes the variance, with no cancellation):
      allreduce ``sum(x)`` for ``mu = sum / M``, then ``sum((x - mu)**2)`` for ``var``;
      every rank then holds the same ``mu`` and ``var``, and updates the running statistics
      to the same values, those of a single process;
    - backward: allreduce ``sum(dxn)`` and ``sum(dxn * xn)`` (one buffer) for the two means
      in ``dx = (dxn - mean(dxn) - xn * mean(dxn * xn)) / std``, which makes ``dx`` for this
      rank's rows the one a single process computes for them. ``dgamma`` and ``dbeta`` stay
      this shard's sums: the step's gradient allreduce adds them up with the others.

    The allreduces are in the layer's dtype (float32 normally), as the one-process layer
    accumulates its sums: the results differ from it only in the order of the additions.
    """

    _world: World
    _samples: int  # of the global batch, this step
    _count: int  # values per feature in the global batch: _samples, times H * W for images
    _phase: int  # collective calls made this step: 0 none, 1 those of forward, 2 backward's too

    @property
    def name(self) -> str:
        return "BatchNormalization"

    def _sync(self, world: World, samples: int, rows_per_sample: int) -> None:
        self._world, self._samples, self._count, self._phase = world, samples, samples * rows_per_sample, 0

    def _global_moments(self, x2: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        """``(mu, xc, var)`` of the global batch of which ``x2`` holds this rank's rows (two
        allreduces), the running statistics updated with them."""
        m = self._count
        if m < 2:
            raise ShapeError(
                f"BatchNormalization: training mode needs at least 2 values per feature to normalise "
                f"by batch statistics, got {m} in the whole batch of {self._samples}; use a larger "
                "batch, or eval() mode")
        mu = self._world.allreduce_sum(np.ascontiguousarray(x2.sum(axis=0))) / m
        xc = x2 - mu
        var = self._world.allreduce_sum(np.ascontiguousarray(np.sum(xc * xc, axis=0))) / m
        mom = self.momentum  # as BatchNormalization.forward: in place, in the buffers' dtype
        self.running_mean *= mom
        self.running_mean += (1.0 - mom) * mu
        self.running_var *= mom
        self.running_var += (1.0 - mom) * var
        self._phase = 1
        return mu, xc, var

    def forward(self, x: Any) -> NDArray[Any]:
        if not self.training:
            return super().forward(x)
        x = self._input(x)
        x2 = self._to_2d(x)
        if x2.shape[0] != len(x) * (self._count // self._samples):
            raise ShapeError(f"BatchNormalization: input {x.shape} in a distributed step whose "
                             f"inputs have {self._count // self._samples} values per channel")
        _, xc, var = self._global_moments(x2)
        std = np.sqrt(var + self.gamma.dtype.type(self.eps))
        xn = xc / std
        self.input_shape = x.shape
        self.batch_size = self._count
        self.xn, self.std = xn, std
        self._train_stats = True
        return self._from_2d(self.gamma * xn + self.beta, x.shape)

    def backward(self, dout: Any) -> NDArray[Any]:
        if not self._train_stats:
            return super().backward(dout)
        self._require(self.xn)
        assert self.xn is not None and self.std is not None and self.input_shape is not None
        assert self.batch_size is not None
        d = self._to_2d(self._dout(dout, self.input_shape, self.gamma.dtype))
        xn = self.xn
        self.dbeta = d.sum(axis=0)
        self.dgamma = np.sum(d * xn, axis=0)
        dxn = self.gamma * d
        sums = self._world.allreduce_sum(np.concatenate([dxn.sum(axis=0), np.sum(dxn * xn, axis=0)]))
        self._phase = 2
        mean_dxn, mean_dxn_xn = np.split(sums / self.batch_size, 2)
        dx = (dxn - mean_dxn - xn * mean_dxn_xn) / self.std
        return self._from_2d(dx, self.input_shape)

    @staticmethod
    def take_part(layers: list[_SyncBatchNorm]) -> None:
        """Make the collective calls that ``layers`` (a network's synchronised BatchNorms, in
        order) have not made this step, with nothing of this rank in them: the rest of the
        forward passes in order (which update the running statistics as on the other ranks),
        then the backward passes in reverse order. For a rank whose shard is empty, or whose
        step stopped at a non-finite loss; nothing after a complete step."""
        for layer in layers:
            if layer._phase == 0:
                layer._global_moments(np.zeros((0, layer.gamma.shape[0]), layer.gamma.dtype))
        for layer in reversed(layers):
            if layer._phase == 1:
                layer._world.allreduce_sum(np.zeros(2 * layer.gamma.shape[0], layer.gamma.dtype))
                layer._phase = 2


@contextmanager
def _synced_batchnorm(net: Sequential, world: World, x: NDArray[Any],
                      samples: int) -> Iterator[list[_SyncBatchNorm]]:
    """For the block (one training step of a global batch of ``samples``, of which ``x`` is
    this rank's part, perhaps empty), each training-mode BatchNormalization of ``net`` is a
    :class:`_SyncBatchNorm` of ``world``; yields them, in order. Afterwards they are plain
    BatchNormalization layers again (the synchronisation's attributes removed), also if the
    block raises. The global count of each layer comes from its input's shape per sample
    (measured once on a sample of zeros, so a rank with an empty shard knows it too)."""
    layers: list[_SyncBatchNorm] = []
    bns = [(name, layer) for name, layer in net.layers.items()
           if isinstance(layer, BatchNormalization) and layer.training]
    if world.size > 1 and bns:
        shapes = parallel.DataParallel(net).input_shapes(np.zeros((1, *x.shape[1:]), x.dtype))
        for name, layer in bns:
                if type(layer) is not BatchNormalization:
                    raise ConfigError(f"distributed training synchronises BatchNormalization's batch "
                                      f"statistics across ranks, and cannot do it for its subclass "
                                      f"{type(layer).__name__}")
                layer.__class__ = _SyncBatchNorm
                assert isinstance(layer, _SyncBatchNorm)
                layer._sync(world, samples, math.prod(shapes[name][1:]))  # 1, or H * W
                layers.append(layer)
    try:
        yield layers
    finally:
        for layer in layers:
            plain: BatchNormalization = layer
            plain.__class__ = BatchNormalization
            for attr in ("_world", "_samples", "_count", "_phase"):
                plain.__dict__.pop(attr, None)


# -- the default world and the book-style functions ------------------------------------------------
_world: World | None = None


def init() -> World:
    """The job's :class:`World` (``MPI.COMM_WORLD``), made on first use; initialises MPI."""
    global _world
    if _world is None:
        _world = World()
    return _world


def rank() -> int:
    """This process's rank in the job (0 for the one that prints and writes)."""
    return init().rank


def size() -> int:
    """The number of processes in the job."""
    return init().size


def shard(*arrays: NDArray[Any]) -> tuple[NDArray[Any], ...]:
    """This rank's contiguous part of each array (a batch, or a batch's inputs and targets)."""
    return init().shard(*arrays)


def allreduce_mean(grads: Mapping[str, NDArray[Any]], weight: float = 1.0) -> dict[str, NDArray[Any]]:
    """Collective: the mean over the ranks of ``grads`` (see :meth:`World.allreduce_mean`;
    pass ``weight=len(x_shard)`` when shards may differ in size)."""
    return init().allreduce_mean(grads, weight)


def broadcast_parameters(net: Sequential) -> None:
    """Collective: rank 0's parameters and buffers into ``net`` on every rank."""
    init().broadcast_network(net)


def average_buffers(net: Sequential) -> None:
    """Collective: BatchNorm's running statistics averaged over the ranks, in place (for a
    book-style loop, whose BatchNorm layers see only their own shard)."""
    init().average_buffers(net)


# -- the trainer -------------------------------------------------------------------------------------
class DistributedTrainer(Trainer):
    """:class:`~layerwise.trainer.Trainer` on every rank of an MPI job, data-parallel.

    The same arguments as ``Trainer`` (each rank gives the whole data set and the same seed),
    and ``world`` (by default :func:`init`'s). Every rank must call :meth:`fit` (and any
    evaluation) together. At the start of :meth:`fit` the ranks compare versions, model,
    data, batch size, optimizer state and random states (:meth:`World.agree`), then rank 0's
    weights are broadcast. Each step takes this rank's shard of the global batch
    (:meth:`World.train_step`); augmentation, if set, transforms the whole batch on every
    rank (so the generator stays the same on all of them) and each keeps its shard.
    BatchNormalization uses the global batch's statistics, so its running statistics stay
    the same on every rank and need no averaging before evaluating or saving. Only rank 0
    logs, shows progress and writes checkpoints.
    """

    def __init__(self, *args: Any, world: World | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.world = world if world is not None else init()
        if not self.world.is_root:
            self.progress, self.log, self.checkpoint = False, None, None

    def facts(self) -> dict[str, str]:
        """What every rank's run must share, as text by name (see :meth:`World.agree`)."""
        net = self.network
        shapes = ", ".join(f"{k} {'x'.join(map(str, v.shape))}" for k, v in net.params.items())
        data = [a for a in (self.x_train, self.t_train, self.x_test, self.t_test) if a is not None]
        tests = "" if self.x_test is None else f", {len(self.x_test)} test samples"
        state_fn = getattr(self.optimizer, "state_dict", None)
        opt_state = state_fn() if state_fn is not None else {}
        rngs = [self.rng, *(gen for layer in net.layers.values()  # Dropout's
                            if isinstance(gen := getattr(layer, "rng", None), np.random.Generator))]
        return {
            "version": _versions(),
            "model": f"{type(net).__name__} ({shapes}) [{_digest(net.get_config())}]",
            "data": f"{len(self.x_train)} training samples{tests} [{_digest(*data)}]",
            "schedule": f"batch {self.batch_size}, {self.epochs} epochs, {self.epoch} done",
            "optimizer": f"{type(self.optimizer).__name__} [{_digest(*opt_state.values())}]",
            "random": f"[{_digest(*(g.bit_generator.state for g in rngs))}]",
        }

    def fit(self) -> list[EpochRecord]:
        """Check that the ranks agree, broadcast rank 0's weights, and train (collective)."""
        self.world.agree(self.facts())
        self.world.broadcast_network(self.network)
        return super().fit()

    def _loss_and_gradient(self, idx: NDArray[np.intp]) -> tuple[float, dict[str, NDArray[Any]]]:
        lo, hi = self.world.bounds(len(idx))
        if self.augment is None:
            x = self.x_train[idx[lo:hi]]
        else:
            x = self.augment(self.x_train[idx], self.rng)[lo:hi]
        return self.world.train_step(self.network, x, self.t_train[idx[lo:hi]], len(idx))

    def _score(self, x: NDArray[Any], t: NDArray[Any], with_loss: bool = True,
               batch_size: int | None = None) -> tuple[float, float]:
        return self.world.evaluate(self.network, x, t, batch_size, with_loss)

    def save_checkpoint(self, path: Any) -> None:
        """Rank 0 writes the checkpoint (the ranks' states are the same); the others do nothing."""
        if self.world.is_root:
            super().save_checkpoint(path)


# -- the command line's side ----------------------------------------------------------------------
@contextmanager
def starting(world: World | None) -> Iterator[dict[str, str]]:
    """Around a command's start (its checks, loading data, building the model): yields a
    dict for facts the ranks must share. At the end every rank reports whether its start
    succeeded, with those facts (:meth:`World.agree`), so that a failure on one rank is
    reported by rank 0 and every rank stops, instead of the others waiting. Nothing is done
    when ``world`` is None (a single process)."""
    facts: dict[str, str] = {"version": _versions()}
    if world is None:
        yield facts
        return
    try:
        yield facts
    except Exception as exc:
        if not isinstance(exc, LayerwiseError):
            traceback.print_exc()  # a bug, on this rank: its traceback, then the agreed error
        world.agree({}, failure=exc)
        raise
    world.agree(facts)


def run_command(world: World, body: Callable[[], int]) -> int:
    """Run a command's ``body`` on this rank of ``world``: rank 0 alone writes to stdout; an
    error agreed at start is reported by rank 0 alone (the others return its exit code
    silently); any other error ends every rank (:meth:`World.abort_on_error`)."""
    if world.is_root:
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:  # lines as they come, through mpirun's pipe
            reconfigure(line_buffering=True)
    with open(os.devnull, "w") if not world.is_root else nullcontext(None) as devnull:
        try:
            with redirect_stdout(devnull) if devnull is not None else nullcontext(), world.abort_on_error():
                return body()
        except LayerwiseError as exc:
            if exc is not world.agreed_error or world.is_root:
                raise
            return 2 if isinstance(exc, ConfigError) else 1
