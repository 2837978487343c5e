"""Exceptions raised by layerwise."""

from __future__ import annotations

__all__ = ["ShapeError", "DataError"]


class ShapeError(ValueError):
    """An array reached a layer with the wrong shape.

    The message names the layer, the expected shape and the actual shape.
    """


class DataError(ValueError):
    """A data or model file is missing, corrupt, truncated or does not match what was expected.

    The message names the file, what was expected and what was found.
    """
