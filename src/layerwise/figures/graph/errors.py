"""Exceptions raised by :mod:`layerwise.figures.graph`."""

from __future__ import annotations

from layerwise.errors import LayerwiseError

__all__ = ["GraphvizUnavailableError", "UnknownFigureError"]

INSTALL_HINT = (
    "install the Python package with `pip install graphviz` and the Graphviz programs "
    "with `apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz` (macOS); "
    "a .dot file needs neither"
)


class GraphvizUnavailableError(LayerwiseError, RuntimeError):
    """Rendering SVG or PNG needs the ``graphviz`` Python package and the ``dot`` program."""


class UnknownFigureError(LayerwiseError, ValueError):
    """No ready-made figure has this name; the message lists the available ones."""
