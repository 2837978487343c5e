"""Graphviz DOT text for a :class:`~layerwise.figures.graph.core.Graph`, written by hand (no dependency).

The layout follows the book's figures: left to right, ops in circles, variable names as plain
text, the forward value above each edge and the gradient below it in red. Each edge is drawn
through a small label node holding a two-row table split by a rule; the edge enters the rule's
left end and leaves its right end, so the rule reads as part of the edge.
"""

from __future__ import annotations

from html import escape

from layerwise.figures.graph.core import CONST, INPUT, Edge, Graph, Node
from layerwise.figures.graph.fmt import format_value

__all__ = ["to_dot", "edge_texts"]

FONT = "Helvetica"
GRAD_COLOR = "red"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def edge_texts(edge: Edge, precision: int = 4, *, shapes_only: bool = False) -> tuple[str, str | None]:
    """The (forward, gradient) texts drawn above and below ``edge``; gradient ``None`` if absent."""
    src = edge.src
    fwd = format_value(edge.value, precision, shapes_only=shapes_only)
    if src.tag:
        fwd = f"{src.tag}  {fwd}"
    if edge.grad is None:
        return fwd, None
    grad = format_value(edge.grad, precision, shapes_only=shapes_only)
    if src.grad_tag:
        grad = f"{src.grad_tag}  {grad}"
    return fwd, grad


def _node_line(node: Node) -> str:
    if node.op in (INPUT, CONST, "output"):
        return f"n{node.id} [label={_quote(node.label)}, shape=plaintext];"
    shape = node.impl.shape if node.impl is not None else "circle"
    if shape == "circle" and len(node.label) > 3:
        shape = "ellipse"
    return f"n{node.id} [label={_quote(node.label)}, shape={shape}];"


def _label_node_line(name: str, fwd: str, grad: str | None) -> str:
    bottom = f'<font color="{GRAD_COLOR}">{escape(grad)}</font>' if grad is not None else "&#160;"
    table = (
        '<table border="0" cellborder="0" cellspacing="0" cellpadding="2">'
        f"<tr><td>{escape(fwd)}</td></tr><hr/><tr><td>{bottom}</td></tr></table>"
    )
    return f"{name} [shape=none, width=0, height=0, margin=0, label=<{table}>];"


def to_dot(graph: Graph, *, precision: int = 4) -> str:
    """DOT text of ``graph``: rankdir=LR, forward values above the edges, gradients below in red.

    Numbers keep ``precision`` significant digits; arrays beyond a short vector show their
    shape, e.g. ``(2,3)``. Nodes made inside ``graph.group(title)`` share a titled cluster, and
    ``graph.notes`` are printed under the figure.
    """
    head = [
        f"digraph {_quote(graph.name)} {{",
        # ordering=in keeps a node's inputs top to bottom in argument order (X above W).
        f'  graph [rankdir=LR, ordering=in, nodesep=0.25, ranksep=0.25, fontname="{FONT}", fontsize=12];',
        f'  node [fontname="{FONT}", fontsize=12];',
        f'  edge [fontname="{FONT}", fontsize=11, arrowsize=0.7];',
    ]
    if graph.notes:
        notes = "".join(f'{escape(line)}<br align="left"/>' for line in graph.notes)
        head.append(f"  label=<{notes}>; labelloc=b; labeljust=l;")

    by_group: dict[str | None, list[str]] = {None: []}
    for key in graph.groups:
        by_group[key] = []
    for node in graph.nodes:
        by_group[node.group].append(_node_line(node))

    edge_lines: list[str] = []
    for edge in graph.edges:
        fwd, grad = edge_texts(edge, precision, shapes_only=graph.shapes_only)
        mid = f"e{edge.src.id}_{edge.dst.id}_{edge.slot}"
        group = edge.src.group if edge.src.group == edge.dst.group else None
        by_group[group].append(_label_node_line(mid, fwd, grad))
        comment = f"{edge.src.label} -> {edge.dst.label}: {fwd}" + (f" / {grad}" if grad else "")
        edge_lines.append(f"  // {comment.replace(chr(10), ' ')}")
        edge_lines.append(f"  n{edge.src.id} -> {mid}:w [arrowhead=none, headclip=false];")
        edge_lines.append(f"  {mid}:e -> n{edge.dst.id} [tailclip=false];")

    body = [f"  {line}" for line in by_group[None]]
    for key, title in graph.groups.items():
        body.append(f"  subgraph {key} {{")
        body.append(f'    label={_quote(title)}; style=rounded; color="gray60";')
        body.extend(f"    {line}" for line in by_group[key])
        body.append("  }")
    return "\n".join([*head, *body, *edge_lines, "}"]) + "\n"
