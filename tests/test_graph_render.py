"""Number formatting, DOT text, and rendering to files (SVG/PNG need Graphviz's `dot`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from layerwise.figures.graph import FIGURES, Graph, GraphvizUnavailableError, figure, render
from layerwise.figures.graph.fmt import format_number, format_shape, format_value

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (715.0000000001, "715"),
        (100 * 1.1, "110"),
        (2.2000000000000006, "2.2"),
        (3 * 1.1, "3.3"),
        (0.2350037122015945, "0.235"),
        (-0.26338, "-0.2634"),
        (-0.0, "0"),
        (12345.6, "12350"),
        (1e-8, "1e-08"),
        (2.5e7, "2.5e+07"),
        (float("inf"), "inf"),
    ],
)
def test_format_number(x: float, text: str) -> None:
    assert format_number(x) == text


def test_format_value_and_shape() -> None:
    assert format_value(np.array(220.00000000000003)) == "220"
    assert format_value([0.1, 0.25, 0.65]) == "[0.1, 0.25, 0.65]"
    assert format_value(np.zeros((2, 3))) == "(2,3)"
    assert format_value(np.zeros(5)) == "(5,)"
    assert format_value(np.zeros(3), shapes_only=True) == "(3,)"
    assert format_shape((2, 3, 4)) == "(2,3,4)"


def test_dot_text_layout_and_colours() -> None:
    dot = figure("apple").to_dot()
    assert dot.startswith('digraph "apple" {')
    assert "rankdir=LR" in dot
    assert '<font color="red">2.2</font>' in dot
    assert dot.rstrip().endswith("}")


def test_dot_escapes_html_and_quotes() -> None:
    g = Graph('a "quoted" <name>')
    a = g.input('x "1"', 1.0, grad_tag="a<b & c")
    g.output(g.exp(a), "y")
    g.backward()
    dot = g.to_dot()
    assert 'digraph "a \\"quoted\\" <name>"' in dot
    assert 'label="x \\"1\\""' in dot
    assert "a&lt;b &amp; c  2.718" in dot


def test_edges_before_backward_have_no_gradient_row() -> None:
    g = Graph()
    g.output(g.exp(g.input("x", 0.0)), "y")
    assert "color=" not in g.to_dot().split("edge [", 1)[1]


@needs_dot
@pytest.mark.parametrize("name", list(FIGURES))
def test_dot_program_accepts_every_figure_without_warnings(name: str) -> None:
    proc = subprocess.run(
        ["dot", "-Tcanon"], input=figure(name).to_dot(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_render_dot_needs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    out = render(figure("apple"), tmp_path / "apple.dot")
    assert out.read_text(encoding="utf-8") == figure("apple").to_dot()


@needs_dot
def test_render_png_has_png_magic(tmp_path: Path) -> None:
    out = figure("apple-orange").render(tmp_path / "fig.png")
    assert out.read_bytes().startswith(PNG_MAGIC)


@needs_dot
def test_render_svg_contains_the_numbers(tmp_path: Path) -> None:
    svg = figure("apple-orange").render(tmp_path / "fig.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    for number in ["715", "2.2", "110", "3.3", "165", "650"]:
        assert f">{number}</text>" in svg
    assert 'fill="red"' in svg


@needs_dot
def test_format_argument_overrides_suffix(tmp_path: Path) -> None:
    out = render(figure("apple"), tmp_path / "figure.img", format="png")
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_missing_dot_program_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot`
    target = tmp_path / "fig.svg"
    with pytest.raises(GraphvizUnavailableError, match="`dot` program") as info:
        figure("apple").render(target)
    assert "apt-get install graphviz" in str(info.value)
    assert "pip install graphviz" in str(info.value)  # the hint of graph/errors.py (issue 17 #14)
    assert not target.exists()


def test_missing_graphviz_package_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(GraphvizUnavailableError, match="pip install graphviz"):
        figure("apple").render(tmp_path / "fig.png")
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'.*fig\.jpg'.*use a suffix among \.dot, \.svg, \.png"):
        figure("apple").render(tmp_path / "fig.jpg")


def test_write_is_atomic_and_leaves_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "fig.dot"
    target.write_text("old", encoding="utf-8")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("layerwise.files.fileio.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        render(figure("apple"), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.dot"]

    monkeypatch.undo()
    render(figure("apple"), target)
    assert target.read_text(encoding="utf-8").startswith("digraph")
    assert [p.name for p in tmp_path.iterdir()] == ["fig.dot"]


def test_readme_figure_is_committed_and_shows_the_numbers() -> None:
    # docs/img/apple-orange.svg is made by `layerwise graph apple-orange -o ...`; if the figure's
    # numbers change, regenerate it.
    svg_path = Path(__file__).resolve().parents[1] / "docs" / "img" / "apple-orange.svg"
    svg = svg_path.read_text(encoding="utf-8")
    for number in ["100", "2.2", "2", "110", "150", "3.3", "3", "165", "650", "1.1", "715"]:
        assert f">{number}</text>" in svg, number
