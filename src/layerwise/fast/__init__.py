"""The fast kernels behind the reference layers, and the one switch that selects them.

Every file under :mod:`layerwise.layers` shows the book's algorithm. Where a faster way to
compute the same numbers exists, the layer hands off to a kernel here in one line::

    if fast.enabled():
        return fast.conv_forward(self, x)

and its backward pass follows the path its forward pass took::

    if fast.ran(self):
        return fast.conv_backward(self, dout)

The kernels give the reference results up to float rounding (``tests/test_fast_equivalence.py``
runs every layer case of the gradient-check table through both paths and compares values and
gradients). What each one does differently is documented in its module:

* :mod:`layerwise.fast.conv`: Convolution unrolled chunk by chunk into reused buffers, the bias
  folded into the product, a memory order that later layers read in long runs;
* :mod:`layerwise.fast.pool`: Pooling over non-overlapping windows as a max over strided views;
* :mod:`layerwise.fast.affine`: Affine's ``dx`` in the memory order of its input;
* :mod:`layerwise.fast.softmax`: Softmax-with-Loss as one fused, class-major kernel;
* :mod:`layerwise.fast.optimizers`: the optimizers' updates in cache-sized blocks, large
  parameters in parts on threads, with reused scratch buffers (the base class hands a whole
  update to it in one branch; the rules in :mod:`layerwise.optimizers` never see it).

The switch is on by default and process-wide::

    import layerwise.fast as fast

    fast.enabled()          # True
    fast.disable()          # every layer now runs the book's code
    fast.enable()
    with fast.disabled():   # the book's code inside the block only
        net.gradient(x, t)

Flip it between passes, not from another thread while a network is running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from layerwise.fast.affine import affine_backward
from layerwise.fast.conv import conv_backward, conv_forward
from layerwise.fast.pool import pool_backward, pool_forward
from layerwise.fast.softmax import softmax_cross_entropy

__all__ = ["enabled", "enable", "disable", "disabled", "ran",
           "conv_forward", "conv_backward", "pool_forward", "pool_backward", "affine_backward",
           "softmax_cross_entropy"]

_enabled = True


def enabled() -> bool:
    """Whether layers use the fast kernels (``True`` unless :func:`disable` was called)."""
    return _enabled


def enable() -> None:
    """Use the fast kernels (the default)."""
    global _enabled
    _enabled = True


def disable() -> None:
    """Run the book's reference code in every layer: the same numbers, up to float rounding."""
    global _enabled
    _enabled = False


@contextmanager
def disabled() -> Iterator[None]:
    """Run the reference code inside a ``with`` block; the previous setting comes back after it."""
    global _enabled
    before = _enabled
    _enabled = False
    try:
        yield
    finally:
        _enabled = before


def ran(layer: Any) -> bool:
    """Whether ``layer``'s last forward pass ran a fast kernel, whose backward must then run.

    A kernel keeps what its backward needs in ``layer._fast_state``, next to the view of the
    input it stored as ``layer.x``; a reference forward pass after it replaces ``layer.x``,
    and the state no longer applies.
    """
    state = getattr(layer, "_fast_state", None)
    return state is not None and state[0] is layer.x
