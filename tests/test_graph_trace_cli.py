"""`layerwise trace`: trace a network trained by `layerwise train`, with no Graphviz."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import layerwise as lw
from layerwise.datasets import load_mnist


def _layerwise(*args: str, cwd: Path, hide_dot: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if hide_dot:  # nothing on PATH at all: no `dot`, and python is called by its full path
        empty = cwd / "empty-bin"
        empty.mkdir(exist_ok=True)
        env["PATH"] = str(empty)
        assert shutil.which("dot", path=env["PATH"]) is None
    return subprocess.run([sys.executable, "-m", "layerwise", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A TwoLayerNet and a SimpleConvNet trained (briefly) by `layerwise train` on the bundled data."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name, model in (("two-layer", "two-layer"), ("simple-cnn", "simple-cnn")):
        path = folder / f"{name}.safetensors"
        done = _layerwise("train", "--model", model, "--epochs", "1", "--save", str(path), cwd=folder)
        assert done.returncode == 0, done.stderr
        out[name] = path
    return out


def _trace_image_7(model: Path, outputs: tuple[Path, ...]) -> tuple[lw.Trace, int]:
    """Run `layerwise trace MODEL --index 7 -o OUT` for each output with no `dot` on
    PATH; return the trace of that image with its true label, computed again here, and the label."""
    for out in outputs:
        done = _layerwise("trace", str(model), "--index", "7", "-o", str(out), cwd=out.parent,
                          hide_dot=True)
        assert done.returncode == 0, done.stderr
        assert f"wrote {out}" in done.stderr
    net = lw.load_model(model).eval()
    (_, _), (x_test, t_test) = load_mnist("mnist-sample", flatten=False)
    return lw.trace(net, x_test[7:8], t_test[7:8]), int(t_test[7])


@pytest.mark.parametrize("name", ["two-layer", "simple-cnn"])
def test_trace_of_a_trained_model_writes_svg_and_html_without_dot(models: dict[str, Path], tmp_path: Path,
                                                                  name: str) -> None:
    svg, page = tmp_path / "trace.svg", tmp_path / "trace.html"
    trace, label = _trace_image_7(models[name], (svg, page))
    text = svg.read_text()
    assert text.startswith("<svg") and "∂L/∂x" in text
    assert '<input type="range"' in page.read_text()
    assert text == trace.to_svg()
    assert f"label {label}" in text


def test_steps_write_one_frame_per_backward_step_and_animate(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "t.svg"
    done = _layerwise("trace", str(models["two-layer"]), "-o", str(out), "--steps", "--animate",
                      "--label", "3", cwd=tmp_path, hide_dot=True)
    assert done.returncode == 0, done.stderr
    frames = sorted(tmp_path.glob("t-*.svg"))
    assert [f.name for f in frames] == [f"t-{k}.svg" for k in range(5)]  # Affine, Relu, Affine, loss: 4 steps
    assert "@keyframes" in out.read_text()
    assert "∂L/∂L = 1" not in frames[0].read_text() and "∂L/∂L = 1" in frames[1].read_text()
    assert "loss for label 3" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--index", "1000"], "--index 1000: out of range for the 1000 test images"),
    (["--index", "x"], "--index: expected an image number, got 'x'"),
    (["--label", "10"], "--label 10: out of range for the network's 10 classes"),
    (["-o", "t.pdf"], "-o t.pdf: a trace is written as .svg, .html, .gif or .png, not .pdf"),
    (["-o", "t.html", "--steps"], "--steps needs -o FILE.svg or FILE.png, got t.html"),
    (["-o", "t.gif", "--steps"], "--steps needs -o FILE.svg or FILE.png, got t.gif"),
    (["--animate"], "--animate needs -o FILE.svg or FILE.gif, got no -o"),
    (["-o", "t.png", "--animate"], "--animate needs -o FILE.svg or FILE.gif, got t.png"),
    (["-o", "missing/t.svg"], "folder missing does not exist"),
])
def test_trace_usage_errors_are_one_line_and_exit_2(models: dict[str, Path], tmp_path: Path, args: list[str],
                                                    message: str) -> None:
    done = _layerwise("trace", str(models["two-layer"]), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerwise: error: ") and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_trace_of_a_missing_model_fails_with_exit_1(tmp_path: Path) -> None:
    done = _layerwise("trace", "nope.safetensors", "-o", "t.svg", cwd=tmp_path)
    assert done.returncode == 1 and "nope.safetensors" in done.stderr
    assert not (tmp_path / "t.svg").exists()


def test_graph_draws_figures_and_trace_draws_networks_one_command_each(tmp_path: Path) -> None:
    done = _layerwise("graph", "apple", "--label", "2", cwd=tmp_path)
    assert done.returncode == 2 and "unrecognized arguments: --label" in done.stderr
    done = _layerwise("graph", "--model", "m.safetensors", cwd=tmp_path)
    assert done.returncode == 2 and "unrecognized arguments: --model" in done.stderr
    done = _layerwise("graph", cwd=tmp_path)
    assert done.returncode == 2 and "give a figure NAME" in done.stderr and "layerwise trace MODEL" in done.stderr
    done = _layerwise("trace", "m.safetensors", "--x", "1", cwd=tmp_path)
    assert done.returncode == 2 and "unrecognized arguments: --x" in done.stderr


def test_relu_and_softmax_outputs_from_the_cli(tmp_path: Path) -> None:
    done = _layerwise("graph", "relu", "--x", "-1", "2", cwd=tmp_path)
    assert done.returncode == 0 and "relu" in done.stdout
    done = _layerwise("graph", "softmax-loss", "--y", "0.3", "0.2", "0.5", "--t", "1", cwd=tmp_path)
    assert done.returncode == 0 and "[0.3, -0.8, 0.5]" in done.stdout
    done = _layerwise("graph", "softmax-loss", "--y", "0.3", "0.2", "--t", "1", cwd=tmp_path)
    assert done.returncode == 2 and "y sums to 0.5" in done.stderr


def test_trace_matches_predict_of_the_saved_model(models: dict[str, Path]) -> None:
    net = lw.load_model(models["simple-cnn"]).eval()
    (_, _), (x_test, t_test) = load_mnist("mnist-sample", flatten=False)
    trace = lw.trace(net, x_test[:3], t_test[:3])
    np.testing.assert_allclose(trace.steps[-1].x, net.predict(x_test[:3]), rtol=1e-6)


def test_steps_never_write_over_an_existing_file(models: dict[str, Path], tmp_path: Path) -> None:
    """-o names t.svg; its frames t-0.svg ... are names the user did not give: one that exists
    stops the run before anything is written."""
    mine = tmp_path / "t-2.svg"
    mine.write_text("the user's own drawing")
    done = _layerwise("trace", str(models["two-layer"]), "-o", str(tmp_path / "t.svg"), "--steps",
                      cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"--steps would write {mine}, which exists" in done.stderr
    assert mine.read_text() == "the user's own drawing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t-2.svg"]


@pytest.mark.parametrize("name", ["two-layer", "simple-cnn"])
def test_trace_of_a_trained_model_writes_gif_and_png_without_dot(models: dict[str, Path], tmp_path: Path,
                                                                 name: str) -> None:
    """The issue's `-o trace.gif`: the backward pass step by step, drawn with Pillow, no Graphviz."""
    from PIL import Image

    gif, png = tmp_path / "trace.gif", tmp_path / "trace.png"
    trace, _ = _trace_image_7(models[name], (gif, png))
    assert png.read_bytes() == trace.to_png()  # the trace of that image with its true label
    with Image.open(gif) as animation:
        assert animation.n_frames == len(trace) + 1 and animation.info["loop"] == 0
        assert animation.size == Image.open(png).size


def test_steps_write_png_frames(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    done = _layerwise("trace", str(models["two-layer"]), "-o", str(out), "--steps", cwd=tmp_path,
                      hide_dot=True)
    assert done.returncode == 0, done.stderr
    frames = sorted(tmp_path.glob("t-*.png"))
    assert [f.name for f in frames] == [f"t-{k}.png" for k in range(5)]
    net = lw.load_model(models["two-layer"]).eval()
    (_, _), (x_test, t_test) = load_mnist("mnist-sample", flatten=False)
    trace = lw.trace(net, x_test[:1], t_test[:1])
    assert [f.read_bytes() for f in frames] == [trace.to_png(k) for k in range(5)]
    assert out.read_bytes() == frames[-1].read_bytes()


def test_gif_without_pillow_is_one_line_before_anything_is_read(tmp_path: Path) -> None:
    """Pillow missing: exit 2 naming the extra, and the model (which does not even exist) is
    never opened."""
    fake = tmp_path / "fake" / "PIL"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('Pillow is not installed here')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    done = subprocess.run([sys.executable, "-m", "layerwise", "trace", "nope.safetensors", "-o",
                           "t.gif"], cwd=tmp_path, env=env, text=True, capture_output=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("layerwise: error: -o t.gif needs the Python package Pillow: "
                                   "pip install 'layerwise[plot]'")
    assert not (tmp_path / "t.gif").exists()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an open file through /proc")
@pytest.mark.parametrize("phase", ["write", "rename"])
def test_steps_write_every_frame_or_none_when_the_disk_fills(
        models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], phase: str) -> None:
    """A full disk at the third frame (while writing it, or while the frames are moved into
    place) leaves no frame and no temporary file behind, and the same command then works."""
    import errno

    from layerwise.cli import main

    out = tmp_path / "t.svg"
    args = ["trace", str(models["two-layer"]), "-o", str(out), "--steps"]
    real_fsync, real_replace = os.fsync, os.replace

    def full_fsync(fd: int) -> None:
        if ".t-2.svg." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "t-2.svg":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    if phase == "write":
        monkeypatch.setattr(os, "fsync", full_fsync)
    else:
        monkeypatch.setattr(os, "replace", failing_replace)
    assert main(args) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("layerwise: error: ") and "t-2.svg: could not be written (No space left on device)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.svg"]  # the trace itself, no frame
    monkeypatch.undo()
    assert main(args) == 0, capsys.readouterr().err
    frames = sorted(p.name for p in tmp_path.glob("t-*.svg"))
    assert len(frames) > 3 and frames[0] == "t-0.svg"


def test_help_of_steps_names_the_frames_as_written(models: dict[str, Path], tmp_path: Path) -> None:
    shown = _layerwise("trace", "--help", cwd=tmp_path).stdout
    assert "FILE-0.svg, FILE-1.svg" in " ".join(shown.split())
    assert "FILE-00.svg ... when there are more than ten" in " ".join(shown.split())
    done = _layerwise("trace", str(models["two-layer"]), "-o", str(tmp_path / "s.svg"), "--steps",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "s-0.svg").is_file() and (tmp_path / "s-1.svg").is_file()
