"""The backward trace of one image through a network, for the digit page.

The page shows :func:`layerwise.trace`'s record (each layer's ``x``, ``out``, ``dout``, ``dx``
and parameter gradients, the loss layer last) and its figure, the one ``layerwise graph
--model`` draws, sent once with every frame in it (:func:`~layerwise.figures.trace_figure.layered_svg`);
the page shows frame ``k`` (the backward pass through ``k`` layers) by hiding the rest.
"""

from __future__ import annotations

from typing import Any

from layerwise.figures.trace_figure import layered_svg
from layerwise.figures.tracing import Trace
from layerwise.figures.tracing import trace as trace_network
from layerwise.networks.sequential import Sequential

__all__ = ["trace", "figure"]


def trace(net: Sequential, x: Any, t: Any) -> Trace:
    """The trace of ``x`` (a batch of one) against label(s) ``t``."""
    return trace_network(net, x, t)


def figure(tr: Trace) -> str:
    """The trace's figure with every backward step in it, tagged by step."""
    return layered_svg(tr)
