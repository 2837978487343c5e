"""Exceptions raised by layerwise.

Every failure layerwise expects (a bad argument, a missing or corrupt file, a shape that does
not fit) is a :class:`LayerwiseError`, so a caller can catch them all in one ``except`` and the
command line turns each into a one-line message and a non-zero exit code. Each class also
derives from the built-in exception a caller would reach for first (``ValueError``,
``RuntimeError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "LayerwiseError",
    "ConfigError",
    "ShapeError",
    "DataError",
    "DownloadError",
    "OutputError",
    "NonFiniteError",
    "TrainingDiverged",
]


class LayerwiseError(Exception):
    """Base class of every error layerwise raises on purpose.

    The message is one line naming the thing at fault (the file, flag, argument or layer),
    what was expected and what was found.
    """


class ConfigError(LayerwiseError, ValueError):
    """An argument, flag or setting is out of range, of the wrong type, or conflicts with another.

    The message names the argument (``--batch-size``, ``weight_init_std``), the expected and the
    actual value.
    """


class ShapeError(LayerwiseError, ValueError):
    """An array reached a layer with the wrong shape.

    The message names the layer, the expected shape and the actual shape.
    """


class DataError(LayerwiseError, ValueError):
    """A data or model file is missing, corrupt, truncated or does not match what was expected.

    The message names the file, what was expected and what was found.
    """


class DownloadError(DataError):
    """A file could not be fetched: HTTP error, timeout, dropped connection or wrong checksum.

    The message names the URL, what was expected and what was found. No partial file is left
    behind when it is raised.
    """


class OutputError(LayerwiseError, OSError):
    """A file cannot be written where the user asked: its folder is missing, the path is a
    folder, or the folder is not writable. Raised before anything is written.
    """


class NonFiniteError(LayerwiseError, ValueError):
    """A loss layer received NaN or infinite values (training has diverged, or bad data)."""


class TrainingDiverged(LayerwiseError, RuntimeError):
    """The loss became NaN or infinite during training.

    ``epoch`` and ``iteration`` say where; the network holds the last good weights (those at
    the end of the last complete epoch) when this is raised by :class:`~layerwise.Trainer`.
    """

    def __init__(self, message: str, epoch: int, iteration: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
