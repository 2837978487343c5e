"""The book's training scripts (ch. 5 and 7) run on a slice of the bundled sample."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from layerwise.files.model_files import load_model

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str, *args: str, cwd: Path) -> str:
    env = dict(os.environ, MPLBACKEND="Agg", LAYERWISE_DATA=str(cwd / "cache"))
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=600, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_train_neuralnet(tmp_path: Path) -> None:
    out = run("train_neuralnet.py", "--data", "mnist-sample", "--iters", "200", cwd=tmp_path)
    accs = [tuple(map(float, m)) for m in re.findall(r"train acc, test acc \| (\d\.\d+), (\d\.\d+)", out)]
    assert len(accs) == 5  # 4,000 images, batch 100: an epoch is 40 iterations
    assert accs[-1][0] > accs[0][0] and accs[-1][1] > 0.8


def test_train_convnet_and_visualize_filter(tmp_path: Path) -> None:
    model, plot = tmp_path / "convnet.safetensors", tmp_path / "acc.png"
    out = run("train_convnet.py", "--data", "mnist-sample", "--epochs", "2", "--train-size", "1000",
              "--test-size", "300", "--save", str(model), "--out", str(plot), cwd=tmp_path)
    acc = float(re.search(r"final test accuracy: (\d\.\d+)", out).group(1))  # type: ignore[union-attr]
    assert acc > 0.5
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    net = load_model(model)
    assert net.params["W1"].shape == (30, 1, 5, 5)

    filters = tmp_path / "filters.png"
    out = run("visualize_filter.py", str(model), "--out", str(filters), cwd=tmp_path)
    stds = [float(s) for s in re.findall(r"std (\d\.\d+)", out)]
    assert len(stds) == 2 and stds[1] > stds[0]  # training grows the filters from 0.01 noise
    assert filters.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert filters.stat().st_size > 5000
