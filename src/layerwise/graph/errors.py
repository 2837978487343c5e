"""Exceptions raised by :mod:`layerwise.graph`."""

from __future__ import annotations

__all__ = ["GraphvizUnavailableError", "UnknownFigureError"]

INSTALL_HINT = (
    "install the Python package with `pip install layerwise[graph]` and the Graphviz programs "
    "with `apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz` (macOS); "
    "a .dot file needs neither"
)


class GraphvizUnavailableError(RuntimeError):
    """Rendering SVG or PNG needs the ``graphviz`` Python package and the ``dot`` program."""


class UnknownFigureError(ValueError):
    """No ready-made figure has this name; the message lists the available ones."""
