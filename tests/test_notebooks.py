"""The chapter notebooks run top to bottom in a fresh kernel, and are committed without outputs.

Each notebook of ``examples/notebooks/`` is executed by nbclient in a new ``python3`` kernel of
this interpreter, in a fresh folder (what a notebook writes stays there), on the bundled data
only. The notebook test dependencies are the ``notebooks`` extra (nbclient, nbformat,
ipykernel); without them the execution tests are skipped (they fail in CI, which installs
them). The outputs check needs only the JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from _optional import require

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
EXPECTED = {
    "ch04_learning.ipynb",
    "ch05_backprop.ipynb",
    "ch05_backprop.ko.ipynb",
    "ch06_toolkit.ipynb",
    "ch07_convolution.ipynb",
}


def test_every_chapter_has_its_notebook() -> None:
    assert EXPECTED <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("matplotlib", "the notebooks' figures")
    nbformat = require("nbformat", 'the notebooks extra: pip install -e ".[notebooks]"')
    nbclient = require("nbclient", 'the notebooks extra: pip install -e ".[notebooks]"')
    require("ipykernel", 'the notebooks extra: pip install -e ".[notebooks]"')
    # The kernel is this interpreter (not whatever `python3` a kernelspec names), without the
    # display variables of the machine running the tests.
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.kernel_manager_class = _kernel_manager(sys.executable)
    client.execute()
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})]
    assert images, f"{path.name} drew no figure inline"


def _kernel_manager(python: str) -> type:
    """A kernel manager that starts ipykernel with ``python``, whatever kernelspecs say."""
    from jupyter_client.manager import KernelManager

    class ThisPythonKernel(KernelManager):  # type: ignore[misc]
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return [python, "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]

    return ThisPythonKernel
