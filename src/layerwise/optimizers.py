"""Parameter updates (book §6.1): SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam.

Every optimizer has the book's interface ``update(params, grads)`` for dict-like ``params``
(such as a network's ``params`` view) and the modern ``step(network)``, which is
``update(network.params, network.grads)``. Parameters are updated **in place**, so a layer
that owns the array sees the new values and nothing is rebound.

Before the update rule sees the gradients they pass through *gradient hooks*, plain callables
``hook(params, grads) -> grads`` in the spirit of DeZero's ``WeightDecay`` / ``ClipGrad``:
first any given in ``hooks``, then :class:`ClipGradNorm` (option ``clip_norm``), then
:class:`WeightDecay` (option ``weight_decay``). Hooks return new arrays: the layers' ``dW``
are never modified.

The optimizer's state (iteration counter ``t`` and per-parameter arrays such as Adam's ``m``
and ``v``) is a flat dict from :meth:`Optimizer.state_dict`, arrays keyed ``"<slot>.<param
key>"`` (``"m.W1"``), ready for safetensors; :meth:`Optimizer.load_state_dict` restores it
with strict checking. State arrays have the parameter's dtype: float32 stays float32.
State entries that decay below :func:`tiny_threshold` (about 1e-31 in float32) are set to
zero every few updates, so that they never become subnormal numbers, which are slow on many CPUs.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Protocol

import numpy as np

from layerwise import parallel
from layerwise.errors import ConfigError, ShapeError
from layerwise.layers.base import Array

__all__ = [
    "Optimizer",
    "SupportsUpdate",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSprop",
    "Adam",
    "GradHook",
    "WeightDecay",
    "ClipGradNorm",
    "global_norm",
    "tiny_threshold",
    "flush_period",
    "StateValue",
]

StateValue = np.ndarray | float | int
GradHook = Callable[[Mapping[str, Array], dict[str, Array]], dict[str, Array]]


class HasParams(Protocol):
    """What :meth:`Optimizer.step` needs: a network's ``params`` and ``grads`` views."""

    @property
    def params(self) -> MutableMapping[str, Array]: ...

    @property
    def grads(self) -> Mapping[str, Array]: ...


class SupportsUpdate(Protocol):
    """What a training loop needs of an optimizer: the book's ``update(params, grads)``.

    Every :class:`Optimizer` has it; so may any other object (a rule of one's own, a wrapper).
    """

    def update(self, params: MutableMapping[str, Array], grads: Mapping[str, Array]) -> None: ...


def _check(name: str, value: float, ok: Callable[[float], bool], rule: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid {name}: {value!r} (must be a number {rule})") from None
    if isinstance(value, bool) or not math.isfinite(v) or not ok(v):
        raise ConfigError(f"Invalid {name}: {value} (must be {rule})")
    return v


def _unit(name: str, value: float) -> float:
    return _check(name, value, lambda v: 0.0 <= v < 1.0, "in [0, 1)")


def _non_negative(name: str, value: float) -> float:
    return _check(name, value, lambda v: v >= 0.0, ">= 0")


# -- gradient hooks ----------------------------------------------------------------------------
def global_norm(grads: Iterable[Array]) -> float:
    """``sqrt(sum of all squared entries)`` of several arrays, accumulated in float64."""
    return math.sqrt(sum(float(np.sum(np.square(g), dtype=np.float64)) for g in grads))


class WeightDecay:
    """L2 weight decay as a gradient hook: ``grad + rate * param`` for every parameter.

    This is ``torch.optim``'s (non-decoupled) ``weight_decay``; it applies to all parameters,
    biases included. (The book's MultiLayerNet decays only weights, through its loss: see
    :class:`~layerwise.networks.MultiLayerNet`'s ``weight_decay_lambda``.)
    """

    def __init__(self, rate: float) -> None:
        self.rate = _non_negative("weight_decay value", rate)

    def __call__(self, params: Mapping[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        return {k: g + self.rate * params[k] for k, g in grads.items()}

    def __repr__(self) -> str:
        return f"WeightDecay({self.rate:g})"


class ClipGradNorm:
    """Global gradient-norm clipping as a gradient hook.

    When the norm of all gradients together exceeds ``max_norm``, every gradient is scaled
    by ``max_norm / (norm + 1e-6)`` (as ``torch.nn.utils.clip_grad_norm_`` and DeZero's
    ``ClipGrad``); otherwise the gradients pass unchanged.
    """

    def __init__(self, max_norm: float) -> None:
        self.max_norm = _check("clip_norm value", max_norm, lambda v: v > 0.0, "> 0")

    def __call__(self, params: Mapping[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        rate = self.max_norm / (global_norm(grads.values()) + 1e-6)
        if rate >= 1.0:
            return grads
        return {k: g * rate for k, g in grads.items()}

    def __repr__(self) -> str:
        return f"ClipGradNorm({self.max_norm:g})"


def tiny_threshold(dtype: Any) -> float:
    """The magnitude below which optimizers set decaying state entries (Momentum's velocity,
    RMSprop's ``h``, Adam's ``m`` and ``v``) to zero: ``tiny / eps`` of the dtype, about 1e-31
    for float32 (2**-103) and 1e-292 for float64, so that scaling a kept entry by a decay
    factor such as ``1 - beta2`` cannot produce a subnormal number either. (For float16,
    whose range is short, only the subnormals themselves: ``tiny``.)"""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps) if info.bits >= 32 else float(info.tiny)


@functools.lru_cache(maxsize=64)
def flush_period(decay: float) -> int:
    """Steps between two flushes of state that shrinks by ``decay`` (in (0, 1)) per step: the
    most steps that shrink it by no more than ``2**-12``, from 1 to 64 (64 for the usual
    0.9 and 0.999; 12 for 0.5)."""
    return max(1, min(64, int(12 * math.log(2) / -math.log(decay))))


#: A parameter is updated in parts on several threads (:mod:`layerwise.parallel`) only from
#: this many entries per part. Element-wise updates are limited by memory more than by
#: arithmetic, so a second core helps only large ones. Measured, Adam on float32 inside
#: SimpleConvNet's training loop: its 432,000-entry weight took 1.25 ms on one thread and
#: 1.06 ms on two; on its own, with everything in cache, 0.78 and 0.76 ms (2**20 entries:
#: 1.9 and 1.5 ms; 2**22: 11 and 6.8 ms).
PARALLEL_MIN_PART = 1 << 17
#: A long element-wise update runs over blocks of at most this many entries, so that the
#: block of the parameter, gradient and state stays in the CPU's cache between the rule's
#: passes (Adam makes about ten): 432,000 float32 in one go took 1.09 ms, in blocks of 2**17
#: 0.77 ms (blocks of 2**13 are slower again: the per-call overhead takes over).
UPDATE_BLOCK = 1 << 17


_PART_SCRATCH = threading.local()  # per thread: work buffers for parts of a parameter


class _Part(str):
    """The key of one contiguous part ``[lo, hi)`` of the flattened parameter ``base``:
    :meth:`Optimizer._slot` hands out the matching part of the whole
    parameter's state (and :meth:`Optimizer._scratch` a work buffer of the part's length), so
    an element-wise ``_update_one`` updates each part exactly as it would the whole."""

    base: str
    lo: int
    hi: int

    def __new__(cls, base: str, lo: int, hi: int) -> _Part:
        part = super().__new__(cls, base)
        part.base, part.lo, part.hi = base, lo, hi
        return part


# -- the base class -------------------------------------------------------------------------------
class Optimizer:
    """Base class: hooks, the ``update`` loop, per-parameter state and its (de)serialisation.

    Subclasses list their per-parameter state arrays in ``slot_names`` and implement
    :meth:`_update_one`, which must change ``param`` in place. A subclass whose rule is
    element-wise (each entry's update reads only that entry of the parameter, gradient and
    state) says so with ``elementwise = True``; then large parameters are updated in parts on
    several threads (:mod:`layerwise.parallel`), with the same result.

    Parameters
    ----------
    lr : float
        Learning rate, ``>= 0``; may be changed between steps (validated on assignment).
    weight_decay : float, optional
        Add ``weight_decay * param`` to every gradient (see :class:`WeightDecay`).
    clip_norm : float, optional
        Clip the global gradient norm to this value (see :class:`ClipGradNorm`).
    hooks : iterable of callables ``hook(params, grads) -> grads``, optional
        Further gradient hooks, applied first, in order.
    """

    slot_names: tuple[str, ...] = ()
    elementwise = False

    def __init__(
        self,
        lr: float,
        *,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        hooks: Iterable[GradHook] = (),
    ) -> None:
        self.lr = lr
        self.weight_decay = _non_negative("weight_decay value", weight_decay)
        self.clip_norm = None if clip_norm is None else ClipGradNorm(clip_norm).max_norm
        self.hooks: list[GradHook] = list(hooks)
        self.t = 0  # number of updates so far (the book's Adam calls it ``iter``)
        self.state: dict[str, dict[str, Array]] = {slot: {} for slot in self.slot_names}

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _non_negative("learning rate", value)

    @property
    def name(self) -> str:
        return type(self).__name__

    def add_hook(self, hook: GradHook) -> None:
        """Append a gradient hook ``hook(params, grads) -> grads`` (before clip/decay)."""
        self.hooks.append(hook)

    def _pipeline(self) -> list[GradHook]:
        hooks = list(self.hooks)
        if self.clip_norm is not None:
            hooks.append(ClipGradNorm(self.clip_norm))
        if self.weight_decay:
            hooks.append(WeightDecay(self.weight_decay))
        return hooks

    # -- updating ------------------------------------------------------------------------------
    def update(self, params: MutableMapping[str, Array], grads: Mapping[str, Array]) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys) (book §6.1)."""
        current: dict[str, Array] = {}
        g: dict[str, Array] = {}
        missing = []
        for k in params:
            p = params[k]
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                what = f"array of dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
                raise TypeError(f"{self.name}.update: parameter {k!r} must be a floating NumPy array "
                                f"(updated in place), got {what}")
            current[k] = p
            if k in grads:
                g[k] = np.asarray(grads[k])
            else:
                missing.append(k)
        if missing:
            raise KeyError(f"{self.name}.update: no gradient for parameter(s) {missing}")
        self._check_shapes(current, g, "gradient")
        if self.hooks or self.clip_norm is not None or self.weight_decay:
            for hook in self._pipeline():
                g = hook(current, g)
            self._check_shapes(current, g, "gradient after the hooks")
        for k, p in current.items():
            for slot in self.slot_names:
                arr = self.state[slot].get(k)
                if arr is not None and arr.shape != p.shape:
                    raise ShapeError(
                        f"{self.name}: state {slot}.{k} has shape {arr.shape} but parameter {k!r} "
                        f"has shape {p.shape}"
                    )
        # every check done: from here on nothing fails half-way
        self.t += 1
        threads = 1 if parallel.in_worker() else parallel.get_num_threads()
        for k, p in current.items():
            gk = g[k]
            if gk.dtype != p.dtype:
                gk = gk.astype(p.dtype)
            parts = min(threads, p.size // PARALLEL_MIN_PART)
            if not self.elementwise or not p.flags.c_contiguous or (parts < 2 and p.size <= UPDATE_BLOCK):
                self._update_one(k, p, gk)
            else:
                self._update_in_parts(k, p, gk, max(parts, 1))

    def _update_in_parts(self, key: str, param: Array, grad: Array, parts: int) -> None:
        """:meth:`_update_one` on ``parts`` contiguous parts of ``param``, one per thread,
        each done in blocks of at most :data:`UPDATE_BLOCK` entries."""
        for slot in self.slot_names:  # whole-parameter state first, so no thread creates it
            arr = self._slot(slot, key, param)
            if not arr.flags.c_contiguous:
                self.state[slot][key] = np.ascontiguousarray(arr)
        flat_p, flat_g = param.reshape(-1), grad.reshape(-1)
        n = flat_p.size
        bounds = [n * i // parts for i in range(parts + 1)]

        def part(i: int) -> None:
            start, stop = bounds[i], bounds[i + 1]
            blocks = -(-(stop - start) // UPDATE_BLOCK)
            edges = [start + (stop - start) * j // blocks for j in range(blocks + 1)]
            for lo, hi in zip(edges, edges[1:], strict=False):
                self._update_one(_Part(key, lo, hi), flat_p[lo:hi], flat_g[lo:hi])

        parallel.run_sharded(part, parts)

    def _check_shapes(self, params: dict[str, Array], grads: dict[str, Array], what: str) -> None:
        # before the hooks too: weight decay's g + rate * W would broadcast a wrong shape away
        for k, p in params.items():
            if grads[k].shape != p.shape:
                raise ShapeError(
                    f"{self.name}.update: {what} {k!r} has shape {grads[k].shape}, "
                    f"parameter has {p.shape}"
                )

    def step(self, network: HasParams) -> None:
        """``update(network.params, network.grads)``: apply the last ``gradient`` call's result."""
        self.update(network.params, network.grads)

    def _update_one(self, key: str, param: Array, grad: Array) -> None:  # pragma: no cover
        raise NotImplementedError

    def _scratch(self, key: str, param: Array, dtype: Any = None) -> Array:
        """A work buffer shaped like ``param``, of ``param``'s dtype unless ``dtype`` is given
        (not state: never saved, reused every step)."""
        scratch: dict[tuple[str, str], Array] = self.__dict__.setdefault("_scratch_buffers", {})
        dt = param.dtype if dtype is None else np.dtype(dtype)
        if isinstance(key, _Part):
            # a block-sized buffer of the calling thread, which updates one part at a time:
            # reused for every part, it stays in cache, where a whole-parameter buffer would not
            n = key.hi - key.lo
            mine: dict[str, Array] = _PART_SCRATCH.__dict__.setdefault("buffers", {})
            buf = mine.get(dt.str)
            if buf is None or buf.size < n:
                buf = mine[dt.str] = np.empty(max(n, UPDATE_BLOCK), dtype=dt)
            part: Array = buf[:n]
            return part
        buf = scratch.get((key, dt.str))
        if buf is None or buf.shape != param.shape:
            buf = scratch[key, dt.str] = np.empty(param.shape, dtype=dt)
        return buf

    def _flush_tiny(self, key: str, arr: Array, decay: float, signed: bool = True) -> None:
        """Set the entries of the state array ``arr`` whose magnitude is below
        :func:`tiny_threshold` to zero, in place, every few steps (``signed=False`` when
        ``arr`` is never negative, which saves a pass).

        A state entry whose gradient stays zero (a pixel that is rarely on, a unit that went
        dead) shrinks by ``decay`` per step into the subnormal range, and arithmetic that makes
        subnormal numbers runs up to 50x slower on many x86 CPUs (measured on the development
        machine: 78,400 float32 multiplied in 7 us when normal, 340 us when subnormal; the Adam
        MLP's update took 2.5x longer from its second epoch on). Entries this small change no
        parameter that is not itself within about 1e-16 of zero: this is what a CPU's
        flush-to-zero mode does, without changing a process-wide setting.

        The pass runs every :func:`flush_period` steps, so rarely that it costs next to
        nothing, yet often enough that an entry below the threshold is zeroed before it can
        decay by more than ``2**-12`` (it stays ``2**11`` times above the subnormal range).
        """
        if decay <= 0.0 or self.t % flush_period(decay):
            return
        limit = tiny_threshold(arr.dtype)
        keep = self._scratch(key, arr, np.bool_)
        if signed:
            mag = self._scratch(key, arr)
            np.abs(arr, out=mag)
            np.greater_equal(mag, limit, out=keep)
        else:
            np.greater_equal(arr, limit, out=keep)
        np.multiply(arr, keep, out=arr)  # 0 * a subnormal is 0, with no slow path

    def _slot(self, slot: str, key: str, param: Array) -> Array:
        """State array ``slot`` of parameter ``key``: zeros at first, then kept (in its dtype)."""
        table = self.state[slot]
        if isinstance(key, _Part):  # created whole by _update_in_parts
            part: Array = table[key.base].reshape(-1)[key.lo : key.hi]
            return part
        arr = table.get(key)
        if arr is None:
            arr = table[key] = np.zeros_like(param)
        elif arr.dtype != param.dtype:
            arr = table[key] = arr.astype(param.dtype)
        return arr

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, StateValue]:
        """A flat snapshot: ``{"t": int, "<slot>.<key>": array copy, ...}``."""
        out: dict[str, StateValue] = {"t": self.t}
        for slot in self.slot_names:
            for key, arr in self.state[slot].items():
                out[f"{slot}.{key}"] = arr.copy()
        return out

    def load_state_dict(
        self,
        state: Mapping[str, Any],
        strict: bool = True,
        params: Mapping[str, Array] | None = None,
    ) -> None:
        """Restore a :meth:`state_dict` (arrays are copied).

        ``t`` may be an int or a 0-d integer array (as safetensors returns it). With
        ``strict`` (the default) unknown keys and parameters that lack some of this
        optimizer's slots are errors; otherwise unknown keys are ignored. With ``params``
        (e.g. ``net.params``) the arrays' shapes are checked against the parameters now;
        otherwise at the next update.
        """
        if "t" not in state:
            raise ConfigError(f"{self.name}.load_state_dict: missing key 't' (the iteration counter)")
        t = self._counter(state["t"])
        tables: dict[str, dict[str, Array]] = {slot: {} for slot in self.slot_names}
        unexpected: list[str] = []
        for name, value in state.items():
            if name == "t":
                continue
            slot, dot, key = name.partition(".")
            if not dot or slot not in tables or not key:
                unexpected.append(name)
                continue
            arr = np.array(value)
            if arr.dtype.kind != "f":
                raise TypeError(f"{self.name}.load_state_dict: {name!r} must be a floating array, "
                                f"got dtype {arr.dtype}")
            tables[slot][key] = arr
        problems: list[str] = []
        if strict and unexpected:
            problems.append(f"unexpected key(s) {sorted(unexpected)} (this optimizer keeps "
                            f"{['t', *(s + '.<param>' for s in self.slot_names)]})")
        if strict:
            keys = set().union(*(set(tb) for tb in tables.values())) if tables else set()
            for slot, table in tables.items():
                lacking = sorted(keys - set(table))
                if lacking:
                    problems.append(f"missing {[f'{slot}.{k}' for k in lacking]}")
        if params is not None:
            for slot, table in tables.items():
                for key, arr in table.items():
                    if key not in params:
                        problems.append(f"{slot}.{key} is for a parameter {key!r} the network lacks")
                    elif np.shape(params[key]) != arr.shape:
                        problems.append(f"{slot}.{key} has shape {arr.shape}, parameter {key!r} has "
                                        f"shape {np.shape(params[key])}")
        if problems:
            raise ConfigError(f"{self.name}.load_state_dict: " + "; ".join(problems))
        self.t = t
        self.state = tables

    def _counter(self, value: Any) -> int:
        arr = np.asarray(value)
        v = arr.item() if arr.shape == () and arr.dtype.kind in "iuf" else None
        if v is None or not math.isfinite(v) or v != int(v) or v < 0:
            raise ConfigError(
                f"{self.name}.load_state_dict: 't' must be a non-negative integer, got {value!r}"
            )
        return int(v)

    # -- display ----------------------------------------------------------------------------------
    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr}

    def __repr__(self) -> str:
        parts = [f"{k}={v:g}" for k, v in self._hyper().items()]
        if self.weight_decay:
            parts.append(f"weight_decay={self.weight_decay:g}")
        if self.clip_norm is not None:
            parts.append(f"clip_norm={self.clip_norm:g}")
        if self.hooks:
            parts.append(f"hooks={self.hooks!r}")
        return f"{self.name}({', '.join(parts)})"


# -- the update rules --------------------------------------------------------------------------------
class SGD(Optimizer):
    """Stochastic gradient descent: ``W -= lr * dW`` (book §6.1.2)."""

    elementwise = True

    def __init__(self, lr: float = 0.01, **options: Any) -> None:
        super().__init__(lr, **options)

    def _update_one(self, key: str, param: Array, grad: Array) -> None:
        buf = self._scratch(key, param)
        np.multiply(grad, self.lr, out=buf)
        param -= buf


class Momentum(Optimizer):
    """Momentum (book §6.1.4): ``v = momentum * v - lr * dW;  W += v``, ``v`` starting at 0.

    For a constant ``lr`` this is the same trajectory as ``torch.optim.SGD(momentum=...)``,
    whose buffer is ``b = momentum * b + dW`` with ``W -= lr * b`` (so ``v = -lr * b``).
    """

    elementwise = True

    slot_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, **options: Any) -> None:
        super().__init__(lr, **options)
        self.momentum = _unit("momentum value", momentum)

    def _update_one(self, key: str, param: Array, grad: Array) -> None:
        v = self._slot("v", key, param)
        v *= self.momentum
        v -= self.lr * grad
        param += v
        self._flush_tiny(key, v, self.momentum)

    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the form of Bengio et al. (arXiv:1212.0901, eq. 7)::

        W += momentum**2 * v - (1 + momentum) * lr * dW      (v from the previous step)
        v  = momentum * v - lr * dW

    which equals ``torch.optim.SGD(momentum=..., nesterov=True)`` for a constant ``lr``. The
    book's code updates ``v`` first and so applies ``momentum**2`` to the *new* velocity, a
    slightly different (and not the paper's) rule.
    """

    def _update_one(self, key: str, param: Array, grad: Array) -> None:
        v = self._slot("v", key, param)
        m = self.momentum
        param += (m * m) * v
        param -= ((1.0 + m) * self.lr) * grad
        v *= m
        v -= self.lr * grad
        self._flush_tiny(key, v, m)


class AdaGrad(Optimizer):
    """AdaGrad (book §6.1.5): ``h += dW * dW;  W -= lr * dW / (sqrt(h) + eps)``.

    ``eps`` is 1e-7 as in the book (``torch.optim.Adagrad`` uses 1e-10; otherwise the same).
    """

    elementwise = True

    slot_names = ("h",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-7, **options: Any) -> None:
        super().__init__(lr, **options)
        self.eps = _non_negative("epsilon value", eps)

    def _update_one(self, key: str, param: Array, grad: Array) -> None:
        h = self._slot("h", key, param)
        h += grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)

    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr, "eps": self.eps}


class RMSprop(Optimizer):
    """RMSprop (book §6.1.5): ``h = decay_rate * h + (1 - decay_rate) * dW**2;
    W -= lr * dW / (sqrt(h) + eps)``.

    ``torch.optim.RMSprop(alpha=decay_rate)`` is the same rule (its ``eps`` is 1e-8).
    """

    elementwise = True

    slot_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7, **options: Any) -> None:
        super().__init__(lr, **options)
        self.decay_rate = _unit("decay_rate value", decay_rate)
        self.eps = _non_negative("epsilon value", eps)

    def _update_one(self, key: str, param: Array, grad: Array) -> None:
        h = self._slot("h", key, param)
        h *= self.decay_rate
        h += (1.0 - self.decay_rate) * grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)
        self._flush_tiny(key, h, self.decay_rate, signed=False)

    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr, "decay_rate": self.decay_rate, "eps": self.eps}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015; book §6.1.6) in the standard bias-corrected form::

        m = beta1 * m + (1 - beta1) * dW        v = beta2 * v + (1 - beta2) * dW**2
        W -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    computed in the order of ``torch.optim.Adam``, which it matches step by step.

    The book's code folds the corrections into a step size
    ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)`` and adds its ``eps`` (1e-7) to the
    uncorrected ``sqrt(v)``; that is this rule with a time-varying
    ``eps * sqrt(1 - beta2**t)`` in place of ``eps``, so the two differ only where
    ``sqrt(v)`` is comparable to ``eps``.
    """

    elementwise = True

    slot_names = ("m", "v")

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        **options: Any,
    ) -> None:
        super().__init__(lr, **options)
        self.beta1 = _unit("beta1 value", beta1)
        self.beta2 = _unit("beta2 value", beta2)
        self.eps = _non_negative("epsilon value", eps)

    def _update_one(self, key: str, param: Array, grad: Array) -> None:
        m = self._slot("m", key, param)
        v = self._slot("v", key, param)
        # The same arithmetic as
        #     m += (1 - beta1) * (grad - m);  v = beta2 * v + (1 - beta2) * grad**2
        #     param -= step_size * m / (sqrt(v) / bc2 + eps)
        # done in one scratch buffer: no temporaries, which made up much of an update's time.
        # Python-float factors, so nothing is promoted to float64.
        buf = self._scratch(key, param)
        np.subtract(grad, m, out=buf)
        buf *= 1.0 - self.beta1
        m += buf
        np.multiply(grad, grad, out=buf)
        buf *= 1.0 - self.beta2
        v *= self.beta2
        v += buf
        step_size = self.lr / (1.0 - self.beta1**self.t)
        bc2 = math.sqrt(1.0 - self.beta2**self.t)
        np.sqrt(v, out=buf)
        buf += self.eps * bc2  # sqrt(v)/bc2 + eps == (sqrt(v) + eps*bc2) / bc2
        np.divide(m, buf, out=buf)
        buf *= step_size * bc2
        param -= buf
        self._flush_tiny(key, m, self.beta1)
        self._flush_tiny(key, v, self.beta2, signed=False)

    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}
