"""``layerwise graph NAME``: draw one of the book's computational-graph figures.

Without ``-o`` a figure's DOT text goes to stdout (pipe it into ``dot -Tsvg``); with ``-o`` the
file's suffix picks the format: ``.dot``, ``.svg`` or ``.png`` (SVG and PNG through Graphviz).
Backprop through a saved network is ``layerwise trace`` (:mod:`layerwise.cli.commands.trace`).

Exit codes: 0 done; 2 a usage error (unknown figure or suffix, an ``--x``, ``--t`` or ``--y``
the figure cannot use: NaN, infinite, out of range, too few or too many values; an output path
that cannot be written); 1 the work failed (writing failed on the way, Graphviz missing). Each
error is one line, ``layerwise: error: ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from layerwise.cli.commands.common import fail, parse_int

__all__ = ["add_parser", "run"]

# argparse takes "-1e3" (and "-inf") for an option, so `--x -1e3 0` would fail as "unrecognized
# arguments"; this parser has no option that looks like a number, so every such word is a value.
_NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


def add_parser(subparsers: Any) -> None:
    """Add the ``graph`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    # The figures module is light (numpy only); imported here to list the names in --help.
    from layerwise.figures.graph.figures import FIGURES

    names = ", ".join(FIGURES)
    parser = subparsers.add_parser(
        "graph",
        help="draw a computational graph with forward values and gradients",
        description=(
            "Draw one of the book's computational-graph figures, forward values above the "
            f"edges and gradients below. Figures: {names}."
        ),
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help=f"the figure: {names}")
    # --x and --t are read as text and turned into numbers in run(), so that a bad value is one
    # line naming the flag, like every other error of this command, not argparse's usage text.
    parser.add_argument(
        "--x",
        nargs="+",
        metavar="VALUE",
        help="input: one value for sigmoid (default 0.5), the scores for softmax-loss (default 0.3 2.9 4.0)",
    )
    parser.add_argument("--t", metavar="LABEL", help="softmax-loss: the correct class (default 2)")
    parser.add_argument("--y", nargs="+", metavar="VALUE",
                        help="softmax-loss: the softmax outputs y instead of the scores (they sum to 1)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write FILE.dot, FILE.svg or FILE.png (SVG and PNG need Graphviz); default: DOT text "
             "to stdout",
    )
    parser._negative_number_matcher = _NEGATIVE_NUMBER
    parser.set_defaults(func=run)



def _floats(flag: str, texts: list[str] | None) -> list[float] | None:
    """The values of ``flag`` as floats; :class:`ConfigError` naming the flag otherwise.
    NaN and infinities parse here; the figure refuses them, naming ``x[i]``."""
    from layerwise.errors import ConfigError

    if texts is None:
        return None
    values = []
    for text in texts:
        try:
            values.append(float(text))
        except ValueError:
            raise ConfigError(f"{flag}: expected numbers, got {text!r}") from None
    return values


def run(args: argparse.Namespace) -> int:
    """Build the figure and print or write it; 2 for a usage error, 1 if it cannot be written."""
    from layerwise.errors import ConfigError, LayerwiseError
    from layerwise.figures.graph import UnknownFigureError, figure
    from layerwise.figures.graph.rendering import format_for, render

    if args.name is None:
        return fail("give a figure NAME (see layerwise graph --help; a saved network's backward pass is "
                    "layerwise trace MODEL)", 2)

    if args.output is not None:
        from layerwise.cli.commands.common import check_not_link
        from layerwise.files.fileio import probe_writable

        try:  # fail on a bad suffix or an unwritable path before computing anything
            format_for(args.output)
            check_not_link(args.output, "-o")
            probe_writable(args.output, "-o")
        except (ValueError, OSError) as exc:  # ConfigError, OutputError
            return fail(exc, 2)
    try:
        x, t, y = _floats("--x", args.x), parse_int("--t", args.t, "an integer label"), _floats("--y", args.y)
        graph = figure(args.name, x=x, t=t, y=y)
    except (ConfigError, UnknownFigureError) as exc:
        return fail(exc, 2)
    if args.output is None:
        sys.stdout.write(graph.to_dot())
        return 0
    try:
        path = render(graph, args.output)
    except LayerwiseError as exc:  # Graphviz missing, or the file cannot be written
        return fail(exc, 1)
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc}")
    print(f"wrote {path}", file=sys.stderr)
    return 0
