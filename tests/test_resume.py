"""`layerwise train --resume`: a run killed after epoch k carries on to the same final weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _datasets_server import checkpoint_epoch

from layerwise.files.model_files import load_model

RUN = ["train", "--data", "mnist-sample", "--model", "mlp", "--hidden", "32,16", "--optimizer", "adam",
       "--batchnorm", "--dropout", "0.2", "--weight-decay", "1e-4", "--seed", "3", "--quiet"]
EPOCHS = 30


def layerwise(*args: str) -> list[str]:
    return [sys.executable, "-m", "layerwise", *args]


def test_killed_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    env = dict(os.environ, LAYERWISE_DATA=str(tmp_path / "cache"))
    full = tmp_path / "full.safetensors"
    subprocess.run(layerwise(*RUN, "--epochs", str(EPOCHS), "--save", str(full)),
                   check=True, env=env, capture_output=True, timeout=600)

    ck = tmp_path / "ck.safetensors"
    proc = subprocess.Popen(layerwise(*RUN, "--epochs", str(EPOCHS), "--checkpoint", str(ck)),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while checkpoint_epoch(ck) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is not None:
            pytest.fail("the training run finished before it could be interrupted")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = checkpoint_epoch(ck)
    assert 2 <= killed_at < EPOCHS
    assert not list(tmp_path.glob(".*.part")), "an interrupted write left a temporary file"

    resumed = tmp_path / "resumed.safetensors"
    out = subprocess.run(layerwise("train", "--resume", str(ck), "--save", str(resumed)),
                         check=True, env=env, capture_output=True, text=True, timeout=600).stdout
    assert f"resumed from {ck} after epoch {killed_at}" in out
    a, b = load_model(full), load_model(resumed)
    assert a.state_dict().keys() == b.state_dict().keys()
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[key], value, err_msg=key)


def test_resume_rejects_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    from layerwise.cli import main
    from layerwise.files.model_files import save_model
    from layerwise.networks import TwoLayerNet

    model = tmp_path / "model.safetensors"
    save_model(TwoLayerNet(4, 3, 2, rng=0), model)
    assert main(["train", "--resume", str(model)]) == 1
    assert main(["train", "--resume", str(tmp_path / "missing.safetensors")]) == 1
