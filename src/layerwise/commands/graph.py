"""``layerwise graph NAME``: draw one of the book's computational-graph figures;
``layerwise graph --model MODEL``: draw backprop through a saved network on one test image.

Without ``-o`` a figure's DOT text goes to stdout (pipe it into ``dot -Tsvg``); with ``-o`` the
file's suffix picks the format: ``.dot``, ``.svg`` or ``.png`` (SVG and PNG through Graphviz).
A trace (``--model``) needs no Graphviz: ``.svg`` (``--animate``: the backward pass step by
step), ``.html`` (a slider over the frames), ``.gif`` (the backward pass step by step) or
``.png`` (GIF and PNG are drawn with Pillow, in the ``plot`` extra); ``--steps`` also writes one
``.svg`` or ``.png`` file per frame. Without ``-o`` its SVG goes to stdout.

Exit codes: 0 done; 2 a usage error (unknown figure or suffix, an ``--x``, ``--t`` or ``--y``
the figure cannot use: NaN, infinite, out of range, too few or too many values; an ``--index``
or ``--label`` out of range; an output path that cannot be written; a ``.gif`` or ``.png``
trace without Pillow and its font); 1 the work failed (a missing or corrupt model or data
file, writing failed on the way, Graphviz missing). Each error is one line,
``layerwise: error: ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from layerwise.commands.common import fail

__all__ = ["add_parser", "run"]

# argparse takes "-1e3" (and "-inf") for an option, so `--x -1e3 0` would fail as "unrecognized
# arguments"; this parser has no option that looks like a number, so every such word is a value.
_NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


def add_parser(subparsers: Any) -> None:
    """Add the ``graph`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    # The figures module is light (numpy only); imported here to list the names in --help.
    from layerwise.commands.common import DATA_CHOICES
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
    trace = parser.add_argument_group(
        "tracing a saved network (no Graphviz needed)",
        "--model MODEL draws one forward and backward pass of the network on one test image.")
    trace.add_argument("--model", metavar="MODEL", help="a model file written by `layerwise train --save`")
    trace.add_argument("--data", default=None, choices=DATA_CHOICES,
                       help="the data set of the test image (default: the one recorded in the model file)")
    trace.add_argument("--data-dir", default=None, metavar="DIR", help="a folder holding the IDX files")
    trace.add_argument("--index", default="0", metavar="I", help="which test image (default 0)")
    trace.add_argument("--label", default=None, metavar="L",
                       help="the label the loss is taken against (default: the image's true label)")
    trace.add_argument("--steps", action="store_true",
                       help="with -o FILE.svg or FILE.png, also write one frame per backward step: "
                            "FILE-0.svg, FILE-1.svg ... (numbered from 0; FILE-00.svg ... when there are "
                            "more than ten); all of them, or none")
    trace.add_argument("--animate", action="store_true",
                       help="with -o FILE.svg, an animated SVG: the backward pass one layer a second "
                            "(a .gif is always animated)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write FILE.dot, FILE.svg or FILE.png (figures: SVG/PNG need Graphviz), or FILE.svg, "
             "FILE.html, FILE.gif or FILE.png (traces: GIF/PNG need the plot extra); default: DOT "
             "(a trace: SVG) to stdout",
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


def _integer(flag: str, text: str | None, what: str = "an integer") -> int | None:
    from layerwise.errors import ConfigError

    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected {what}, got {text!r}") from None


def _trace_only_flags(args: argparse.Namespace) -> list[str]:
    given = [("--data", args.data), ("--data-dir", args.data_dir), ("--label", args.label)]
    flags = [flag for flag, value in given if value is not None]
    flags += [flag for flag, on in (("--steps", args.steps), ("--animate", args.animate)) if on]
    return flags + (["--index"] if args.index != "0" else [])


def run(args: argparse.Namespace) -> int:
    """Build the figure and print or write it; 2 for a usage error, 1 if it cannot be written."""
    from layerwise.errors import ConfigError, LayerwiseError
    from layerwise.graph import UnknownFigureError, figure
    from layerwise.graph.rendering import format_for, render

    if args.model is not None:
        return run_trace(args)
    if args.name is None:
        return fail("give a figure NAME or --model MODEL (see layerwise graph --help)", 2)
    misplaced = _trace_only_flags(args)
    if misplaced:
        return fail(f"{', '.join(misplaced)} apply to a trace: add --model MODEL, or leave them out", 2)

    if args.output is not None:
        from layerwise.commands.common import check_not_link
        from layerwise.fileio import probe_writable

        try:  # fail on a bad suffix or an unwritable path before computing anything
            format_for(args.output)
            check_not_link(args.output, "-o")
            probe_writable(args.output, "-o")
        except (ValueError, OSError) as exc:  # ConfigError, OutputError
            return fail(exc, 2)
    try:
        x, t, y = _floats("--x", args.x), _integer("--t", args.t, "an integer label"), _floats("--y", args.y)
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


def run_trace(args: argparse.Namespace) -> int:
    """``--model``: trace the network on one test image and write the figure (no Graphviz).

    Every flag is checked, and the output path probed, before the model and data are read.
    """
    import numpy as np

    from layerwise.commands.common import load_model_test_data
    from layerwise.errors import ConfigError
    from layerwise.fileio import atomic_write_all
    from layerwise.functions import softmax
    from layerwise.model_files import load_model_and_metadata
    from layerwise.trace_figure import RASTER_FORMATS, TRACE_FORMATS, trace_png, trace_svg
    from layerwise.tracing import trace as trace_network

    if args.name is not None:
        raise ConfigError(f"give a figure NAME ({args.name!r}) or --model, not both")
    given = [flag for flag, value in (("--x", args.x), ("--t", args.t), ("--y", args.y)) if value is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} apply to the chapter-5 figures, not to a trace (--model)")
    index = _integer("--index", args.index, "an image number")
    label = _integer("--label", args.label, "an integer label")
    assert index is not None
    suffix = None if args.output is None else Path(args.output).suffix.lower().lstrip(".")
    if suffix is not None and suffix not in TRACE_FORMATS:
        *others, last = [f".{f}" for f in TRACE_FORMATS]
        raise ConfigError(f"-o {args.output}: a trace is written as {', '.join(others)} or {last}, "
                          f"not .{suffix or '(no suffix)'}")
    for flag, on, suffixes in (("--steps", args.steps, ("svg", "png")),
                               ("--animate", args.animate, ("svg", "gif"))):
        if on and suffix not in suffixes:
            shown = "no -o" if args.output is None else args.output
            wanted = " or ".join(f"FILE.{s}" for s in suffixes)
            raise ConfigError(f"{flag} needs -o {wanted}, got {shown}")
    if suffix in RASTER_FORMATS:  # Pillow and the font, before anything is read
        from layerwise.raster import require_raster

        require_raster(f"-o {args.output}")
    outputs: list[Path] = [] if args.output is None else [Path(args.output)]
    if outputs:  # before reading anything: an unwritable -o is a usage error (exit 2)
        _probe(outputs[0])
    net, metadata = load_model_and_metadata(args.model)
    net.eval()
    steps_count = len(net.execution_order()) + 1  # the layers and the loss layer
    if args.steps:
        outputs += [_frame_path(outputs[0], k, steps_count) for k in range(steps_count + 1)]
        for path in outputs[1:]:
            if path.exists():  # -o names one file; its frames never replace a file silently
                raise ConfigError(f"--steps would write {path}, which exists: remove the old frames "
                                  "or choose another -o")
            _probe(path)
    data = load_model_test_data(args.model, metadata, args.data, args.data_dir)
    x_test, t_test = data.test
    if not 0 <= index < len(x_test):
        raise ConfigError(f"--index {index}: out of range for the {len(x_test)} test images of "
                          f"{data.description} (expected 0..{len(x_test) - 1})")
    x = x_test[index : index + 1]
    classes = int(net.predict(x).shape[1])
    if label is not None and not 0 <= label < classes:
        raise ConfigError(f"--label {label}: out of range for the network's {classes} classes "
                          f"(expected 0..{classes - 1})")
    true_label = int(t_test[index])
    t = np.array([true_label if label is None else label])
    trace = trace_network(net, x, t)
    probs = softmax(np.asarray(trace.steps[-1].x[0], dtype=np.float64))
    print(f"{data.description}, test image {index}: true label {true_label}, predicted "
          f"{int(np.argmax(probs))} (p = {float(np.max(probs)):.3f}); loss for label {int(t[0])}: "
          f"{trace.loss:.4g}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(trace_svg(trace))
        return 0
    trace.save(args.output, animate=args.animate)
    print(f"wrote {args.output}", file=sys.stderr)
    if args.steps:  # every frame, or none: a rerun after a failure finds no frames in its way
        def frame(k: int) -> bytes:
            return trace_png(trace, k) if suffix == "png" else trace_svg(trace, k).encode("utf-8")

        atomic_write_all((path, frame(k)) for k, path in enumerate(outputs[1:]))
        print(f"wrote {len(outputs) - 1} frames, {outputs[1].name} ... {outputs[-1].name}", file=sys.stderr)
    return 0


def _probe(path: Path) -> None:
    """:class:`ConfigError` (exit 2) unless ``path`` can be written."""
    from layerwise.commands.common import check_not_link
    from layerwise.errors import ConfigError
    from layerwise.fileio import probe_writable

    check_not_link(path, "-o")
    try:
        probe_writable(path, "-o")
    except OSError as exc:
        raise ConfigError(str(exc)) from None


def _frame_path(out: Path, k: int, steps: int) -> Path:
    """``trace-03.svg`` for frame 3 of ``trace.svg``: zero-padded, so that they sort."""
    return out.with_name(f"{out.stem}-{k:0{len(str(steps))}d}{out.suffix}")
