"""One `layerwise train` run per checkpoint at a time (issue 29, defect 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layerwise.errors import ConfigError
from layerwise.files.locks import FileLock

HERE = Path(__file__).parent
ROUNDS = 12


def test_two_runs_started_together_on_one_checkpoint_train_exactly_once(tmp_path: Path) -> None:
    """Two processes start `train --checkpoint ck.ckpt` at the same instant, round after round;
    in each round exactly one trains and the other stops with a usage error naming the first."""
    env = dict(os.environ, LAYERWISE_DATA=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path))
    args = ["train", "--data", "mnist-sample", "--epochs", "1", "--threads", "1", "--quiet",
            "--checkpoint", str(tmp_path / "ck{k}.ckpt")]
    workers = [subprocess.Popen([sys.executable, str(HERE / "_race_train.py"), str(tmp_path), str(w),
                                 str(ROUNDS), *args], env=env)
               for w in range(2)]
    for proc in workers:
        assert proc.wait(timeout=300) == 0
    results = [[json.loads(line) for line in (tmp_path / f"results-{w}.jsonl").read_text().splitlines()]
               for w in range(2)]
    for k in range(ROUNDS):
        pair = [results[w][k] for w in range(2)]
        trained = [w for w in range(2) if pair[w]["code"] == 0]
        assert len(trained) == 1, pair
        winner, loser = trained[0], 1 - trained[0]
        assert "done: 1 epochs" in pair[winner]["out"]
        assert pair[loser]["code"] == 2, pair[loser]
        assert pair[loser]["out"] == ""  # nothing printed: it stopped before loading anything
        err = pair[loser]["err"]
        assert err.startswith("layerwise: error: --checkpoint ") and err.count("\n") == 1, err
        # Either it met the lock (naming the winner's pid), or came after the winner ended.
        assert (f"in use by another run (pid {workers[winner].pid}," in err
                or "already holds a checkpoint (epoch 1 of 1)" in err), err
        assert not (tmp_path / f"ck{k}.ckpt.lock").exists()  # removed by the run that held it
        assert sorted(p.name for p in tmp_path.glob(f"ck{k}.*")) == [f"ck{k}.ckpt"]


def test_a_held_lock_refuses_a_second_holder_and_names_the_pid(tmp_path: Path) -> None:
    target = tmp_path / "run.ckpt"
    with FileLock(target, "--checkpoint") as lock:
        assert lock.held and (tmp_path / "run.ckpt.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(ConfigError, match=rf"--checkpoint {target} is in use by another run "
                                              rf"\(pid {os.getpid()}, which holds {target}\.lock\)"):
            FileLock(target, "--checkpoint").acquire()
    assert not (tmp_path / "run.ckpt.lock").exists()
    FileLock(target, "--checkpoint").acquire().release()  # free again


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(tmp_path: Path) -> None:
    target = tmp_path / "run.ckpt"
    code = f"from layerwise.files.locks import FileLock; FileLock({str(target)!r}, 'x').acquire(); import os; os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert (tmp_path / "run.ckpt.lock").exists()  # left behind, but nobody holds it
    with FileLock(target, "--checkpoint") as lock:
        assert lock.held


@pytest.mark.parametrize("path", [".", "..", "/"])
def test_a_folder_as_checkpoint_is_a_one_line_usage_error_not_a_traceback(
        path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis found `--checkpoint .` ending in a traceback: the lock was named before the
    path was checked."""
    from layerwise.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--checkpoint", path, "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("layerwise: error: --checkpoint")
