"""The fast optimizer updates: the rules of :mod:`layerwise.optimizers`, blocked and threaded.

:class:`layerwise.optimizers.Optimizer` hands a whole update here, in one branch, when
:func:`layerwise.fast.enabled` and :func:`kernel_for` knows the optimizer's rule. The numbers
are those of the rule's ``update_one`` up to float rounding (``tests/test_optimizers.py`` runs
every optimizer both ways); what is done differently:

* SGD, AdaGrad, RMSprop and Adam are written as sequences of ``out=`` operations into one
  scratch buffer, so an update makes no temporary arrays (which made up much of its time);
  Momentum and Nesterov, whose rules are short, keep their temporaries (faster on small
  parameters than extra ``out=`` calls);
* a long parameter is updated in blocks of at most :data:`UPDATE_BLOCK` entries, so that the
  block of the parameter, gradient and state stays in the CPU's cache between the rule's passes
  (Adam makes about ten);
* a parameter of at least two parts of :data:`PARALLEL_MIN_PART` entries is split into
  contiguous parts, one per thread (:mod:`layerwise.fast.parallel`).

Every rule is element-wise, so each part and block is updated exactly as the whole would be:
the result does not depend on either knob, bit for bit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.fast import parallel

__all__ = ["PARALLEL_MIN_PART", "UPDATE_BLOCK", "kernel_for", "update"]

Array = NDArray[Any]
#: ``kernel(optimizer, param, grad, state, buf)``: update the (flat or whole) ``param`` and
#: its ``state`` arrays (in the order of the rule's ``slot_names``) in place, using ``buf``
#: (same shape, same dtype) as work space.
Kernel = Callable[[Any, Array, Array, tuple[Array, ...], Array], None]

#: A parameter is updated in parts on several threads only from this many entries per part.
#: Element-wise updates are limited by memory more than by arithmetic, so a second core helps
#: only large ones. Measured, Adam on float32 inside SimpleConvNet's training loop: its
#: 432,000-entry weight took 1.25 ms on one thread and 1.06 ms on two; on its own, with
#: everything in cache, 0.78 and 0.76 ms (2**20 entries: 1.9 and 1.5 ms; 2**22: 11 and 6.8 ms).
#: May be changed at run time (tests set it low to exercise the threaded path).
PARALLEL_MIN_PART = 1 << 17
#: A long update runs over blocks of at most this many entries: 432,000 float32 in one go took
#: 1.09 ms, in blocks of 2**17 0.77 ms (blocks of 2**13 are slower again: the per-call overhead
#: takes over). May be changed at run time.
UPDATE_BLOCK = 1 << 17

_BLOCK_SCRATCH = threading.local()  # per thread: a block-sized work buffer per dtype


# -- the rules, in out= form ------------------------------------------------------------------
def _sgd(o: Any, p: Array, g: Array, state: tuple[Array, ...], buf: Array) -> None:
    np.multiply(g, o.lr, out=buf)
    p -= buf


def _momentum(o: Any, p: Array, g: Array, state: tuple[Array, ...], buf: Array) -> None:
    # temporaries here, not buf: on small parameters two operators beat three out= calls
    (v,) = state
    v *= o.momentum
    v -= o.lr * g
    p += v


def _nesterov(o: Any, p: Array, g: Array, state: tuple[Array, ...], buf: Array) -> None:
    (v,) = state
    m = o.momentum
    p += (m * m) * v
    p -= ((1.0 + m) * o.lr) * g
    v *= m
    v -= o.lr * g


def _adagrad(o: Any, p: Array, g: Array, state: tuple[Array, ...], buf: Array) -> None:
    (h,) = state
    np.multiply(g, g, out=buf)
    h += buf
    _step_over_root(o.lr, o.eps, p, g, h, buf)


def _rmsprop(o: Any, p: Array, g: Array, state: tuple[Array, ...], buf: Array) -> None:
    (h,) = state
    d = o.decay_rate
    h *= d
    np.multiply(g, 1.0 - d, out=buf)
    buf *= g
    h += buf
    _step_over_root(o.lr, o.eps, p, g, h, buf)


def _step_over_root(lr: float, eps: float, p: Array, g: Array, h: Array, buf: Array) -> None:
    """``p -= lr * g / (sqrt(h) + eps)``, rounded as that expression is."""
    np.sqrt(h, out=buf)
    buf += eps
    np.divide(np.multiply(g, lr), buf, out=buf)
    p -= buf


def _adam(o: Any, p: Array, g: Array, state: tuple[Array, ...], buf: Array) -> None:
    m, v = state
    # m += (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g**2
    # p -= step_size * m / (sqrt(v) / bc2 + eps), using sqrt(v)/bc2 + eps == (sqrt(v) + eps*bc2) / bc2.
    # Python-float factors, so nothing is promoted to float64.
    np.subtract(g, m, out=buf)
    buf *= 1.0 - o.beta1
    m += buf
    np.multiply(g, g, out=buf)
    buf *= 1.0 - o.beta2
    v *= o.beta2
    v += buf
    step_size = o.lr / (1.0 - o.beta1**o.t)
    bc2 = math.sqrt(1.0 - o.beta2**o.t)
    np.sqrt(v, out=buf)
    buf += o.eps * bc2
    np.divide(m, buf, out=buf)
    buf *= step_size * bc2
    p -= buf


#: The rule each kernel implements, by the ``__qualname__`` of its ``update_one`` in
#: :mod:`layerwise.optimizers`. A subclass that overrides ``update_one`` runs its own rule.
KERNELS: dict[str, Kernel] = {
    "SGD.update_one": _sgd,
    "Momentum.update_one": _momentum,
    "Nesterov.update_one": _nesterov,
    "AdaGrad.update_one": _adagrad,
    "RMSprop.update_one": _rmsprop,
    "Adam.update_one": _adam,
}
#: Kernels that make temporaries instead of using ``buf``: a whole parameter's update gets
#: ``_NO_BUFFER`` and skips the buffer's look-up.
_TEMPORARIES = {_momentum, _nesterov}
_NO_BUFFER: Array = np.empty(0)


def kernel_for(optimizer: Any) -> Kernel | None:
    """The fast kernel for ``optimizer``'s rule, or ``None`` when its ``update_one`` is not one
    of :mod:`layerwise.optimizers`' own."""
    rule = getattr(type(optimizer), "update_one", None)
    if getattr(rule, "__module__", None) != "layerwise.optimizers":
        return None
    return KERNELS.get(getattr(rule, "__qualname__", ""))


def optimizer_update(optimizer: Any, params: Mapping[str, Array], grads: Mapping[str, Array]) -> bool:
    """Update ``params`` in place with the kernel of ``optimizer``'s rule; ``False`` (nothing
    done) when there is none, and the optimizer runs its own ``update_one``."""
    kernel = kernel_for(optimizer)
    if kernel is None:
        return False
    update(optimizer, kernel, params, grads)
    return True


# -- the driver -------------------------------------------------------------------------------
def update(optimizer: Any, kernel: Kernel, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
    """Update every parameter of ``params`` in place with ``kernel``, as ``optimizer``'s
    ``update_one`` would (checks, hooks and the step counter are the caller's)."""
    threads = 1 if parallel.in_worker() else parallel.get_num_threads()
    buffers: dict[str, Array] = optimizer.__dict__.setdefault("_scratch_buffers", {})
    slot, names = optimizer.slot, optimizer.slot_names
    for key, p in params.items():
        g = grads[key]
        if g.dtype != p.dtype:
            g = g.astype(p.dtype)
        state = tuple([slot(name, key, p) for name in names])
        parts = min(threads, p.size // PARALLEL_MIN_PART)
        if not p.flags.c_contiguous or (parts < 2 and p.size <= UPDATE_BLOCK):
            buf = _NO_BUFFER if kernel in _TEMPORARIES else _whole_buffer(buffers, key, p)
            kernel(optimizer, p, g, state, buf)
        else:
            state = tuple(_contiguous(optimizer, name, key, arr) for name, arr
                          in zip(optimizer.slot_names, state, strict=True))
            _in_parts(optimizer, kernel, p, g, state, max(parts, 1))


def _whole_buffer(buffers: dict[str, Array], key: str, p: Array) -> Array:
    # a whole-size buffer per parameter, reused every step
    buf = buffers.get(key)
    if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
        buf = buffers[key] = np.empty(p.shape, dtype=p.dtype)
    return buf


def _contiguous(optimizer: Any, slot: str, key: str, arr: Array) -> Array:
    if not arr.flags.c_contiguous:
        arr = optimizer.state[slot][key] = np.ascontiguousarray(arr)
    return arr


def _in_parts(optimizer: Any, kernel: Kernel, p: Array, g: Array, state: tuple[Array, ...],
              parts: int) -> None:
    """``kernel`` on ``parts`` contiguous parts of ``p``, one per thread, each in blocks of at
    most :data:`UPDATE_BLOCK` entries."""
    flat_p, flat_g = p.reshape(-1), g.reshape(-1)
    flat_state = tuple(arr.reshape(-1) for arr in state)
    n, block = flat_p.size, UPDATE_BLOCK
    bounds = [n * i // parts for i in range(parts + 1)]

    def part(i: int) -> None:
        start, stop = bounds[i], bounds[i + 1]
        blocks = -(-(stop - start) // block)
        edges = [start + (stop - start) * j // blocks for j in range(blocks + 1)]
        buf = _block_buffer(p.dtype, max(hi - lo for lo, hi in zip(edges, edges[1:], strict=False)))
        for lo, hi in zip(edges, edges[1:], strict=False):
            kernel(optimizer, flat_p[lo:hi], flat_g[lo:hi], tuple(s[lo:hi] for s in flat_state),
                   buf[: hi - lo])

    parallel.run_sharded(part, parts)


def _block_buffer(dtype: Any, n: int) -> Array:
    # one buffer per thread, reused for every block: it stays in cache, a whole-size one would not
    mine: dict[str, Array] = _BLOCK_SCRATCH.__dict__.setdefault("buffers", {})
    dt = np.dtype(dtype)
    buf = mine.get(dt.str)
    if buf is None or buf.size < n:
        buf = mine[dt.str] = np.empty(max(n, UPDATE_BLOCK), dtype=dt)
    return buf
