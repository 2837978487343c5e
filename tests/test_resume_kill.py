"""Issue 17: a run killed by SIGKILL, mid-epoch or mid-checkpoint-write, and resumed with
``--resume`` alone, ends with the same model file, plot and history as a run never killed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from layerwise.files.model_files import MODEL_FORMAT, read_safetensors

HERE = Path(__file__).resolve().parent
RUN = ["train", "--data", "mnist-sample", "--model", "mlp", "--hidden", "32,16", "--optimizer", "adam",
       "--batchnorm", "--dropout", "0.2", "--weight-decay", "1e-4", "--seed", "3", "--quiet",
       "--epochs", "4", "--batch-size", "200", "--threads", "1"]
STEPS_PER_EPOCH = 4000 // 200


def outputs(folder: Path) -> list[str]:
    return ["--save", str(folder / "m.safetensors"), "--plot", str(folder / "curves.png"),
            "--history", str(folder / "history.json"), "--checkpoint", str(folder / "run.ckpt")]


def run(args: list[str], env: dict[str, str], kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "layerwise", *args] if kill_at is None else \
        [sys.executable, str(HERE / "_kill_run.py"), *args]
    env = dict(env, KILL_AT=kill_at) if kill_at else env
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def history_without_times(path: Path) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    folder = tmp_path_factory.mktemp("full")
    env = dict(os.environ, LAYERWISE_DATA=str(folder / "cache"))
    proc = run([*RUN, *outputs(folder)], env)
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.mark.parametrize("kill_at", [f"step:{STEPS_PER_EPOCH * 2 + 7}", "write:2", "write:1"])
def test_a_killed_run_resumed_with_only_resume_writes_the_same_files(
        kill_at: str, uninterrupted: Path, tmp_path: Path) -> None:
    env = dict(os.environ, LAYERWISE_DATA=str(tmp_path / "cache"))
    killed = run([*RUN, *outputs(tmp_path)], env, kill_at=kill_at)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no chance to clean up
    assert not (tmp_path / "m.safetensors").exists()
    if kill_at.startswith("write"):
        assert list(tmp_path.glob(".run.ckpt.*.part")), "the kill should leave a half-written file"
    if kill_at == "write:1":  # killed while writing the very first checkpoint: nothing to resume
        assert not (tmp_path / "run.ckpt").exists()
        return

    resumed = run(["train", "--resume", str(tmp_path / "run.ckpt")], env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    assert not list(tmp_path.glob(".*.part")), "the leftover temporary file is still there"

    a, meta_a = read_safetensors(uninterrupted / "m.safetensors", MODEL_FORMAT)
    b, meta_b = read_safetensors(tmp_path / "m.safetensors", MODEL_FORMAT)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)
    assert json.loads(meta_a["architecture"]) == json.loads(meta_b["architecture"])
    assert meta_a["data"] == meta_b["data"]
    assert history_without_times(tmp_path / "history.json") == history_without_times(
        uninterrupted / "history.json")
    assert (tmp_path / "curves.png").read_bytes() == (uninterrupted / "curves.png").read_bytes()
