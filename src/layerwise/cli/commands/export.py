"""``layerwise export``: a saved model as an ONNX file, for onnxruntime, Netron and others."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from layerwise.errors import ConfigError, OutputError

__all__ = ["add_parser", "run", "parse_shape"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", help="write a saved model as an ONNX file (needs: pip install 'layerwise[onnx]')",
        description="Write a model file as an ONNX model (opset 17, IR version 8) with the input "
                    "x (N, ...) and the outputs probabilities and scores (N, classes).")
    p.add_argument("model", metavar="MODEL", help="a model file written by `layerwise train --save`")
    p.add_argument("-o", "--output-file", dest="output_file", metavar="PATH.onnx", default=None,
                   help="where to write the ONNX model (default: MODEL with the suffix .onnx); "
                        "written atomically")
    p.add_argument("--output", choices=("probabilities", "scores"), default=None,
                   help="probabilities: the softmax as the output 'probabilities', with 'scores' "
                        "as a second output (the default for a classifier); scores: what "
                        "predict() returns, alone")
    p.add_argument("--input-shape", metavar="D[,D...]", default=None,
                   help="the shape of one input sample, e.g. 1,28,28 to feed images to an MLP "
                        "(default: what the first layer takes)")
    p.set_defaults(func=run)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,28,28"`` as ``(1, 28, 28)``; a :class:`ConfigError` naming the flag otherwise."""
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise ConfigError(f"--input-shape: expected positive sizes separated by commas, e.g. 1,28,28, "
                          f"got {text!r}")
    return dims


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def run(args: argparse.Namespace) -> int:
    from layerwise.files.fileio import probe_writable

    out = args.output_file or str(Path(args.model).with_suffix(".onnx"))
    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    # Every check that needs no work comes first: the output path, then the onnx package.
    if args.output_file is None and Path(out).exists():
        raise ConfigError(f"{out} exists and no -o was given: give -o {out} to replace it, or another path")
    if _same_file(out, args.model):
        raise ConfigError(f"-o {out} is the model file itself: writing it would destroy the model; "
                          "give another path")
    try:
        probe_writable(out, "-o")
    except OutputError as exc:  # a path given on the command line: a usage error
        raise ConfigError(str(exc)) from None
    from layerwise.files.export.onnx_graph import export_onnx, require_onnx
    from layerwise.files.model_files import load_model

    require_onnx()
    net = load_model(args.model)
    model = export_onnx(net, out, output=args.output, input_shape=shape)

    def describe(value: Any) -> str:
        dims = [d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim]
        return f"{value.name} ({', '.join(dims)})"

    print(f"wrote {out}: ONNX opset {model.opset_import[0].version}, IR version {model.ir_version}; "
          f"input {describe(model.graph.input[0])}; outputs "
          f"{', '.join(describe(v) for v in model.graph.output)}")
    return 0
