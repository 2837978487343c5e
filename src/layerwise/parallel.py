"""Threads for data-parallel training steps.

NumPy runs each element-wise operation on one core; only BLAS products use more. A training
step of a network with large activations (a CNN: ReLU, pooling and im2col over 100 x 30 x 24 x 24
values) therefore leaves the other cores idle for most of its time. For such networks
:meth:`layerwise.Sequential.gradient` cuts the batch into one contiguous shard per thread and
runs forward and backward of each shard on its own copy of the layers (the parameter arrays are
shared, the caches are not), with BLAS kept to one thread meanwhile so that the shards do not
compete for cores, then sums the shards' gradients. NumPy releases the GIL inside its loops,
so the threads really run at once. ``accuracy`` and ``evaluate`` spread such a network's
batches over the threads the same way, and element-wise optimizers update large parameters
in one part per thread (:mod:`layerwise.optimizers`).

Small networks (the book's TwoLayerNet) stay on one thread: their steps are a few hundred
microseconds of many small operations, and handing them to threads costs more than it saves.

``set_num_threads(n)`` sets how many threads layerwise uses (``1`` turns this off); the default
is the ``LAYERWISE_NUM_THREADS`` environment variable, else the number of CPUs this process
may run on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from layerwise.errors import ConfigError

__all__ = ["get_num_threads", "set_num_threads", "run_sharded", "blas_single_threaded", "in_worker"]

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
