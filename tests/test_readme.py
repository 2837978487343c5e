"""The README's Python snippets run as written."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_python_snippets() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_snippet_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[index]
    if ".render(" in code and shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "cache"))
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
    assert os.getcwd() == str(tmp_path)
