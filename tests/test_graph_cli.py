"""`layerwise graph NAME [--x ...] [--t LABEL] [-o FILE]` through layerwise.cli.program."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from graphdot import edges_from, last_number

from layerwise.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
SRC = Path(__file__).resolve().parents[1] / "src"


def test_prints_dot_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "apple-orange"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "apple-orange"')
    [tax] = edges_from(out, "tax")
    assert (tax.forward, tax.grad) == ("1.1", "650")


def test_sigmoid_x(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "sigmoid", "--x", "-1"]) == 0
    out = capsys.readouterr().out
    y = 1 / (1 + 2.718281828459045)  # sigmoid(-1)
    for edge in edges_from(out, "x"):
        assert last_number(edge.forward) == -1
        assert last_number(edge.grad) == pytest.approx(y * (1 - y), abs=5e-4)


def test_softmax_loss_x_and_t(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "softmax-loss", "--x", "0", "0", "--t", "0"]) == 0
    [edge] = edges_from(capsys.readouterr().out, "a")
    assert edge.grad == "y − t  [-0.5, 0.5]"


def test_writes_dot_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "apple.dot"
    assert main(["graph", "apple", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith('digraph "apple"')
    assert "wrote" in capsys.readouterr().err


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml")])
def test_writes_png_and_svg(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"fig{suffix}"
    assert main(["graph", "affine", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_unknown_figure_lists_available(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "banana"]) == 2
    err = capsys.readouterr().err
    assert "unknown figure 'banana'" in err
    for name in ["apple", "apple-orange", "sigmoid", "affine", "softmax-loss"]:
        assert name in err


def test_unknown_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "apple", "-o", str(tmp_path / "fig.gif")]) == 2
    assert "use a suffix among .dot, .svg, .png" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "apple", "--x", "1"]) == 2
    assert "takes no x" in capsys.readouterr().err
    assert main(["graph", "sigmoid", "--x", "1", "2"]) == 2
    assert "takes one x value" in capsys.readouterr().err
    assert main(["graph", "softmax-loss", "--t", "7"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_missing_dot_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", "apple", "-o", str(tmp_path / "fig.svg")]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_python_dash_m(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "layerwise", "graph", "apple"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "220" in proc.stdout


def test_an_output_that_is_a_symbolic_link_is_refused_and_its_target_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "thesis.txt"
    other.write_text("precious\n")
    link = tmp_path / "figure.dot"
    link.symlink_to(other)
    assert main(["graph", "sigmoid", "-o", str(link)]) == 2
    err = capsys.readouterr().err
    assert err == f"layerwise: error: -o {link} is a symbolic link (to {other}): an output is never " \
                  "written through a link; give the path of a file itself\n"
    assert other.read_text() == "precious\n" and link.is_symlink()
