"""Exceptions raised by layerwise.

Every failure layerwise expects (a bad argument, a missing or corrupt file, a shape that does
not fit) is a :class:`LayerwiseError`, so a caller can catch them all in one ``except`` and the
command line turns each into a one-line message and a non-zero exit code. Each class also
derives from the built-in exception a caller would reach for first (``ValueError``,
``RuntimeError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import math
import reprlib
import unicodedata
from typing import Any

import numpy as np

__all__ = [
    "printable",
    "short_repr",
    "check_int",
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


# Control characters (an escape sequence that recolours a terminal), line and paragraph
# separators, lone surrogates: invisible, able to rewrite a terminal, refused by XML (an SVG
# with one does not open) or by Pillow's text layout.
_HIDDEN = frozenset({"Cc", "Cs", "Zl", "Zp"})


def printable(text: str) -> str:
    r"""``text`` with each character that would not show, or would act on a terminal or break
    SVG or Pillow (a control character, a line separator, a lone surrogate), written as its
    escape: what a one-line error message or a figure shows of a name the user gave.

    >>> printable("Affine\x1e1\n→")
    'Affine\\x1e1\\x0a→'
    """
    return "".join(_escape(c) if unicodedata.category(c) in _HIDDEN else c for c in text)


def _escape(c: str) -> str:
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


# -- naming a value in a message, checking an integer argument ----------------------------------
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 40, 40, 40


def short_repr(value: Any) -> str:
    """``repr(value)`` cut short (:mod:`reprlib`): a hostile file's value may be long or deep."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, int) and value.bit_length() > 128:  # repr() refuses beyond 4300 digits
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return _REPR.repr(value)


def check_int(value: Any, who: str, arg: str, minimum: int = 1) -> int:
    """``value`` as an int, checked to be an integer (not a bool, a float or a string) ``>= minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ConfigError(f"{who}: {arg} must be {kind}, got {short_repr(value)}")
    return int(value)
