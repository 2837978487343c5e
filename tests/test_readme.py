"""The READMEs' Python snippets (README.md, and README.ko.md for the Korean edition's readers)
run as written."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READMES = ("README.md", "README.ko.md")
BLOCKS = {name: re.findall(r"```python\n(.*?)```", (ROOT / name).read_text(), re.S) for name in READMES}


@pytest.mark.parametrize("name", READMES)
def test_readme_has_python_snippets(name: str) -> None:
    assert len(BLOCKS[name]) >= 2


@pytest.mark.parametrize(("name", "index"), [(n, i) for n in READMES for i in range(len(BLOCKS[n]))])
def test_readme_snippet_runs(name: str, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[name][index]
    if ".render(" in code and shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "cache"))
    exec(compile(code, f"{name} python block {index + 1}", "exec"), {"__name__": "__readme__"})
    assert os.getcwd() == str(tmp_path)
