"""``layerwise graph NAME``: draw one of the book's computational-graph figures.

Without ``-o`` the DOT text goes to stdout (pipe it into ``dot -Tsvg``); with ``-o`` the file's
suffix picks the format: ``.dot``, ``.svg`` or ``.png``.

Exit codes: 0 done; 2 a usage error (unknown figure or suffix, an ``--x`` or ``--t`` the figure
cannot use: NaN, infinite, out of range, too few or too many values; an output path that
cannot be written); 1 writing failed on the way or Graphviz is missing. Each error is one
line, ``layerwise: error: ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

__all__ = ["add_parser", "run"]

# argparse takes "-1e3" (and "-inf") for an option, so `--x -1e3 0` would fail as "unrecognized
# arguments"; this parser has no option that looks like a number, so every such word is a value.
_NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


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
    # --x and --t are read as text and turned into numbers in run(), so that a bad value is one
    # line naming the flag, like every other error of this command, not argparse's usage text.
    parser.add_argument(
        "--x",
        nargs="+",
        metavar="VALUE",
        help="input: one value for sigmoid (default 0.5), the scores for softmax-loss (default 0.3 2.9 4.0)",
    )
    parser.add_argument("--t", metavar="LABEL", help="softmax-loss: the correct class (default 2)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write FILE.dot, FILE.svg or FILE.png (SVG/PNG need Graphviz); default: DOT to stdout",
    )
    parser._negative_number_matcher = _NEGATIVE_NUMBER
    parser.set_defaults(func=run)


def _error(message: object, code: int) -> int:
    print(f"layerwise: error: {message}", file=sys.stderr)
    return code


def _parse_numbers(args: argparse.Namespace) -> tuple[list[float] | None, int | None]:
    """``--x`` as floats and ``--t`` as an int; :class:`ConfigError` naming the flag otherwise.

    NaN and infinities parse here; the figure refuses them, naming ``x[i]``.
    """
    from layerwise.errors import ConfigError

    x: list[float] | None = None
    if args.x is not None:
        x = []
        for text in args.x:
            try:
                x.append(float(text))
            except ValueError:
                raise ConfigError(f"--x: expected numbers, got {text!r}") from None
    t: int | None = None
    if args.t is not None:
        try:
            t = int(args.t)
        except ValueError:
            raise ConfigError(f"--t: expected an integer label, got {args.t!r}") from None
    return x, t


def run(args: argparse.Namespace) -> int:
    """Build the figure and print or write it; 2 for a usage error, 1 if it cannot be written."""
    from layerwise.errors import ConfigError, LayerwiseError
    from layerwise.graph import UnknownFigureError, figure
    from layerwise.graph.rendering import format_for, render

    if args.output is not None:
        from layerwise.fileio import probe_writable

        try:  # fail on a bad suffix or an unwritable path before computing anything
            format_for(args.output)
            probe_writable(args.output, "-o")
        except (ValueError, OSError) as exc:  # ConfigError, OutputError
            return _error(exc, 2)
    try:
        x, t = _parse_numbers(args)
        graph = figure(args.name, x=x, t=t)
    except (ConfigError, UnknownFigureError) as exc:
        return _error(exc, 2)
    if args.output is None:
        sys.stdout.write(graph.to_dot())
        return 0
    try:
        path = render(graph, args.output)
    except LayerwiseError as exc:  # Graphviz missing, or the file cannot be written
        return _error(exc, 1)
    except OSError as exc:
        print(f"layerwise: error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=sys.stderr)
    return 0
