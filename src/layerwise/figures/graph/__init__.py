"""Computational-graph figures: record an expression, backpropagate, draw values and gradients.

>>> from layerwise.figures.graph import figure
>>> g = figure("apple-orange")
>>> float(g.node("apple").grad), float(g.node("tax").grad)
(2.2, 650.0)
>>> text = g.to_dot()            # Graphviz DOT, no dependency
>>> # g.render("apple-orange.svg")  # SVG/PNG need `pip install graphviz` and `dot`
"""

from __future__ import annotations

from layerwise.figures.graph.core import Edge, Node
from layerwise.figures.graph.dot import to_dot
from layerwise.figures.graph.drawable import Graph
from layerwise.figures.graph.errors import GraphvizUnavailableError, UnknownFigureError
from layerwise.figures.graph.figures import FIGURES, figure
from layerwise.figures.graph.rendering import render

__all__ = [
    "Graph",
    "Node",
    "Edge",
    "FIGURES",
    "figure",
    "to_dot",
    "render",
    "GraphvizUnavailableError",
    "UnknownFigureError",
]
