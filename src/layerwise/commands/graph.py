"""``layerwise graph NAME``: draw one of the book's computational-graph figures.

Without ``-o`` the DOT text goes to stdout (pipe it into ``dot -Tsvg``); with ``-o`` the file's
suffix picks the format: ``.dot``, ``.svg`` or ``.png``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``graph`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    # The figures module is light (numpy only); imported here to list the names in --help.
    from layerwise.graph.figures import FIGURES

    names = ", ".join(FIGURES)
    parser = subparsers.add_parser(
        "graph",
        help="draw a computational graph with forward values and gradients",
        description=(
            "Draw one of the book's computational-graph figures, forward values above the "
            f"edges and gradients below. Figures: {names}."
        ),
    )
    parser.add_argument("name", metavar="NAME", help=f"the figure: {names}")
    parser.add_argument(
        "--x",
        type=float,
        nargs="+",
        metavar="VALUE",
        help="input: one value for sigmoid (default 0.5), the scores for softmax-loss (default 0.3 2.9 4.0)",
    )
    parser.add_argument("--t", type=int, metavar="LABEL", help="softmax-loss: the correct class (default 2)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write FILE.dot, FILE.svg or FILE.png (SVG/PNG need Graphviz); default: DOT to stdout",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the figure and print or write it; 2 for a usage error, 1 if Graphviz is missing."""
    from layerwise.graph import GraphvizUnavailableError, UnknownFigureError, figure
    from layerwise.graph.rendering import format_for, render

    try:
        if args.output is not None:
            format_for(args.output)  # fail on a bad suffix before computing anything
        graph = figure(args.name, x=args.x, t=args.t)
    except (UnknownFigureError, ValueError) as exc:
        print(f"layerwise graph: error: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(graph.to_dot())
        return 0
    try:
        path = render(graph, args.output)
    except GraphvizUnavailableError as exc:
        print(f"layerwise graph: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"layerwise graph: error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=sys.stderr)
    return 0
