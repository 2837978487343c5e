"""The ``Graph`` users get: the computation of :mod:`~layerwise.figures.graph.core`, plus drawing.

The dependencies go one way: :mod:`~layerwise.figures.graph.core` knows nothing of drawing;
:mod:`~layerwise.figures.graph.dot` and :mod:`~layerwise.figures.graph.rendering` are functions of a core
graph; this subclass only gives them the method spelling, ``g.to_dot()`` and ``g.render(path)``.
"""

from __future__ import annotations

import html
from pathlib import Path

from layerwise.figures.graph import core
from layerwise.figures.graph.dot import to_dot
from layerwise.figures.graph.errors import GraphvizUnavailableError
from layerwise.figures.graph.rendering import Format, render, render_bytes

__all__ = ["Graph"]


class Graph(core.Graph):
    """A :class:`layerwise.figures.graph.core.Graph` that can draw itself (see its docstring for
    building and backpropagating)."""

    def to_dot(self, *, precision: int = 4) -> str:
        """Graphviz DOT text of this graph (see :func:`layerwise.figures.graph.dot.to_dot`)."""
        return to_dot(self, precision=precision)

    def render(self, path: str | Path, *, format: Format | None = None) -> Path:
        """Write this graph to ``path`` as .dot, .svg or .png (see
        :func:`layerwise.figures.graph.rendering.render`)."""
        return render(self, path, format=format)

    # -- Jupyter ---------------------------------------------------------------------------
    def _repr_svg_(self) -> str | None:
        """The figure as SVG for Jupyter, or None without Graphviz (then HTML shows DOT)."""
        try:
            return render_bytes(self, "svg").decode("utf-8")
        except GraphvizUnavailableError:
            return None

    def _repr_html_(self) -> str:
        """The SVG figure inline; without Graphviz, the DOT text with a note saying why, which
        any Graphviz viewer (or an online one) draws."""
        try:
            svg = render_bytes(self, "svg").decode("utf-8")
            return svg[svg.find("<svg"):]  # inline in HTML: no XML prolog or DOCTYPE
        except GraphvizUnavailableError as exc:
            return (f"<p><b>{html.escape(self.name)}</b>: drawing this figure needs Graphviz "
                    f"({html.escape(str(exc))}). Its DOT text:</p><pre>{html.escape(self.to_dot())}</pre>")
