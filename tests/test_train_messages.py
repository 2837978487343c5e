"""What `layerwise train` says: short, true and counted once (issue 29, defect 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _datasets_server import checkpoint_epoch, go_offline

from layerwise.cli import main

TRAIN = ["train", "--data", "mnist-sample", "--quiet", "--threads", "1"]


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(tmp_path, monkeypatch)


def test_offline_first_line_is_short_and_gives_the_counts_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epochs", "1", "--quiet", "--threads", "1"]) == 0
    first, why = capsys.readouterr().out.splitlines()[:2]
    assert len(first) < 120, first
    assert "offline" in first and "bundled mnist-sample" in first
    assert first.count("4000 train / 1000 test images") == 1
    assert "4,000" not in first and "http" not in first and "Errno" not in first
    assert why.startswith("  why: full MNIST is not in ") and "could not be downloaded" in why


def test_done_after_resume_says_how_many_epochs_this_run_trained(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main([*TRAIN, "--epochs", "2", "--checkpoint", str(ck)]) == 0
    assert "done: 2 epochs in " in capsys.readouterr().out
    assert main(["train", "--resume", str(ck), "--epochs", "5", "--quiet"]) == 0
    assert "done: 5 epochs (3 in this run, resumed after epoch 2) in " in capsys.readouterr().out


def test_a_signal_during_the_last_checkpoint_write_names_an_epoch_that_exists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import layerwise.files.model_files

    real = layerwise.files.model_files.save_file
    writes: list[str] = []

    def interrupted_on_the_second(tensors, filename, metadata=None):  # type: ignore[no-untyped-def]
        if metadata and metadata.get("format") == "layerwise-checkpoint":
            writes.append(filename)
            if len(writes) == 2:
                raise KeyboardInterrupt
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(layerwise.files.model_files, "save_file", interrupted_on_the_second)
    ck = tmp_path / "run.ckpt"
    assert main([*TRAIN, "--epochs", "2", "--checkpoint", str(ck)]) == 130
    err = capsys.readouterr().err
    assert checkpoint_epoch(ck) == 1
    assert "epoch 3" not in err
    assert f"interrupted after epoch 2 of 2, before its checkpoint was written; {ck} holds epoch 1." in err


def test_plot_help_names_the_plot_extra_as_the_readme_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "needs matplotlib, of the plot extra: pip install '.[plot]' in layerwise's folder" in shown


def test_the_plot_has_whole_epochs_on_its_x_axis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from layerwise.cli.commands.train import plot_history
    from layerwise.training.history import EpochRecord

    figures = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    for epochs in (2, 4, 7):
        history = [EpochRecord(e, 1.0 / e, 0.5, 1.0 / e, 0.5, 0.1) for e in range(1, epochs + 1)]
        plot_history(tmp_path / f"p{epochs}.png", history, "t")
        for ax in figures[-1].axes:
            lo, hi = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
            assert ticks and all(float(t).is_integer() for t in ticks), (epochs, ticks)
        real_close(figures[-1])
