"""``layerwise trace MODEL``: draw backprop through a saved network on one test image.

No Graphviz is needed: ``-o FILE`` writes ``.svg`` (``--animate``: the backward pass step by
step), ``.html`` (a slider over the frames), ``.gif`` (the backward pass step by step) or
``.png`` (GIF and PNG are drawn with Pillow, in the ``plot`` extra); ``--steps`` also writes one
``.svg`` or ``.png`` file per frame, every one or none. Without ``-o`` the SVG goes to stdout.

Exit codes: 0 done; 2 a usage error (an unknown suffix, an ``--index`` or ``--label`` out of
range, an output path that cannot be written, a ``.gif`` or ``.png`` without Pillow and its
font); 1 the work failed (a missing or corrupt model or data file, writing failed on the way).
Each error is one line, ``layerwise: error: ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from layerwise.cli.commands.common import DATA_CHOICES, parse_int

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "trace", help="draw backprop through a saved network on one test image (no Graphviz needed)",
        description="Draw one forward and backward pass of a saved network on one test image: each "
                    "layer's input and output, the dout it received and the dx it sent back.")
    p.add_argument("model", metavar="MODEL", help="a model file written by `layerwise train --save`")
    p.add_argument("--data", default=None, choices=DATA_CHOICES,
                   help="the data set of the test image (default: the one recorded in the model file)")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="a folder holding the IDX files")
    p.add_argument("--index", default="0", metavar="I", help="which test image (default 0)")
    p.add_argument("--label", default=None, metavar="L",
                   help="the label the loss is taken against (default: the image's true label)")
    p.add_argument("--steps", action="store_true",
                   help="with -o FILE.svg or FILE.png, also write one frame per backward step: "
                        "FILE-0.svg, FILE-1.svg ... (numbered from 0; FILE-00.svg ... when there are "
                        "more than ten); all of them, or none")
    p.add_argument("--animate", action="store_true",
                   help="with -o FILE.svg, an animated SVG: the backward pass one layer a second "
                        "(a .gif is always animated)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write FILE.svg, FILE.html, FILE.gif or FILE.png (GIF/PNG need the plot extra); "
                        "default: SVG to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Trace the network on one test image and write the figure (no Graphviz).

    Every flag is checked, and the output path probed, before the model and data are read.
    """
    import numpy as np

    from layerwise.cli.commands.common import load_model_test_data
    from layerwise.errors import ConfigError
    from layerwise.figures.trace_figure import RASTER_FORMATS, TRACE_FORMATS, trace_png, trace_svg
    from layerwise.figures.tracing import trace as trace_network
    from layerwise.files.fileio import atomic_write_all
    from layerwise.files.model_files import load_model_and_metadata
    from layerwise.functions import softmax

    index = parse_int("--index", args.index, "an image number")
    label = parse_int("--label", args.label, "an integer label")
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
        from layerwise.figures.raster import require_raster

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
    from layerwise.cli.commands.common import check_not_link
    from layerwise.errors import ConfigError
    from layerwise.files.fileio import probe_writable

    check_not_link(path, "-o")
    try:
        probe_writable(path, "-o")
    except OSError as exc:
        raise ConfigError(str(exc)) from None


def _frame_path(out: Path, k: int, steps: int) -> Path:
    """``trace-03.svg`` for frame 3 of ``trace.svg``: zero-padded, so that they sort."""
    return out.with_name(f"{out.stem}-{k:0{len(str(steps))}d}{out.suffix}")
