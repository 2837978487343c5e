"""Exceptions raised by layerwise."""

from __future__ import annotations

__all__ = ["ShapeError", "DataError", "DownloadError"]


class ShapeError(ValueError):
    """An array reached a layer with the wrong shape.

    The message names the layer, the expected shape and the actual shape.
    """


class DataError(ValueError):
    """A data or model file is missing, corrupt, truncated or does not match what was expected.

    The message names the file, what was expected and what was found.
    """


class DownloadError(DataError):
    """A file could not be fetched: HTTP error, timeout, dropped connection or wrong checksum.

    The message names the URL, what was expected and what was found. No partial file is left
    behind when it is raised.
    """
