"""Every code block of the documentation runs, and the site builds with no warning.

A page of ``docs/`` is run as a script: its ```` ```python ```` and ```` ```sh ```` blocks in
order, in one fresh folder, the Python blocks sharing one namespace (so a page may build a
network in one block and train it in the next), the shell blocks with this interpreter's
``python`` and ``layerwise`` first on ``PATH``. A block that must not run (it installs
packages, or downloads) is preceded by ``<!-- no-run: why -->``; ```` ```text ```` blocks are
output, not code. No other fence is allowed, so nothing escapes by its language tag.
``README.ko.md``'s Python blocks run one by one, as ``tests/test_readme.py`` runs README's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _optional import require, require_program

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(
    r"^(?:<!-- no-run: (?P<why>[^>]*?) -->\n)?```(?P<lang>[^\n`]*)\n(?P<code>.*?)^```[ \t]*$",
    re.S | re.M,
)
RUN = {"python", "sh"}
SHOWN = {"text"}


def blocks(path: Path) -> list[tuple[str, str, str | None]]:
    """``(language, code, why-not-run)`` of each fenced block of ``path``, in order."""
    return [(m["lang"].strip(), m["code"], m["why"]) for m in FENCE.finditer(path.read_text())]


def page_id(path: Path) -> str:
    return str(path.relative_to(DOCS))


def test_docs_have_pages_with_code() -> None:
    assert len(PAGES) >= 15
    runnable = [b for p in PAGES for b in blocks(p) if b[0] in RUN and b[2] is None]
    assert len(runnable) >= 40


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_fence_is_runnable_or_marked(page: Path) -> None:
    text = page.read_text()
    fences = re.findall(r"^[ \t]*```", text, re.M)
    found = blocks(page)
    assert len(fences) == 2 * len(found), f"{page_id(page)}: an indented or unclosed fence"
    for lang, _code, why in found:
        assert lang in RUN | SHOWN, f"{page_id(page)}: fence language {lang!r}; use python, sh or text"
        assert why is None or why.strip(), f"{page_id(page)}: a no-run marker must say why"
        assert lang != "text" or why is None, f"{page_id(page)}: text blocks never run; drop the marker"


def _needs(code: str) -> None:
    """Skip a page whose blocks need what this machine may lack (fail in CI)."""
    if re.search(r"\.render\(|layerwise graph \S+.* -o \S+\.(svg|png)", code):
        require("graphviz", "SVG/PNG figures")
        require_program("dot", "SVG/PNG figures")
    if "matplotlib" in code or "--plot" in code:
        require("matplotlib", "figures")
    if "export_onnx" in code or "layerwise export" in code:
        require("onnx", 'the onnx extra: pip install ".[onnx]"')
        require("onnxruntime", 'the onnx extra: pip install ".[onnx]"')
    if "to_torch" in code:
        require("torch", 'the torch extra: pip install ".[torch]"')


@pytest.mark.parametrize("page", [p for p in PAGES if any(b[0] in RUN for b in blocks(p))], ids=page_id)
def test_page_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = [(lang, code) for lang, code, why in blocks(page) if lang in RUN and why is None]
    _needs("".join(code for _, code in found))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for i, (lang, code) in enumerate(found, 1):
        where = f"{page_id(page)} block {i}"
        if lang == "python":
            exec(compile(code, where, "exec"), namespace)
        else:
            proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"{where} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        assert os.getcwd() == str(tmp_path), f"{where} changed the working folder"


def test_mkdocs_build_strict_has_no_warnings(tmp_path: Path) -> None:
    require("mkdocs", 'the docs extra: pip install -e ".[docs]"')
    require("material", "mkdocs-material")
    require("mkdocstrings_handlers.python", "mkdocstrings[python]")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    assert (tmp_path / "site" / "api" / "layers" / "index.html").is_file()
    copied_code = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "site").rglob("*.py"))
    assert copied_code == [], "the build's own code was copied into the site"


def test_a_default_mkdocs_build_leaves_no_untracked_folder() -> None:
    """``mkdocs build`` writes ``site/``; git ignores it, so it is never committed by mistake."""
    git = require_program("git", "git check-ignore")
    proc = subprocess.run([git, "check-ignore", "-q", "site/index.html"], cwd=ROOT)
    assert proc.returncode == 0, "site/ is not in .gitignore"


def test_the_site_loads_nothing_from_the_network(tmp_path: Path) -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^\s*font: false", config, re.M), "Material would load web fonts"
    assert "import:" not in config, "mkdocstrings inventories are fetched from the network"


KO_README = ROOT / "README.ko.md"


def test_korean_readme_links_the_korean_notebook() -> None:
    assert "examples/notebooks/ch05_backprop.ko.ipynb" in KO_README.read_text()
    assert (ROOT / "examples" / "notebooks" / "ch05_backprop.ko.ipynb").is_file()
