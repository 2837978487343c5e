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
zero every few updates by the state hook :func:`flush_subnormals` (option
``flush_subnormals``, on by default), so that they never become subnormal numbers, which are
slow on many CPUs.

Each rule is its ``update_one(key, param, grad)``, the formula for one parameter, in order of
increasing complexity at the end of this file. The base class's ``update`` runs the checks,
the hooks and the loop; when the engine is on (:func:`layerwise.fast.enable`; it is off after
``import layerwise``) and the rule is the code below as written, one branch of it hands the
whole update to :mod:`layerwise.fast.optimizers` instead (the same rules without temporaries,
in cache-sized blocks, large parameters in parts on several threads), with the same numbers up
to float rounding. An edited ``update_one`` always runs as edited.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Protocol

import numpy as np

from layerwise.errors import ConfigError, ShapeError
from layerwise.fast import switch
from layerwise.layers.base import Array

__all__ = [
    "NAMES",
    "by_name",
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
    "flush_subnormals",
    "HasParams",
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


def flush_subnormals(optimizer: Optimizer) -> None:
    """The state hook that keeps decaying state out of the subnormal numbers (on by default;
    ``flush_subnormals=False`` turns it off).

    A state entry whose gradient stays zero (a pixel that is rarely on, a unit that went dead)
    shrinks by its decay factor every step into the subnormal range, and arithmetic that makes
    subnormal numbers runs up to 50x slower on many x86 CPUs (measured on the development
    machine: 78,400 float32 multiplied in 7 us when normal, 340 us when subnormal; the Adam
    MLP's update took 2.5x longer from its second epoch on). So every :func:`flush_period`
    steps, entries of the slots the rule lists in :meth:`Optimizer.decaying` whose magnitude is
    below :func:`tiny_threshold` are set to zero. Entries this small change no parameter that is
    not itself within about 1e-16 of zero: this is what a CPU's flush-to-zero mode does, without
    changing a process-wide setting. The pass is so rare that it costs next to nothing, yet
    frequent enough that an entry below the threshold is zeroed before it can decay by more than
    ``2**-12`` (it stays ``2**11`` times above the subnormal range).
    """
    for slot, decay in optimizer.decaying().items():
        if decay <= 0.0 or optimizer.t % flush_period(decay):
            continue
        for arr in optimizer.state[slot].values():
            np.multiply(arr, np.abs(arr) >= tiny_threshold(arr.dtype), out=arr)  # 0 * subnormal is 0


# -- the base class -------------------------------------------------------------------------------
class Optimizer:
    """Base class: hooks, the ``update`` loop, per-parameter state and its (de)serialisation.

    A rule lists its per-parameter state arrays in ``slot_names`` and implements
    :meth:`update_one`, which changes one ``param`` in place (DeZero's ``update_one``). The
    rest is here: :meth:`update` checks its arguments, runs the gradient hooks, counts the step
    and calls ``update_one`` for every parameter, then runs :func:`flush_subnormals`.

    When the engine is on (:func:`layerwise.fast.enable`, off by default) and
    :mod:`layerwise.fast.optimizers` has a kernel for the rule as written here, that kernel
    updates all parameters instead (in blocks, large ones in parts on several threads), with
    the same numbers up to float rounding.

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
    flush_subnormals : bool, optional
        Zero decaying state before it turns subnormal (default ``True``; see
        :func:`flush_subnormals`). The parameters come out the same either way.
    """

    slot_names: tuple[str, ...] = ()

    def __init__(
        self,
        lr: float,
        *,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        hooks: Iterable[GradHook] = (),
        flush_subnormals: bool = True,
    ) -> None:
        self.lr = lr
        self.weight_decay = _non_negative("weight_decay value", weight_decay)
        self.clip_norm = None if clip_norm is None else ClipGradNorm(clip_norm).max_norm
        self.hooks: list[GradHook] = list(hooks)
        self.flush_subnormals = bool(flush_subnormals)
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
        current, g = self._checked(params, grads)
        if self.hooks or self.clip_norm is not None or self.weight_decay:
            for hook in self._pipeline():
                g = hook(current, g)
            self._check_shapes(current, g, "gradient after the hooks")
        self._check_state(current)
        # every check done: from here on nothing fails half-way
        self.t += 1
        engine = switch.kernel("optimizer_update", type(self).update_one)  # None unless on
        if engine is None or not engine(self, current, g):
            for k, p in current.items():
                self.update_one(k, p, g[k].astype(p.dtype, copy=False))
        if self.flush_subnormals:
            flush_subnormals(self)

    def update_one(self, key: str, param: Array, grad: Array) -> None:  # pragma: no cover
        """The rule: update ``param`` (parameter ``key``) in place from ``grad`` (its dtype)."""
        raise NotImplementedError

    def decaying(self) -> dict[str, float]:
        """The state slots that shrink geometrically while the gradient is zero, each with its
        factor per step (for :func:`flush_subnormals`); none by default."""
        return {}

    def slot(self, slot: str, key: str, param: Array) -> Array:
        """State array ``slot`` of parameter ``key``: zeros at first, then kept (in its dtype)."""
        table = self.state[slot]
        arr = table.get(key)
        if arr is None:
            arr = table[key] = np.zeros_like(param)
        elif arr.dtype != param.dtype:
            arr = table[key] = arr.astype(param.dtype)
        return arr

    def step(self, network: HasParams) -> None:
        """``update(network.params, network.grads)``: apply the last ``gradient`` call's result."""
        self.update(network.params, network.grads)

    # -- checks ----------------------------------------------------------------------------------
    def _checked(self, params: MutableMapping[str, Array],
                 grads: Mapping[str, Array]) -> tuple[dict[str, Array], dict[str, Array]]:
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
        return current, g

    def _check_shapes(self, params: dict[str, Array], grads: dict[str, Array], what: str) -> None:
        # before the hooks too: weight decay's g + rate * W would broadcast a wrong shape away
        for k, p in params.items():
            if grads[k].shape != p.shape:
                raise ShapeError(
                    f"{self.name}.update: {what} {k!r} has shape {grads[k].shape}, "
                    f"parameter has {p.shape}"
                )

    def _check_state(self, params: dict[str, Array]) -> None:
        for k, p in params.items():
            for slot in self.slot_names:
                arr = self.state[slot].get(k)
                if arr is not None and arr.shape != p.shape:
                    raise ShapeError(
                        f"{self.name}: state {slot}.{k} has shape {arr.shape} but parameter {k!r} "
                        f"has shape {p.shape}"
                    )

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
        if not self.flush_subnormals:
            parts.append("flush_subnormals=False")
        return f"{self.name}({', '.join(parts)})"


# -- the update rules, in order of increasing complexity ----------------------------------------------
class SGD(Optimizer):
    """Stochastic gradient descent: ``W -= lr * dW`` (book §6.1.2)."""

    def __init__(self, lr: float = 0.01, **options: Any) -> None:
        super().__init__(lr, **options)

    def update_one(self, key: str, param: Array, grad: Array) -> None:
        param -= self.lr * grad


class Momentum(Optimizer):
    """Momentum (book §6.1.4): ``v = momentum * v - lr * dW;  W += v``, ``v`` starting at 0.

    For a constant ``lr`` this is the same trajectory as ``torch.optim.SGD(momentum=...)``,
    whose buffer is ``b = momentum * b + dW`` with ``W -= lr * b`` (so ``v = -lr * b``).
    """

    slot_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, **options: Any) -> None:
        super().__init__(lr, **options)
        self.momentum = _unit("momentum value", momentum)

    def update_one(self, key: str, param: Array, grad: Array) -> None:
        v = self.slot("v", key, param)
        v[...] = self.momentum * v - self.lr * grad
        param += v

    def decaying(self) -> dict[str, float]:
        return {"v": self.momentum}

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

    def update_one(self, key: str, param: Array, grad: Array) -> None:
        v = self.slot("v", key, param)
        m = self.momentum
        param += m * m * v - (1.0 + m) * self.lr * grad
        v[...] = m * v - self.lr * grad


class AdaGrad(Optimizer):
    """AdaGrad (book §6.1.5): ``h += dW * dW;  W -= lr * dW / (sqrt(h) + eps)``.

    ``eps`` is 1e-7 as in the book (``torch.optim.Adagrad`` uses 1e-10; otherwise the same).
    """

    slot_names = ("h",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-7, **options: Any) -> None:
        super().__init__(lr, **options)
        self.eps = _non_negative("epsilon value", eps)

    def update_one(self, key: str, param: Array, grad: Array) -> None:
        h = self.slot("h", key, param)
        h += grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)

    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr, "eps": self.eps}


class RMSprop(Optimizer):
    """RMSprop (book §6.1.5): ``h = decay_rate * h + (1 - decay_rate) * dW**2;
    W -= lr * dW / (sqrt(h) + eps)``.

    ``torch.optim.RMSprop(alpha=decay_rate)`` is the same rule (its ``eps`` is 1e-8).
    """

    slot_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7, **options: Any) -> None:
        super().__init__(lr, **options)
        self.decay_rate = _unit("decay_rate value", decay_rate)
        self.eps = _non_negative("epsilon value", eps)

    def update_one(self, key: str, param: Array, grad: Array) -> None:
        h = self.slot("h", key, param)
        h[...] = self.decay_rate * h + (1.0 - self.decay_rate) * grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)

    def decaying(self) -> dict[str, float]:
        return {"h": self.decay_rate}

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

    def update_one(self, key: str, param: Array, grad: Array) -> None:
        m = self.slot("m", key, param)
        v = self.slot("v", key, param)
        m += (1.0 - self.beta1) * (grad - m)
        v += (1.0 - self.beta2) * (grad * grad - v)
        step_size = self.lr / (1.0 - self.beta1**self.t)  # the bias corrections, as torch
        bc2 = math.sqrt(1.0 - self.beta2**self.t)
        param -= step_size * m / (np.sqrt(v) / bc2 + self.eps)

    def decaying(self) -> dict[str, float]:
        return {"m": self.beta1, "v": self.beta2}

    def _hyper(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


#: The rules by the book's names, in the order of §6.1 (and of increasing complexity).
NAMES: tuple[str, ...] = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")


def by_name(name: str, **kwargs: Any) -> Optimizer:
    """The optimizer called ``name`` (one of :data:`NAMES`, in any case: ``"adam"``,
    ``"Adam"``), built with ``kwargs`` (``lr=...``); a :class:`~layerwise.errors.ConfigError`
    names the choices otherwise."""
    found = {n.lower(): n for n in NAMES}.get(str(name).lower())
    if found is None:
        raise ConfigError(f"optimizer: expected one of {', '.join(NAMES)}, got {name!r}")
    rule: type[Optimizer] = globals()[found]
    return rule(**kwargs)
