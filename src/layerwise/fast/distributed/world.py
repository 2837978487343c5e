"""The communicator: one MPI job's processes (ranks), their collective calls and the checks that
keep a job from hanging or silently diverging."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import ConfigError, DataError, LayerwiseError, NonFiniteError
from layerwise.fast import parallel
from layerwise.fast.distributed.sync_batchnorm import _SyncBatchNorm, _synced_batchnorm
from layerwise.layers.dropout import Dropout
from layerwise.networks.sequential import Sequential

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
    even as can be (those of :meth:`layerwise.fast.parallel.DataParallel.split`)."""
    return n * index // shards, n * (index + 1) // shards


def digest(*parts: Any) -> str:
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


def versions() -> str:
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
