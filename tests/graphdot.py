"""Read back the DOT text written by layerwise.figures.graph: which numbers sit on which edge."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', re.M)
_LABEL = re.compile(r"^\s*(e\d+_\d+_\d+) \[shape=none.*?label=<(.*)>\];$", re.M)
_CELL = re.compile(r"<td>(.*?)</td>")
_FONT = re.compile(r'<font color="[^"]+">(.*)</font>')
_IN = re.compile(r"^\s*(n\d+) -> (e\d+_\d+_\d+):w", re.M)
_OUT = re.compile(r"^\s*(e\d+_\d+_\d+):e -> (n\d+)", re.M)


@dataclass(frozen=True)
class DotEdge:
    src: str
    dst: str
    forward: str
    grad: str | None


def parse_edges(dot: str) -> list[DotEdge]:
    labels = {m[1]: m[2] for m in _NODE.finditer(dot)}
    texts: dict[str, tuple[str, str | None]] = {}
    for m in _LABEL.finditer(dot):
        top, bottom = _CELL.findall(m[2])
        font = _FONT.search(bottom)
        texts[m[1]] = (html.unescape(top), html.unescape(font[1]) if font else None)
    tails = {m[2]: m[1] for m in _IN.finditer(dot)}
    heads = {m[1]: m[2] for m in _OUT.finditer(dot)}
    assert tails.keys() == heads.keys() == texts.keys(), "every edge goes through a label node"
    return [DotEdge(labels[tails[k]], labels[heads[k]], *texts[k]) for k in sorted(texts)]


def edges_from(dot: str, src: str) -> list[DotEdge]:
    return [e for e in parse_edges(dot) if e.src == src]


def last_number(text: str | None) -> float:
    """The number at the end of an edge text such as ``"y  0.6225"``."""
    assert text is not None
    return float(text.split()[-1])
