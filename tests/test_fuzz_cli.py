"""Property-based fuzzing of the command line (issue 17): any argument list ends in an exit
code, 0, 1 or 2, with at most a one-line error; never another exception, never a partial file.

Training itself is replaced by a marker, so that what is fuzzed is everything a run checks
before it starts (the part that must refuse bad input), and the property stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _datasets_server import go_offline
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from layerwise.cli import main


class ReachedTraining(Exception):
    """Raised in place of training: the arguments were accepted."""


NUMBERS = st.one_of(
    st.integers(-3, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e309", "nan", "inf", "-inf", "", " ", "0x10", "1,2", "٣", "1_000"]),
)
VALID_WORDS = st.sampled_from([
    "auto", "mnist", "mnist-sample", "fashion-mnist", "two-layer", "mlp", "simple-cnn", "deep-cnn",
    "adam", "sgd", "he", "xavier", "std", "cosine", "step:2:0.5", "step:0", "shift:1", "shift:-1,flip",
    "flip:2", "none", "10,x", "50", "3,3"])
WORDS = st.one_of(VALID_WORDS, VALID_WORDS, st.text(min_size=0, max_size=12))  # mostly names that parse
PATHS = st.sampled_from(["out.safetensors", "out.png", "h.json", "h.csv", "h.txt", "sub/x.ckpt", ".", "",
                         "missing/deeper/m.safetensors", "file/inside", "dir", "same.json", "\x00bad"])
VALUE_FLAGS = {
    "--data": WORDS, "--data-dir": PATHS, "--model": WORDS, "--hidden": st.one_of(WORDS, NUMBERS),
    "--optimizer": WORDS, "--lr": NUMBERS, "--init": st.one_of(WORDS, NUMBERS),
    "--dropout": NUMBERS, "--weight-decay": NUMBERS, "--epochs": NUMBERS,
    "--lr-schedule": WORDS, "--eval-train-samples": NUMBERS, "--augment": WORDS,
    "--batch-size": NUMBERS, "--seed": NUMBERS, "--save": PATHS, "--plot": PATHS,
    "--history": PATHS, "--checkpoint": PATHS, "--resume": PATHS, "--threads": NUMBERS,
}
SWITCHES = ["--batchnorm", "--quiet"]


@st.composite
def train_arguments(draw: st.DrawFn) -> list[str]:
    argv = ["train"]
    for flag in draw(st.lists(st.sampled_from([*VALUE_FLAGS, *SWITCHES]), max_size=6)):
        argv.append(flag)
        if flag in VALUE_FLAGS:
            argv.append(draw(VALUE_FLAGS[flag]))
    if draw(st.booleans()):
        argv += ["--data", "mnist-sample"]  # mostly offline and quick; sometimes auto
    return argv


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    go_offline(tmp_path, monkeypatch)
    (tmp_path / "file").write_text("a regular file")
    (tmp_path / "dir").mkdir()

    def no_training(self: object) -> None:
        raise ReachedTraining()

    monkeypatch.setattr("layerwise.training.trainer.Trainer.fit", no_training)
    return tmp_path


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=train_arguments())
def test_any_train_arguments_end_in_an_exit_code(argv: list[str], sandbox: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = {p for p in sandbox.rglob("*")}
    try:
        code = main(argv)
    except ReachedTraining:
        code = None  # every check passed: a real run would train now
    except SystemExit as exc:  # pragma: no cover - main returns argparse's code instead
        pytest.fail(f"SystemExit({exc.code}) escaped for {argv}")
    captured = capsys.readouterr()
    event(f"exit code {code}" if code is not None else "reached training")
    assert "Traceback" not in captured.err
    if code is not None:
        assert code in (0, 1, 2), (argv, code, captured.err)
        if code != 0:
            errors = [line for line in captured.err.splitlines() if line.startswith("layerwise: error:")
                      or line.startswith("layerwise train: error:") or "error:" in line]
            assert errors, (argv, captured.err)
    left = {p for p in sandbox.rglob("*")} - before
    assert not [p for p in left if p.name.endswith(".part")], left
    assert not [p for p in left if not str(p.relative_to(sandbox)).startswith("cache")
                and p.suffix in (".safetensors", ".png", ".json", ".csv", ".ckpt")], (argv, left)
    for p in left:  # nothing stays behind for the next example
        if p.is_file():
            os.unlink(p)


@st.composite
def other_arguments(draw: st.DrawFn) -> list[str]:
    if draw(st.booleans()):
        argv = ["evaluate", draw(st.one_of(PATHS, st.just("model.safetensors")))]
        for flag in draw(st.lists(st.sampled_from(["--data", "--data-dir"]), max_size=2)):
            argv += [flag, draw(VALUE_FLAGS[flag])]
        return argv
    argv = ["graph", draw(st.one_of(st.sampled_from(["apple", "apple-orange", "sigmoid", "affine",
                                                     "softmax-loss"]), st.text(max_size=8)))]
    for flag in draw(st.lists(st.sampled_from(["--x", "--t", "-o"]), max_size=3)):
        argv.append(flag)
        if flag == "--x":
            argv += draw(st.lists(NUMBERS, min_size=1, max_size=4))
        elif flag == "--t":
            argv.append(draw(NUMBERS))
        else:
            argv.append(draw(st.one_of(PATHS, st.sampled_from(["g.dot", "g.svg", "g.png", "g.txt"]))))
    return argv


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=other_arguments())
def test_any_evaluate_or_graph_arguments_end_in_an_exit_code(argv: list[str], sandbox: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    model = sandbox / "model.safetensors"
    if not model.exists():  # a real model file, so that evaluate gets past loading it
        from layerwise.files.model_files import save_model
        from layerwise.networks import TwoLayerNet

        save_model(TwoLayerNet(784, 5, 10, rng=0), model, {"data": "mnist-sample"})
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code in (0, 1, 2), (argv, code, captured.err)
    if code != 0:
        assert "error:" in captured.err, (argv, captured.err)
    assert not list(sandbox.rglob("*.part"))
    for p in sandbox.glob("g.*"):
        p.unlink()
