"""The READMEs' Python snippets (README.md, and README.ko.md for the Korean edition's readers)
run as written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from _optional import require, require_program

ROOT = Path(__file__).resolve().parent.parent
READMES = ("README.md", "README.ko.md")
BLOCKS = {name: re.findall(r"```python\n(.*?)```", (ROOT / name).read_text(), re.S) for name in READMES}


@pytest.mark.parametrize("name", READMES)
def test_readme_has_python_snippets(name: str) -> None:
    assert len(BLOCKS[name]) >= 2


@dataclass(frozen=True)
class Need:
    """A snippet that uses ``used`` needs ``module`` (and ``program``), from ``extra``."""

    used: re.Pattern[str]
    module: str
    extra: str
    program: str | None = None


NEEDS = (
    Need(re.compile(r"\.render\("), "graphviz", "graph", "dot"),
    Need(re.compile(r"\.save\([^)]*\.(gif|png)|to_png\(|to_gif\("), "PIL", "plot"),
    Need(re.compile(r"to_torch\(|from_torch\("), "torch", "torch"),
    Need(re.compile(r"export_onnx\("), "onnx", "onnx"),
)


@pytest.mark.parametrize(("name", "index"), [(n, i) for n in READMES for i in range(len(BLOCKS[n]))])
def test_a_snippet_that_needs_an_extra_says_so_in_its_first_line(name: str, index: int) -> None:
    """The README's set-up installs no extra: a snippet that needs one names it, before a
    reader runs it into a traceback (issue 29)."""
    code = BLOCKS[name][index]
    first = code.splitlines()[0] if code.strip() else ""
    for need in NEEDS:
        if need.used.search(code):
            assert first.startswith("#") and f'.[{need.extra}]' in first.replace(" ", ""), (
                f"{name} block {index + 1} uses {need.module} without naming the {need.extra} extra "
                f"in its first line: {first!r}")


@pytest.mark.parametrize(("name", "index"), [(n, i) for n in READMES for i in range(len(BLOCKS[n]))])
def test_readme_snippet_runs(name: str, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[name][index]
    for need in NEEDS:
        if need.used.search(code):
            require(need.module, need.extra)
            if need.program:
                require_program(need.program, need.extra)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "cache"))
    exec(compile(code, f"{name} python block {index + 1}", "exec"), {"__name__": "__readme__"})
    assert os.getcwd() == str(tmp_path)


def _module_rows(name: str) -> list[str]:
    return re.findall(r"^\| `(layerwise\.[a-z_]+)`", (ROOT / name).read_text(), re.M)


def _commands(name: str) -> set[str]:
    return set(re.findall(r"^(?:mpirun .*?)?layerwise ([a-z]+)", (ROOT / name).read_text(), re.M))


def test_the_korean_readme_has_every_section_module_row_and_command_of_the_english_one() -> None:
    english, korean = ((ROOT / n).read_text() for n in READMES)
    assert len(re.findall(r"^## ", korean, re.M)) == len(re.findall(r"^## ", english, re.M))
    assert _module_rows("README.ko.md") == _module_rows("README.md")
    assert _commands("README.ko.md") == _commands("README.md")
