"""Exceptions raised by layerwise."""

from __future__ import annotations

__all__ = ["ShapeError", "DataError", "DownloadError", "NonFiniteError", "TrainingDiverged"]


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


class NonFiniteError(ValueError):
    """A loss layer received NaN or infinite values (training has diverged, or bad data)."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite during training.

    ``epoch`` and ``iteration`` say where; the network holds the last good weights (those at
    the end of the last complete epoch) when this is raised by :class:`~layerwise.Trainer`.
    """

    def __init__(self, message: str, epoch: int, iteration: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
