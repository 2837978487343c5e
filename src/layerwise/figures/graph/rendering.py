"""Write a graph to a file: .dot as text (always), .svg and .png through Graphviz."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from layerwise.errors import ConfigError
from layerwise.figures.graph.core import Graph
from layerwise.figures.graph.dot import to_dot
from layerwise.figures.graph.errors import INSTALL_HINT, GraphvizUnavailableError
from layerwise.files.fileio import atomic_write_bytes

__all__ = ["Format", "FORMATS", "render", "render_bytes", "format_for"]

Format = Literal["dot", "svg", "png"]
FORMATS: tuple[str, ...] = get_args(Format)


def format_for(path: str | Path) -> Format:
    """The output format named by ``path``'s suffix; ``ValueError`` for any other suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    for fmt in get_args(Format):
        if suffix == fmt:
            return fmt
    wanted = ", ".join(f".{f}" for f in FORMATS)
    raise ConfigError(f"cannot tell the output format of {str(path)!r}: use a suffix among {wanted}")


def render_bytes(graph: Graph, format: Format) -> bytes:
    """The graph drawn as ``format``; SVG and PNG need the graphviz package and ``dot``."""
    text = to_dot(graph)
    if format == "dot":
        return text.encode("utf-8")
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    try:
        import graphviz
    except ImportError:
        raise GraphvizUnavailableError(
            f"rendering {format.upper()} needs the graphviz Python package: {INSTALL_HINT}"
        ) from None
    try:
        data = graphviz.Source(text).pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise GraphvizUnavailableError(
            f"rendering {format.upper()} needs the Graphviz `dot` program on PATH: {INSTALL_HINT}"
        ) from None
    return bytes(data)


def render(graph: Graph, path: str | Path, *, format: Format | None = None) -> Path:
    """Write ``graph`` to ``path`` as DOT text, SVG or PNG, chosen by suffix unless ``format``.

    Raises ``ValueError`` for an unknown suffix and :class:`GraphvizUnavailableError` (with the
    install commands) when SVG/PNG is asked for without Graphviz. The file is written
    atomically through :mod:`layerwise.files.fileio`. Returns the path written.
    """
    out = Path(path)
    fmt = format if format is not None else format_for(out)
    data = render_bytes(graph, fmt)  # before touching the file system: no empty file on error
    atomic_write_bytes(out, data)
    return out
