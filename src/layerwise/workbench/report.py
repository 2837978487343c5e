"""The check's report: text for a terminal (colour only on one), JSON, and HTML for Jupyter."""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from layerwise.errors import printable
from layerwise.workbench.catalogue import CATALOGUE, translate, ui
from layerwise.workbench.probes import Finding

__all__ = ["CheckResult", "ClassResult", "finding_dict", "text_report", "html_report", "MARKS"]

#: The mark of each class status and finding severity.
MARKS = {"pass": "✓", "note": "✓", "fail": "✗", "missing": "–", "not-started": "✗"}
_COLOURS = {"pass": "32", "note": "33", "fail": "31", "missing": "2", "not-started": "31"}


@dataclass
class ClassResult:
    """The check of one book class: ``status`` is ``pass``, ``note``, ``fail``, ``missing`` or
    ``not-started``; ``implemented_by`` the learner's class name."""

    name: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    implemented_by: str = ""


@dataclass
class CheckResult:
    """Everything ``layerwise check`` found, class by class, and the training run if any."""

    file: str
    results: list[ClassResult]
    train: dict[str, Any] | None = None
    lang: str = "en"

    @property
    def failed(self) -> bool:
        return any(r.status in ("fail", "not-started") for r in self.results)

    def __getitem__(self, name: str) -> ClassResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "results": [
                {
                    "name": r.name,
                    "status": r.status,
                    "class": r.implemented_by,
                    "findings": [finding_dict(f, self.lang) for f in r.findings],
                }
                for r in self.results
            ],
            "train": self.train,
        }

    def __str__(self) -> str:
        return text_report(self, colour=False)

    def _repr_html_(self) -> str:
        return html_report(self)


def finding_dict(f: Finding, lang: str) -> dict[str, Any]:
    entry = CATALOGUE[f.id]
    out = {
        "id": f.id,
        "severity": f.severity,
        "message": entry.title[lang],
        "hint": entry.hint[lang],
        "section": entry.section,
    }
    for key in ("where", "fed", "got", "expected", "index", "numerical"):
        value = getattr(f, key)
        if value not in ("", None):
            out[key] = translate(value, lang) if isinstance(value, str) and key != "where" else value
    return out


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Korean syllable takes two)."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - shown)


def _with_section(hint: str, section: str) -> str:
    """The hint, ending with the book's section unless it already names it."""
    return hint if section in hint else f"{hint} (§{section})"


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def text_report(result: CheckResult, colour: bool) -> str:
    lang = result.lang
    lines = [f"layerwise check {printable(result.file)}", ""]
    width = max(len(r.name) for r in result.results)
    for r in result.results:
        status = ui(lang, r.status)
        head = f"{MARKS[r.status]} {r.name:<{width}}  {status}"
        if r.implemented_by and r.implemented_by != r.name:
            head += f"  ({r.implemented_by})"
        lines.append(_paint(head, _COLOURS[r.status], colour))
        if r.status == "missing":
            continue
        for f in r.findings:
            d = finding_dict(f, lang)
            mark = "✗" if d["severity"] == "fail" else "·"
            sev = ui(lang, d["severity"])
            lines.append(f"    {mark} {d['id']} ({sev}): {d['message']}")
            for key in ("where", "fed", "got", "expected"):
                if key in d:
                    lines.append(f"        {_pad(ui(lang, key), 10)}{printable(str(d[key]))}")
            if "numerical" in d:
                label = "수치 미분" if lang == "ko" else "numerical"
                lines.append(f"        {_pad(label, 10)}{d['numerical']}")
            lines.append(f"        {_pad(ui(lang, 'hint'), 10)}{_with_section(d['hint'], d['section'])}")
    passed = sum(r.status in ("pass", "note") for r in result.results)
    checked = sum(r.status != "missing" for r in result.results)
    lines += ["", ui(lang, "summary").format(passed=passed, total=checked)]
    if result.train is not None:
        lines.append(_train_line(result.train, lang))
    return "\n".join(lines)


def _train_line(train: dict[str, Any], lang: str) -> str:
    if "test_accuracy" in train:
        return ui(lang, "train-result").format(
            acc=train["test_accuracy"], epochs=train["epochs"], ref=train["reference_accuracy"]
        )
    return ui(lang, "train-skipped").format(why=train.get("skipped", ""))


def html_report(result: CheckResult) -> str:
    lang = result.lang
    rows = []
    for r in result.results:
        colour = {"pass": "#1a7f37", "note": "#9a6700", "fail": "#cf222e", "not-started": "#cf222e"}.get(
            r.status, "#57606a"
        )
        items = []
        for f in r.findings:
            d = finding_dict(f, lang)
            details = "".join(
                f"<div><b>{html.escape(ui(lang, k))}</b> {html.escape(str(d[k]))}</div>"
                for k in ("where", "fed", "got", "expected")
                if k in d
            )
            items.append(
                f"<li><code>{html.escape(d['id'])}</code> ({html.escape(ui(lang, d['severity']))}): "
                f"{html.escape(d['message'])}{details}<div><i>{html.escape(ui(lang, 'hint'))}</i> "
                f"{html.escape(_with_section(d['hint'], d['section']))}</div></li>"
            )
        rows.append(
            f"<tr><td style='color:{colour}'>{MARKS[r.status]}</td><td><b>{html.escape(r.name)}</b></td>"
            f"<td style='color:{colour}'>{html.escape(ui(lang, r.status))}</td>"
            f"<td><ul style='margin:0'>{''.join(items)}</ul></td></tr>"
        )
    train = f"<p>{html.escape(_train_line(result.train, lang))}</p>" if result.train is not None else ""
    return (
        f"<div class='layerwise-check'><p><code>layerwise check {html.escape(result.file)}</code></p>"
        f"<table>{''.join(rows)}</table>{train}</div>"
    )
