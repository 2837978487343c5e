"""Where a fast kernel keeps what its backward pass needs: on the layer, beside its input."""

from __future__ import annotations

from typing import Any


def save(layer: Any, x: Any, *state: Any) -> None:
    """Set ``layer.x`` to ``x`` and remember ``state`` for the backward pass.

    ``layer.x`` becomes a new view of ``x``, an object no reference forward pass stores, so
    :func:`layerwise.fast.kernel_ran` can tell which path the last forward pass took even when the
    same array went through both.
    """
    layer.x = x.view()
    layer._fast_state = (layer.x, *state)


def load(layer: Any) -> tuple[Any, ...]:
    """What :func:`save` kept, input first."""
    state: tuple[Any, ...] = layer._fast_state
    return state
