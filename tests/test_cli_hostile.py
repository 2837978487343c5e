"""Issue 17: the command line never gives a silently wrong answer, never loses output, never
prints a traceback for an expected failure. One test (or more) per numbered defect."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _datasets_server import FILE_NAMES, checkpoint_epoch, go_offline

from layerwise.cli import main
from layerwise.datasets import load_mnist
from layerwise.datasets.idx import write_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")
FILES = {split: (FILE_NAMES[f"{split}_images"], FILE_NAMES[f"{split}_labels"]) for split in ("train", "test")}
QUICK = ["train", "--data", "mnist-sample", "--epochs", "1", "--quiet"]


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(tmp_path, monkeypatch)


def layerwise(*args: str) -> list[str]:
    return [sys.executable, "-m", "layerwise", *args]


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, LAYERWISE_DATA=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")


def idx_folder(folder: Path, n_train: int, n_test: int) -> Path:
    """An MNIST-format folder of ``n_train`` / ``n_test`` images taken (repeated) from the sample."""
    (x_tr, t_tr), (x_te, t_te) = load_mnist("mnist-sample", normalize=False, flatten=False)
    folder.mkdir(parents=True, exist_ok=True)
    for split, (x, t), n in (("train", (x_tr, t_tr), n_train), ("test", (x_te, t_te), n_test)):
        idx = np.arange(n) % len(x)
        write_idx(folder / FILES[split][0], x[idx].reshape(n, 28, 28).astype(np.uint8))
        write_idx(folder / FILES[split][1], t[idx].astype(np.uint8))
    return folder


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert lines and lines[0].startswith("layerwise: error: "), err
    return lines[0]


# -- 1. --data-dir never falls back to the bundled sample ------------------------------------
@pytest.mark.parametrize("make", ["missing", "a-file", "missing-one-file", "folder-for-file"])
def test_a_data_dir_that_cannot_be_used_is_an_error_not_the_sample(
        make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "data"
    if make == "a-file":
        target.write_bytes(b"not a folder")
    elif make == "missing-one-file":
        idx_folder(target, 100, 20)
        (target / FILES["test"][1]).unlink()
    elif make == "folder-for-file":
        idx_folder(target, 100, 20)
        (target / FILES["train"][0]).unlink()
        (target / FILES["train"][0]).mkdir()
    code = main(["train", "--data-dir", str(target), "--epochs", "1", "--quiet"])
    captured = capsys.readouterr()
    assert code != 0
    assert "mnist-sample" not in captured.out and "dataset:" not in captured.out
    line = one_error_line(captured.err)
    assert str(target) in line
    if make == "missing-one-file":
        assert FILES["test"][1].removesuffix(".gz") in captured.err
    if make == "folder-for-file":
        assert "folder" in line and FILES["train"][0] in line
    if make == "missing":
        assert not target.exists()  # never created


def test_data_dir_with_the_bundled_sample_is_a_contradiction(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*QUICK, "--data-dir", str(idx_folder(tmp_path / "d", 100, 20))]) == 2
    assert "--data-dir" in one_error_line(capsys.readouterr().err)


# -- 2. --resume restores the outputs and refuses conflicting flags --------------------------
def test_resume_alone_writes_every_output_of_the_run(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    ck, model, hist, plot = (tmp_path / n for n in ("run.ckpt", "m.safetensors", "h.json", "p.png"))
    outputs = ["--save", str(model), "--history", str(hist), "--plot", str(plot)]
    # A run stopped after 1 of 3 epochs: its checkpoint, and none of the final outputs yet.
    assert main([*QUICK, "--checkpoint", str(ck), *outputs]) == 0
    _shorten_checkpoint(ck, total=3)  # as if the run had been cut short after epoch 1
    for f in (model, hist, plot):
        f.unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(ck), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "after epoch 1 of 3" in out
    assert "3 epochs" in out and "done: 3 epochs" in out
    assert model.is_file() and plot.is_file()
    assert [r["epoch"] for r in json.loads(hist.read_text())] == [1, 2, 3]


def _shorten_checkpoint(path: Path, total: int) -> None:
    """Make a finished one-epoch checkpoint say its run has ``total`` epochs."""
    from safetensors.numpy import load_file, save_file

    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header["__metadata__"]
    meta["epochs"] = str(total)
    trainer = json.loads(meta["trainer"])
    trainer["settings"]["epochs"] = total
    meta["trainer"] = json.dumps(trainer)
    save_file(load_file(str(path)), str(path), metadata=meta)


@pytest.mark.parametrize("flag", [["--lr", "0.5"], ["--model", "mlp"], ["--batch-size", "50"],
                                  ["--data", "fashion-mnist"], ["--seed", "4"], ["--hidden", "20"]])
def test_resume_refuses_flags_that_contradict_the_checkpoint(
        flag: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    before = ck.read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(ck), "--epochs", "2", *flag]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert flag[0] in line and str(ck) in line
    assert ck.read_bytes() == before


def test_resume_accepts_flags_that_agree_and_new_outputs(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    ck, model = tmp_path / "run.ckpt", tmp_path / "later.safetensors"
    assert main([*QUICK, "--checkpoint", str(ck), "--batch-size", "50"]) == 0
    assert main(["train", "--resume", str(ck), "--epochs", "2", "--batch-size", "50",
                 "--data", "mnist-sample", "--quiet", "--save", str(model)]) == 0
    assert model.is_file()


def test_resume_with_fewer_epochs_than_done_is_an_error(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--epochs", "3", "--checkpoint", str(ck)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(ck), "--epochs", "2"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--epochs 2" in line and "3 epoch(s)" in line


# -- 4. expected failures are one line, never a traceback -----------------------------------
@pytest.mark.parametrize("flag", ["--save", "--checkpoint", "--history", "--plot"])
@pytest.mark.parametrize("where", ["a-folder", "under-a-file", "missing-parent"])
def test_unwritable_outputs_are_refused_before_training(
        flag: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if flag == "--plot":
        pytest.importorskip("matplotlib")
    suffix = {"--history": ".json", "--plot": ".png"}.get(flag, ".safetensors")
    if where == "a-folder":
        target = tmp_path / f"out{suffix}"
        target.mkdir()
    elif where == "under-a-file":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / f"out{suffix}"
    else:
        target = tmp_path / "typo" / f"out{suffix}"
    code = main([*QUICK, flag, str(target)])
    captured = capsys.readouterr()
    assert code == 2
    assert "dataset:" not in captured.out  # refused before the data was even loaded
    line = one_error_line(captured.err)
    assert flag in line and str(target) in line
    assert not (tmp_path / "typo").exists()  # 7. a missing folder is never created


def test_bad_thread_variable_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(layerwise(*QUICK), env=dict(subprocess_env(tmp_path), LAYERWISE_NUM_THREADS="abc"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "LAYERWISE_NUM_THREADS" in one_error_line(proc.stderr)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_closed_pipe_does_not_abort_the_work(command: str, tmp_path: Path) -> None:
    env = subprocess_env(tmp_path)
    model = tmp_path / "m.safetensors"
    if command == "evaluate":
        subprocess.run(layerwise(*QUICK, "--save", str(model)), env=env, check=True,
                       capture_output=True, timeout=120)
        args = ["evaluate", str(model), "--data", "mnist-sample"]
    else:
        args = ["train", "--data", "mnist-sample", "--epochs", "3", "--save", str(model)]
    # `layerwise ... | head -1`: the reader leaves after the first line.
    proc = subprocess.Popen(layerwise(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 0
    assert model.is_file()


def _numpy_is_loading(pid: int) -> bool:
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc to see start-up")
@pytest.mark.parametrize("after", [0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
def test_ctrl_c_during_start_up_is_answered_without_a_traceback(after: float, tmp_path: Path) -> None:
    """SIGINT while layerwise imports NumPy and loads the data: a message, exit 130, no traceback.
    (The interpreter's own start-up, before any layerwise code runs, is Python's business.)"""
    proc = subprocess.Popen(layerwise(*QUICK), env=subprocess_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _numpy_is_loading(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    # -SIGINT: the signal came while the interpreter was exiting after a finished run.
    assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)
    if proc.returncode == 130:
        assert "interrupted" in err


# -- 6. two outputs on one path ----------------------------------------------------------------
@pytest.mark.parametrize("flags", [["--save", "x.safetensors", "--checkpoint", "x.safetensors"],
                                   ["--save", "s.csv", "--history", "s.csv"],
                                   ["--checkpoint", "c.json", "--history", "./c.json"]])
def test_two_outputs_on_one_path_are_refused(flags: list[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*QUICK, *flags]) == 2
    assert "same file" in one_error_line(capsys.readouterr().err)
    assert not [p for p in tmp_path.iterdir() if p.name != "cache"]


def test_resume_refuses_to_save_over_its_own_checkpoint(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(ck), "--epochs", "2", "--save", str(ck)]) == 2
    assert "--resume" in one_error_line(capsys.readouterr().err)


def test_a_new_run_does_not_overwrite_an_existing_checkpoint(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    before = ck.read_bytes()
    capsys.readouterr()
    assert main([*QUICK, "--checkpoint", str(ck), "--seed", "5"]) == 2
    assert "--resume" in one_error_line(capsys.readouterr().err)
    assert ck.read_bytes() == before


# -- 7. missing parent folders are not created -------------------------------------------------
def test_graph_output_in_a_missing_folder_is_refused(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nonexist" / "a.dot"
    assert main(["graph", "apple", "-o", str(target)]) == 2
    assert "nonexist" in capsys.readouterr().err
    assert not target.parent.exists()


# -- 8. every output gets the umask's mode -----------------------------------------------------
def test_outputs_are_created_with_the_users_umask(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    outs = {n: tmp_path / n for n in ("m.safetensors", "run.ckpt", "h.csv", "p.png")}
    old = os.umask(0o022)
    try:
        assert main([*QUICK, "--save", str(outs["m.safetensors"]), "--checkpoint", str(outs["run.ckpt"]),
                     "--history", str(outs["h.csv"]), "--plot", str(outs["p.png"])]) == 0
    finally:
        os.umask(old)
    for name, path in outs.items():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, name


# -- 9. a batch larger than the data set ------------------------------------------------------
def test_a_batch_larger_than_the_training_set_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*QUICK, "--batch-size", "10000"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--batch-size 10000" in line and "4000" in line


# -- 10. data are named for what they are -----------------------------------------------------
@pytest.mark.parametrize(("n_train", "n_test"), [(8000, 1000), (1, 1)])
def test_a_folder_of_mnist_format_files_is_not_called_full_mnist(
        n_train: int, n_test: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = idx_folder(tmp_path / "d", n_train, n_test)
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data-dir", str(folder), "--epochs", "1", "--quiet", "--batch-size", "1",
                 "--save", str(model)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "full MNIST" not in first and "MNIST (" not in first
    assert f"{n_train} train / {n_test} test" in first
    from layerwise.files.model_files import MODEL_FORMAT, read_safetensors

    _, meta = read_safetensors(model, MODEL_FORMAT)
    assert meta["data"] != "mnist"


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_a_fashion_folder_given_with_the_default_data_is_called_fashion_mnist(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data-dir", str(FASHION), "--epochs", "1", "--quiet", "--hidden", "10",
                 "--save", str(model)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "Fashion-MNIST" in first
    from layerwise.files.model_files import MODEL_FORMAT, read_safetensors

    _, meta = read_safetensors(model, MODEL_FORMAT)
    assert meta["data"] == "fashion-mnist"
    # 10. evaluating it on other data warns
    assert main(["evaluate", str(model), "--data", "mnist-sample"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "trained on" in err
    # and on its own data it does not
    assert main(["evaluate", str(model)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_data_that_contradict_the_named_data_set_are_refused(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    if not FASHION.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    assert main(["train", "--data", "mnist", "--data-dir", str(FASHION), "--epochs", "1"]) == 1
    assert "fashion-mnist" in one_error_line(capsys.readouterr().err)


# -- 11. evaluate reads the test split only ---------------------------------------------------
def test_evaluate_needs_only_the_test_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = idx_folder(tmp_path / "d", 200, 100)
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data-dir", str(folder), "--epochs", "1", "--quiet", "--save", str(model)]) == 0
    for name in FILES["train"]:
        (folder / name).unlink()
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "100 test images" in out and "test accuracy" in out
    assert main(["evaluate", str(model)]) == 0  # the folder recorded in the model


# -- 13. interruption says what the checkpoint holds and how to resume -----------------------
def test_ctrl_c_names_the_checkpoint_epoch_and_the_resume_command(tmp_path: Path) -> None:
    ck = tmp_path / "my run.ckpt"
    proc = subprocess.Popen(layerwise("train", "--data", "mnist-sample", "--model", "mlp", "--epochs", "200",
                                      "--quiet", "--checkpoint", str(ck)),
                            env=subprocess_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while checkpoint_epoch(ck) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    held = checkpoint_epoch(ck)
    assert f"holds epoch {held}" in err
    assert f"layerwise train --resume '{ck}'" in err


def test_a_temporary_file_left_by_a_killed_write_is_removed(tmp_path: Path) -> None:
    ck = tmp_path / "run.ckpt"
    leftover = tmp_path / ".run.ckpt.0123456789ab.part"
    leftover.write_bytes(b"half a checkpoint")
    unrelated = tmp_path / ".other.0123456789ab.part"
    unrelated.write_bytes(b"not ours")
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    assert not leftover.exists()
    assert unrelated.exists()


# -- 14. help and packaging -------------------------------------------------------------------
def test_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--batch-size N images per training step" in text
    assert "needs matplotlib" in text
    assert "standard deviation" in text and "he:" in text
    assert "Exit codes" in text


def test_install_hints_name_packages_that_exist(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main([*QUICK, "--plot", "curves.png"]) == 2
    err = capsys.readouterr().err
    assert "pip install matplotlib" in err and "layerwise[" not in err
    from layerwise.figures.graph.errors import INSTALL_HINT

    assert "layerwise[" not in INSTALL_HINT


def test_the_licence_the_readme_names_is_shipped() -> None:
    root = Path(__file__).resolve().parent.parent
    assert "MIT" in (root / "README.md").read_text()
    assert (root / "LICENSE").read_text().startswith("MIT License")


# -- found by a hostile review after the first round ------------------------------------------
def test_resume_does_not_write_its_checkpoint_over_another_runs(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    assert main([*QUICK, "--checkpoint", str(a)]) == 0
    assert main([*QUICK, "--checkpoint", str(b), "--seed", "3"]) == 0
    before = b.read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(a), "--epochs", "2", "--checkpoint", str(b)]) == 2
    assert "--checkpoint" in one_error_line(capsys.readouterr().err)
    assert b.read_bytes() == before


@pytest.mark.parametrize("kind", ["model", "text"])
def test_a_checkpoint_is_never_written_over_another_file(kind: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "m.safetensors"
    if kind == "model":
        assert main([*QUICK, "--save", str(target)]) == 0
    else:
        target.write_text("my notes")
    before = target.read_bytes()
    capsys.readouterr()
    assert main([*QUICK, "--checkpoint", str(target)]) == 2
    one_error_line(capsys.readouterr().err)
    assert target.read_bytes() == before


def test_saving_onto_a_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    before = ck.read_bytes()
    capsys.readouterr()
    assert main([*QUICK, "--save", str(ck)]) == 2
    assert "checkpoint" in one_error_line(capsys.readouterr().err)
    assert ck.read_bytes() == before


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
def test_an_output_the_system_will_not_create_is_found_before_training(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*QUICK, "--save", "/proc/m.safetensors"]) == 2
    captured = capsys.readouterr()
    assert "dataset:" not in captured.out and "/proc" in one_error_line(captured.err)


def test_a_write_that_fails_during_the_run_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    import layerwise.files.fileio

    real = layerwise.files.fileio._fsync_file

    def disk_full(path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(layerwise.files.fileio, "_fsync_file", disk_full)
    model = tmp_path / "m.safetensors"
    assert main([*QUICK, "--save", str(model)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert str(model) in line and "No space left" in line
    assert not list(tmp_path.glob(".*.part"))
    assert real is not disk_full


def test_evaluate_refuses_a_model_with_another_number_of_classes(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from layerwise.files.model_files import save_model
    from layerwise.networks import TwoLayerNet

    for n in (5, 20):
        model = tmp_path / f"m{n}.safetensors"
        save_model(TwoLayerNet(784, 8, n, rng=0), model, {"data": "mnist-sample"})
        assert main(["evaluate", str(model)]) == 1
        assert f"{n} outputs" in one_error_line(capsys.readouterr().err)


def test_a_damaged_setting_in_a_checkpoint_is_blamed_on_the_file(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.numpy import load_file, save_file

    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    with open(ck, "rb") as f:
        meta = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    for damage in ({"outputs": "garbage"}, {"lr": float("nan")}, {"epochs": 0}):
        trainer = json.loads(meta["trainer"])
        trainer["settings"].update(damage)
        save_file(load_file(str(ck)), str(ck), metadata=dict(meta, trainer=json.dumps(trainer)))
        capsys.readouterr()
        assert main(["train", "--resume", str(ck)]) == 1, damage
        line = one_error_line(capsys.readouterr().err)
        assert str(ck) in line and "stored" in line, damage


def test_saving_to_a_link_is_refused_and_the_file_it_points_at_kept(tmp_path: Path) -> None:
    """Issue 29: writing through a link replaced a file elsewhere; an output is never a link."""
    (tmp_path / "models").mkdir()
    real = tmp_path / "models" / "real.safetensors"
    real.write_bytes(b"old")
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real)
    assert main([*QUICK, "--save", str(link)]) == 2
    assert link.is_symlink() and real.read_bytes() == b"old"


@pytest.mark.parametrize("flag", [["--lr", "0.1"], ["--init", "0.01"], ["--init", "std"], ["--optimizer", "sgd"],
                                  ["--lr-schedule", "constant"]])
def test_resume_accepts_a_flag_given_again_with_its_default(flag: list[str], tmp_path: Path) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ck)]) == 0
    assert main(["train", "--resume", str(ck), "--epochs", "2", "--quiet", *flag]) == 0


def test_resume_names_a_switch_without_a_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*QUICK, "--model", "mlp", "--hidden", "10", "--checkpoint", str(ck)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(ck), "--batchnorm"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--batchnorm conflicts" in line and "without --batchnorm" in line and "True" not in line


@pytest.mark.parametrize(("hidden", "message"), [("", "--hidden takes"), ("99999999999", "does not fit in memory")])
def test_hidden_sizes_that_cannot_be_built_are_usage_errors(hidden: str, message: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*QUICK, "--hidden", hidden]) == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_graph_errors_follow_the_common_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "nosuch"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("layerwise: error: ")


def test_ctrl_c_during_a_checkpoint_write_names_the_epoch_the_file_still_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import layerwise.files.model_files

    real = layerwise.files.model_files.save_file
    writes = []

    def interrupted_on_the_second(tensors, filename, metadata=None):  # type: ignore[no-untyped-def]
        if metadata and metadata.get("format") == "layerwise-checkpoint":
            writes.append(filename)
            if len(writes) == 2:
                raise KeyboardInterrupt
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(layerwise.files.model_files, "save_file", interrupted_on_the_second)
    ck = tmp_path / "run.ckpt"
    assert main(["train", "--data", "mnist-sample", "--epochs", "5", "--quiet", "--checkpoint", str(ck)]) == 130
    err = capsys.readouterr().err
    assert checkpoint_epoch(ck) == 1
    assert "holds epoch 1." in err and "--resume" in err
