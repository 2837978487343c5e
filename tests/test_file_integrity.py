"""Issue 29: a model file's or checkpoint's tensors carry a SHA-256 digest that loading
verifies (defect 6), and a file of another kind given as a model is named (defect 12)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import layerwise as lw
from layerwise.cli import main
from layerwise.files.model_files import (
    DIGEST_KEY,
    UnverifiedFileWarning,
    load_model,
    load_weights,
    read_safetensors,
    save_model,
)
from layerwise.optimizers import SGD
from layerwise.training.checkpoints import read_checkpoint
from layerwise.training.trainer import Trainer


def _trainer() -> Trainer:
    rng = np.random.default_rng(0)
    x, t = rng.random((12, 4), dtype=np.float32), rng.integers(0, 2, 12)
    return Trainer(lw.TwoLayerNet(4, 3, 2, rng=0), SGD(lr=0.1), x, t, epochs=1, batch_size=4, rng=0,
                   progress=False, log=None)


def _header_size(path: Path) -> int:
    with open(path, "rb") as f:
        return 8 + int.from_bytes(f.read(8), "little")


def flip_bit(path: Path, out: Path, at_from_end: int, bit: int) -> Path:
    """A copy of ``path`` with one bit of its tensor data flipped."""
    data = bytearray(path.read_bytes())
    index = len(data) - 1 - at_from_end
    assert index >= _header_size(path), "the flipped bit must lie in the tensor data"
    data[index] ^= 1 << bit
    out.write_bytes(bytes(data))
    return out


def without_digest(path: Path, out: Path) -> Path:
    """``path`` as layerwise wrote it before it stored a digest."""
    with open(path, "rb") as f:
        meta = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    del meta[DIGEST_KEY]
    save_file(load_file(str(path)), str(out), metadata=meta)
    return out


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.safetensors"
    save_model(lw.TwoLayerNet(784, 20, 10, rng=0), path)
    return path


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "run.ckpt"
    trainer = _trainer()
    trainer.fit()
    trainer.save_checkpoint(path)
    return path


# -- defect 6: the digest ------------------------------------------------------------------------
@pytest.mark.parametrize("at_from_end, bit", [(0, 0), (7, 3), (40, 6), (15679 * 4, 1)])
def test_a_flipped_bit_in_a_models_tensor_data_is_refused_naming_both_digests(
        at_from_end: int, bit: int, model: Path, tmp_path: Path) -> None:
    bad = flip_bit(model, tmp_path / "flipped.safetensors", at_from_end, bit)
    pattern = r"flipped\.safetensors: the tensors do not match the file's digest: expected SHA-256 [0-9a-f]{64}, " \
              r"found [0-9a-f]{64}"
    with pytest.raises(lw.DataError, match=pattern):
        load_model(bad)
    with pytest.raises(lw.DataError, match=pattern):
        load_weights(lw.TwoLayerNet(784, 20, 10, rng=1), bad)


def test_evaluate_on_a_flipped_model_is_one_error_line_and_exit_1(
        model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = flip_bit(model, tmp_path / "flipped.safetensors", 100, 2)
    assert main(["evaluate", str(bad), "--data", "mnist-sample"]) == 1
    captured = capsys.readouterr()
    assert "test accuracy" not in captured.out
    (line,) = captured.err.splitlines()
    assert line.startswith(f"layerwise: error: {bad}: the tensors do not match the file's digest")


@pytest.mark.parametrize("at_from_end", [0, 5, 30])
def test_a_flipped_bit_in_a_checkpoint_is_refused_and_the_trainer_is_left_alone(
        at_from_end: int, checkpoint: Path, tmp_path: Path) -> None:
    bad = flip_bit(checkpoint, tmp_path / "flipped.ckpt", at_from_end, 5)
    with pytest.raises(lw.DataError, match=r"flipped\.ckpt: the tensors do not match the file's digest"):
        read_checkpoint(bad)
    trainer = _trainer()
    before = trainer.network.state_dict()
    with pytest.raises(lw.DataError, match=r"flipped\.ckpt: the tensors do not match"):
        trainer.load_checkpoint(bad)
    assert trainer.epoch == 0
    for key, value in trainer.network.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_train_resume_from_a_flipped_checkpoint_is_one_error_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.ckpt"
    assert main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", "--checkpoint", str(ck)]) == 0
    bad = flip_bit(ck, tmp_path / "flipped.ckpt", 9, 0)
    capsys.readouterr()
    assert main(["train", "--resume", str(bad)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"layerwise: error: {bad}: the tensors do not match the file's digest")


@pytest.mark.parametrize("value", ["", "0" * 63, "Z" * 64, "A" * 64, "0" * 64 + "\n"])
def test_a_digest_entry_that_is_not_a_sha256_is_refused(value: str, model: Path, tmp_path: Path) -> None:
    with open(model, "rb") as f:
        meta = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(model)), str(bad), metadata={**meta, DIGEST_KEY: value})
    with pytest.raises(lw.DataError, match=rf"bad\.safetensors: metadata '{DIGEST_KEY}': expected 64 hex digits"):
        load_model(bad)


def test_a_model_file_without_a_digest_loads_with_a_warning(model: Path, tmp_path: Path) -> None:
    old = without_digest(model, tmp_path / "old.safetensors")
    with pytest.warns(UnverifiedFileWarning, match=r"old\.safetensors: holds no integrity digest") as record:
        net = load_model(old)
    assert len(record) == 1
    for key, value in load_model(model).state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[key], value)


def test_a_checkpoint_without_a_digest_resumes_with_a_warning(checkpoint: Path, tmp_path: Path) -> None:
    old = without_digest(checkpoint, tmp_path / "old.ckpt")
    trainer = _trainer()
    with pytest.warns(UnverifiedFileWarning, match=r"old\.ckpt: holds no integrity digest"):
        trainer.load_checkpoint(old)
    assert trainer.epoch == 1


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_the_command_line_notes_a_file_without_a_digest_in_one_line_once(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ck, saved = tmp_path / "run.ckpt", tmp_path / "m.safetensors"
    assert main(["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", "--checkpoint", str(ck),
                 "--save", str(saved)]) == 0
    if command == "evaluate":
        old = without_digest(saved, tmp_path / "old.safetensors")
        argv = ["evaluate", str(old), "--data", "mnist-sample"]
    else:
        old = without_digest(ck, tmp_path / "old.ckpt")
        argv = ["train", "--resume", str(old), "--epochs", "2", "--quiet", "--save", str(tmp_path / "m2.safetensors")]
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    notes = [line for line in err if "integrity digest" in line]
    assert notes == [f"layerwise: warning: {old}: holds no integrity digest (written before layerwise stored one); "
                     "its tensors are loaded unverified"], err


def test_every_file_layerwise_writes_has_a_digest_that_matches(model: Path, checkpoint: Path) -> None:
    for path in (model, checkpoint):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnverifiedFileWarning)
            _, meta = read_safetensors(path, "layerwise-checkpoint" if path == checkpoint
                                                      else "layerwise-model")
        assert len(meta[DIGEST_KEY]) == 64


def test_extra_metadata_may_not_set_the_digest(tmp_path: Path) -> None:
    with pytest.raises(lw.ConfigError, match=DIGEST_KEY):
        save_model(lw.TwoLayerNet(4, 3, 2, rng=0), tmp_path / "m.safetensors", extra_metadata={DIGEST_KEY: "0" * 64})


# -- defect 12: files of other kinds are named ---------------------------------------------------
def _foreign_files(model: Path, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    torch = pytest.importorskip("torch")
    files: dict[str, tuple[Path, str]] = {}
    onnx = tmp_path / "m.onnx"
    assert main(["export", str(model), "-o", str(onnx)]) == 0
    files["onnx"] = onnx, "an ONNX model"
    module = torch.nn.Linear(4, 2)
    pt = tmp_path / "m.pt"
    torch.save(module, pt)
    files["torch-module"] = pt, r"a PyTorch file \(torch\.save\)"
    state = tmp_path / "state.pth"
    torch.save(module.state_dict(), state)
    files["torch-state-dict"] = state, r"a PyTorch file \(torch\.save\)"
    legacy = tmp_path / "legacy.pth"
    torch.save(module.state_dict(), legacy, _use_new_zipfile_serialization=False)
    files["torch-legacy"] = legacy, r"a PyTorch file \(torch\.save, legacy format\)"
    npz = tmp_path / "w.npz"
    np.savez(npz, w=np.zeros(3))
    files["npz"] = npz, r"a zip archive \(such as NumPy's \.npz\)"
    npy = tmp_path / "w.npy"
    np.save(npy, np.zeros(3))
    files["npy"] = npy, r"a NumPy \.npy array"
    return files


FOREIGN = ["onnx", "torch-module", "torch-state-dict", "torch-legacy", "npz", "npy"]


@pytest.mark.parametrize("kind", FOREIGN)
def test_an_onnx_or_pytorch_file_given_as_a_model_is_named_for_what_it_is(
        kind: str, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, what = _foreign_files(model, tmp_path)[kind]
    with pytest.raises(lw.DataError, match=rf"^{path}: this is {what}, not a layerwise model file \(\.safetensors\)"):
        load_model(path)
    with pytest.raises(lw.DataError, match=rf"{path.name}: this is {what}, not a layerwise checkpoint"):
        read_checkpoint(path)
    capsys.readouterr()
    assert main(["evaluate", str(path), "--data", "mnist-sample"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"layerwise: error: {path}: this is ")
    assert "header too large" not in line and "found format None" not in line


@pytest.mark.parametrize("cut", [9, 20, 100, 1000])
def test_a_truncated_model_file_is_not_mistaken_for_another_kind(cut: int, model: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.safetensors"
    short.write_bytes(model.read_bytes()[:cut])
    with pytest.raises(lw.DataError, match=r"short\.safetensors: not a readable safetensors file") as info:
        load_model(short)
    assert "this is" not in str(info.value)


