"""`layerwise train` and `layerwise evaluate` end to end, offline, on the bundled sample."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from _datasets_server import go_offline

from layerwise.cli import main
from layerwise.files.model_files import load_model


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(tmp_path, monkeypatch)


def final_accuracy(out: str) -> str:
    m = re.search(r"final test accuracy (\d\.\d+) \((\d+)/(\d+)\)", out)
    assert m, out
    return m.group(1)


def test_train_without_network_uses_the_sample_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    first, why = out.splitlines()[:2]
    assert first == ("dataset: full MNIST could not be had (offline?), so the bundled mnist-sample: "
                     "4000 train / 1000 test images")
    assert "could not be downloaded" in why
    assert "epoch 1/2" in out and "epoch 2/2" in out


def test_save_load_evaluate_give_the_printed_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.safetensors"
    hist = tmp_path / "h.json"
    assert main(["train", "--data", "mnist-sample", "--epochs", "3", "--save", str(model),
                 "--history", str(hist), "--quiet"]) == 0
    trained = final_accuracy(capsys.readouterr().out)
    assert main(["evaluate", str(model), "--data", "mnist-sample"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"test accuracy (\d\.\d+) \((\d+)/1000\)", out)
    assert m and m.group(1) == trained
    assert "confusion matrix" in out
    matrix = [line.split()[1:] for line in out.splitlines()[-10:]]
    assert sum(int(v) for row in matrix for v in row) == 1000
    assert sum(int(row[i]) for i, row in enumerate(matrix)) == int(m.group(2))
    records = json.loads(hist.read_text())
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert f"{records[-1]['test_acc']:.4f}" == trained
    net = load_model(model)
    assert net.params["W1"].shape == (784, 50)


def test_same_seed_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for seed in (7, 7, 8):
        assert main(["train", "--data", "mnist-sample", "--epochs", "2", "--seed", str(seed)]) == 0
        out = capsys.readouterr().out
        outs.append([re.sub(r"\(\d+\.\d+ s\)|in \d+\.\d+ s", "", line) for line in out.splitlines()])
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_history_csv_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    hist, plot = tmp_path / "h.csv", tmp_path / "curves.png"
    assert main(["train", "--data", "mnist-sample", "--epochs", "2", "--quiet",
                 "--history", str(hist), "--plot", str(plot)]) == 0
    import csv

    lines = hist.read_text().splitlines()
    assert lines[0] == "epoch,train_loss,train_acc,test_loss,test_acc,seconds,lr,engine"
    rows = list(csv.DictReader(hist.read_text().splitlines()))
    assert len(rows) == 2
    assert [float(r["lr"]) for r in rows] == [0.1, 0.1]  # the book's SGD rate
    assert all(r["engine"].startswith("on (kernels") for r in rows)  # what ran it, recorded
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_schedule_and_train_eval_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hist = tmp_path / "h.json"
    assert main(["train", "--data", "mnist-sample", "--epochs", "4", "--lr-schedule", "cosine",
                 "--eval-train-samples", "500", "--history", str(hist)]) == 0
    out = capsys.readouterr().out
    assert "SGD lr 0.1 (cosine schedule)" in out
    assert "train acc is measured on the first 500 training images each epoch" in out
    rows = json.loads(hist.read_text())
    # cosine annealing over 4 epochs: factors 1, (1 + cos(pi/4))/2, 1/2, (1 + cos(3pi/4))/2
    expect = [0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose([r["lr"] for r in rows], expect, rtol=1e-12)
    assert "lr 0.0854" in out  # the per-epoch line shows the rate when it changes
    # the train accuracy of 500 images is a multiple of 1/500
    assert all(abs(r["train_acc"] * 500 - round(r["train_acc"] * 500)) < 1e-9 for r in rows)


@pytest.mark.parametrize("args, match", [
    (["--lr-schedule", "linear"], "unknown learning-rate schedule 'linear'"),
    (["--lr-schedule", "step:0:0.5"], "every must be at least 1"),
    (["--lr-schedule", "step:10"], "expected step:EVERY:GAMMA"),
    (["--eval-train-samples", "0"], "--eval-train-samples must be at least 1, got 0"),
    (["--augment", "shift:2,rotate"], "--augment: augmentation 'shift:2,rotate': unknown transform 'rotate'"),
    (["--augment", "flip:2"], r"p must be in [0, 1], got 2.0"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
])
def test_bad_schedule_arguments(args: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "mnist-sample", "--epochs", "1", *args]) == 2
    assert match in capsys.readouterr().err


def test_augment_flag_changes_training_and_is_kept_for_resume(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Flat MLP input is augmented as 28x28 images; --resume restores the flag."""
    base = ["train", "--data", "mnist-sample", "--quiet"]
    plain, aug = tmp_path / "plain.safetensors", tmp_path / "aug.safetensors"
    assert main([*base, "--epochs", "2", "--save", str(plain)]) == 0
    capsys.readouterr()
    assert main([*base, "--epochs", "2", "--augment", "shift:1", "--save", str(aug)]) == 0
    out = capsys.readouterr().out
    assert "augmentation of every training batch: Compose([RandomShift(max_shift=1)])" in out
    w_plain, w_aug = load_model(plain).params["W1"], load_model(aug).params["W1"]
    assert not np.array_equal(w_plain, w_aug)
    # two epochs in one go == one epoch, then a resume that must bring back --augment
    ck, resumed = tmp_path / "ck.safetensors", tmp_path / "resumed.safetensors"
    assert main([*base, "--epochs", "1", "--augment", "shift:1", "--checkpoint", str(ck)]) == 0
    assert main(["train", "--resume", str(ck), "--epochs", "2", "--quiet", "--save", str(resumed)]) == 0
    np.testing.assert_array_equal(load_model(resumed).params["W1"], w_aug)


def test_divergence_stops_and_saves_last_good_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.safetensors"
    code = main(["train", "--data", "mnist-sample", "--epochs", "3", "--lr", "1e30",
                 "--save", str(model), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "training diverged at epoch 1" in err and "NaN or infinite" in err
    net = load_model(model)
    assert all(np.isfinite(v).all() for v in net.params.values())


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--lr", "-1"], "--lr must be a positive number, got -1.0"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--history", "h.txt"], "--history must end in .json or .csv, got h.txt"),
    (["--plot", "p.jpg"], "--plot must end in .png"),
])
def test_bad_flags_are_clear_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "mnist-sample", *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_data_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "kmnist", "--data-dir", str(tmp_path / "none"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'none'}: no such folder" in err  # named, never created or replaced
    assert not (tmp_path / "none").exists()


def test_evaluate_rejects_a_bad_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"junk")
    assert main(["evaluate", str(bad), "--data", "mnist-sample"]) == 1
    assert "bad.safetensors: not a readable safetensors file" in capsys.readouterr().err


def test_issue_six_flags_build_the_requested_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "mlp.safetensors"
    assert main(["train", "--data", "mnist-sample", "--model", "mlp", "--hidden", "100,100",
                 "--optimizer", "adam", "--lr", "0.001", "--init", "he", "--batchnorm",
                 "--dropout", "0.2", "--weight-decay", "1e-4", "--epochs", "2", "--quiet",
                 "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "MultiLayerNetExtend(784-100-100-10, relu, batchnorm, dropout=0.2, weight_decay_lambda=0.0001" in out
    assert "Adam lr 0.001" in out
    net = load_model(model)
    assert {"gamma1", "beta2", "running_mean1", "running_var2"} <= set(net.state_dict())
    assert main(["evaluate", str(model), "--data", "mnist-sample"]) == 0
    assert final_accuracy(out) in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--batchnorm"], "--batchnorm needs --model mlp"),
    (["--hidden", "50,50"], "--model two-layer has one hidden layer"),
    (["--model", "mlp", "--hidden", "10,x"], "--hidden takes comma-separated positive integers"),
    (["--model", "mlp", "--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
    (["--model", "mlp", "--init", "magic"], "magic"),
])
def test_bad_model_flags(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", *args])
    assert code != 0
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("model", "expect"), [("simple-cnn", "SimpleConvNet(input_dim=(1, 28, 28)"),
                                               ("deep-cnn", "DeepConvNet(input_dim=(1, 28, 28)")])
def test_conv_models_train_save_and_evaluate(model: str, expect: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{model}.safetensors"
    assert main(["train", "--data", "mnist-sample", "--model", model, "--epochs", "1", "--quiet",
                 "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert expect in out and "Adam lr 0.001" in out
    trained = final_accuracy(out)
    assert float(trained) > 0.3  # one epoch of 4,000 images already learns something
    assert main(["evaluate", str(path), "--data", "mnist-sample"]) == 0
    assert f"test accuracy {trained}" in capsys.readouterr().out


def test_plot_without_matplotlib_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    assert main(["train", "--data", "mnist-sample", "--plot", "curves.png"]) == 2
    assert ("--plot needs matplotlib, of the plot extra: pip install '.[plot]' in layerwise's folder, "
            "or pip install matplotlib") in capsys.readouterr().err


def test_evaluate_defaults_to_the_data_set_recorded_in_the_model(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model)]) == 0  # no --data: not auto (which would try MNIST)
    assert capsys.readouterr().out.startswith("dataset: mnist-sample, the bundled MNIST subset (1,000 test")


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "simple-cnn", "--init", "he"], "--model simple-cnn takes --init as a number"),
    (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    (["--init", "-0.5"], "positive, got -0.5"),
    (["--init", "nan"], "positive, got nan"),
])
def test_more_bad_flags_are_caught_before_training(args: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "dataset:" not in captured.out


def test_model_file_with_a_non_object_architecture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.numpy import save_file

    bad = tmp_path / "odd.safetensors"
    save_file({"W1": np.zeros((2, 2), np.float32)}, str(bad),
              metadata={"format": "layerwise-model", "format_version": "1", "architecture": "[1, 2]"})
    assert main(["evaluate", str(bad), "--data", "mnist-sample"]) == 1
    assert "metadata 'architecture': expected a JSON object" in capsys.readouterr().err


def test_threads_flag_sets_the_thread_count(capsys: pytest.CaptureFixture[str]) -> None:
    from layerwise.fast import parallel

    before = parallel.get_num_threads()
    try:
        assert main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", "--threads", "3"]) == 0
        assert parallel.get_num_threads() == 3
        assert ", 3 thread(s)" in capsys.readouterr().out
    finally:
        parallel.set_num_threads(before)


@pytest.mark.parametrize("flags, engine", [([], "on (kernels"), (["--no-fast"], "off (the book's code")])
def test_train_names_the_engine_first_and_records_it_in_the_model_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], engine: str) -> None:
    from layerwise.files.model_files import load_model_and_metadata

    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", "--save", str(model), *flags]) == 0
    out = capsys.readouterr().out.splitlines()
    engine_lines = [line for line in out if line.startswith("engine: ")]
    assert len(engine_lines) == 1 and engine_lines[0].startswith(f"engine: {engine}")
    assert out.index(engine_lines[0]) <= 4  # among the first lines, before any epoch
    _, meta = load_model_and_metadata(model)
    assert str(meta["engine"]).startswith(engine)
