"""The engine's one switch: off after ``import layerwise``, so the book's API runs the book's code.

This is all of the engine that the book's files (``layers/``, ``networks/``, ``optimizers``)
import. A layer hands off to a kernel in one line, by name, naming the reference code the
kernel replaces::

    if kernel := switch.kernel("conv_forward", Convolution.forward, Convolution._backward):
        return kernel(self, x)

``kernel`` is None while the engine is off, or when that code was edited; the kernel's module
is imported only when first used (:data:`KERNELS` says where each one lives).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import textwrap
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["enabled", "enable", "disable", "disabled", "kernel_ran", "kernel", "follow", "KERNELS",
           "source_digest", "is_reference"]

_on = False

#: Each kernel's module, under :mod:`layerwise.fast`.
KERNELS: dict[str, str] = {
    "conv_forward": "conv",
    "conv_backward": "conv",
    "pool_forward": "pool",
    "pool_backward": "pool",
    "affine_backward": "affine",
    "softmax_cross_entropy": "softmax",
    "optimizer_update": "optimizers",
}


class _Setting:
    """What :func:`enabled` returns: true when the engine is on, and, in a ``with`` statement,
    the engine on for the block (the previous setting comes back after it)."""

    def __init__(self, on: bool) -> None:
        self._on = on
        self._before: list[bool] = []

    def __bool__(self) -> bool:
        return self._on

    def __repr__(self) -> str:
        return f"layerwise.fast.enabled() -> {self._on}"

    def __enter__(self) -> None:
        global _on
        self._before.append(_on)
        _on = True

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        global _on
        _on = self._before.pop()


class _Off(_Setting):
    def __enter__(self) -> None:
        global _on
        self._before.append(_on)
        _on = False


def enabled() -> _Setting:
    """Whether the engine is on (``False`` after ``import layerwise``); ``with enabled():``
    turns it on for a block."""
    return _Setting(_on)


def disabled() -> _Setting:
    """``with disabled():`` runs the book's code inside the block; true when the engine is off."""
    return _Off(not _on)


def enable() -> None:
    """Turn the engine on: kernels, the ReLU/pooling fusion of a trainer, threads over the batch."""
    global _on
    _on = True


def disable() -> None:
    """Turn the engine off: every layer, network and optimizer runs the book's code."""
    global _on
    _on = False


def kernel_ran(layer: Any) -> bool:
    """Whether ``layer``'s last forward pass ran a kernel, whose backward must then run.

    A kernel keeps what its backward needs in ``layer._fast_state``, next to the view of the
    input it stored as ``layer.x``; a reference forward pass after it replaces ``layer.x``,
    and the state no longer applies.
    """
    state = getattr(layer, "_fast_state", None)
    return state is not None and state[0] is layer.x


def kernel(name: str, *replaces: Callable[..., Any]) -> Callable[..., Any] | None:
    """The engine's kernel ``name`` (one of :data:`KERNELS`, imported on first use) when the
    engine is on and each reference function in ``replaces`` is the code the kernel was written
    against; else ``None``, and the caller runs its own code.

    So an edit to a reference method (a learner's experiment: remove the ``/ N``, change a
    transpose) is what runs even with the engine on: the kernel steps aside for edited code.
    """
    if not _on:
        return None
    key = (name, replaces)
    found = _kernels.get(key, _UNKNOWN)
    if found is _UNKNOWN:  # once per kernel and set of reference functions
        found = _kernels[key] = follow(name) if all(is_reference(f) for f in replaces) else None
    return found


def follow(name: str) -> Callable[..., Any]:
    """The backward kernel ``name`` of a layer whose forward pass ran the engine (:func:`kernel_ran`),
    whatever the switch says now: the kernel kept what its backward needs, not the book's caches."""
    module = importlib.import_module(f"layerwise.fast.{KERNELS[name]}")
    found: Callable[..., Any] = getattr(module, name)
    return found


_checked: dict[Any, bool] = {}
_kernels: dict[tuple[str, tuple[Any, ...]], Any] = {}
_UNKNOWN = object()


def source_digest(func: Callable[..., Any]) -> str | None:
    """SHA-256 of ``func``'s source text (dedented), or ``None`` where there is no source."""
    try:
        text = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def is_reference(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is the reference code a kernel replaces, as recorded in
    :data:`layerwise.fast.reference.DIGESTS` (checked once per code object). Code with no
    source to read (a frozen install) is trusted."""
    code = getattr(func, "__code__", func)
    known = _checked.get(code)
    if known is None:
        from layerwise.fast.reference import DIGESTS

        name = f"{func.__module__}.{func.__qualname__}"
        digest = source_digest(func)
        known = _checked[code] = digest is None or DIGESTS.get(name) == digest
    return known
