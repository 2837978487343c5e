"""A griffe extension for the API reference: prose after a numpydoc section becomes its "Notes".

layerwise's docstrings often follow a ``Parameters`` list with paragraphs of prose (the shapes
of ``forward``, the formula of the backward pass). Numpydoc keeps prose in a ``Notes`` section;
without one, the parser reads each prose line as another parameter. This extension inserts a
``Notes`` heading before the first such paragraph, in the docstrings as mkdocstrings reads them;
the source is not changed. A line is prose when it is inside a section, at the section's
indentation, with no `` : `` (the name/type separator), and either starts a paragraph and has a
backquote or more than three words, or has a backquote. Doctest lines (``>>>``) outside an
``Examples`` section are fenced as ``pycon`` code, so that their output is not read as Markdown,
and Sphinx roles (``:class:`~x.Y` ``) become plain code spans.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SECTIONS = {"parameters", "other parameters", "returns", "yields", "raises", "warns", "attributes",
             "receives"}
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const):`~?([^`]+)`")


def strip_roles(text: str) -> str:
    """Sphinx roles as plain code: ``:meth:`~a.b.train` `` becomes `` `train` ``."""
    return _ROLE.sub(lambda m: f"`{m[1].rsplit('.', 1)[-1] if m[0].count('~') else m[1]}`", text)


def _is_prose(line: str) -> bool:
    text = line.strip()
    return " : " not in text and ("`" in text or len(text.split()) > 3)


def add_notes_headings(text: str) -> str:
    """``text`` with a ``Notes`` heading before each prose paragraph that follows a section."""
    lines = text.splitlines()
    out: list[str] = []
    in_section = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _UNDERLINE.match(nxt):  # a section heading
            in_section = line.strip().lower() in _SECTIONS
            out.append(line)
            continue
        starts_paragraph = i > 0 and not lines[i - 1].strip()
        if (in_section and line.strip() and not line.startswith(" ") and _is_prose(line)
                and (starts_paragraph or "`" in line)):
            out.extend(["Notes", "-----"])
            in_section = False
        out.append(line)
    return "\n".join(out)


def fence_doctests(text: str) -> str:
    """``text`` with each run of doctest lines, up to the next blank line, in a ``pycon`` fence
    (outside ``Examples`` sections, which the numpydoc parser already shows as code)."""
    lines = text.splitlines()
    out: list[str] = []
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _UNDERLINE.match(nxt):
            section = line.strip().lower()
        if line.lstrip().startswith(">>>") and section != "examples":
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(indent + "```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class ProseAsNotes(griffe.Extension):
    """Apply :func:`add_notes_headings`, :func:`fence_doctests` and :func:`strip_roles` to every
    docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(fence_doctests(add_notes_headings(obj.docstring.value)))
