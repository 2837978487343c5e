"""Checkpoint files (layerwise.training.checkpoints): the format stays the one written before, resumes exactly.

``tests/data/checkpoint-v1.safetensors`` was written by the code before the checkpoint functions
left ``layerwise.training.trainer``: ``make_trainer(seed=0)``, two epochs, ``save_checkpoint``. Its
metadata's entries come in another order each time a file is written (the safetensors writer
keeps them in a hash map) and ``seconds`` is a measured time, so files are compared entry by
entry, not byte by byte.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layerwise as lw
import layerwise.training.trainer
from layerwise.files.model_files import DIGEST_KEY, UnverifiedFileWarning, read_safetensors
from layerwise.optimizers import Adam, Momentum
from layerwise.training import checkpoints
from layerwise.training.checkpoints import (
    CHECKPOINT_FORMAT,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from layerwise.training.history import EpochRecord
from layerwise.training.trainer import Trainer

OLD_CHECKPOINT = Path(__file__).parent / "data" / "checkpoint-v1.safetensors"


def make_trainer(seed: int, **kw: Any) -> Trainer:
    """A network with every kind of state a checkpoint holds: BatchNorm's running averages,
    a Dropout generator, Adam's ``m``, ``v`` and ``t``, a schedule's base rate."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4)).astype(np.float32)
    t = rng.integers(0, 2, 30)
    net = lw.MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=0.2, use_batchnorm=True, rng=seed)
    options: dict[str, Any] = dict(epochs=3, batch_size=8, rng=seed + 1, progress=False, log=None,
                                   metadata={"note": "v1"})
    options.update(kw)
    return Trainer(net, Adam(lr=0.01), x, t, x[:10], t[:10], **options)


def entries(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A checkpoint's metadata (each entry parsed, measured times and the digest of the
    tensors left out: the old file has none) and tensors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedFileWarning)
        tensors, meta = read_safetensors(path, CHECKPOINT_FORMAT)
    parsed = {k: v if k in ("format", "format_version") else json.loads(v) for k, v in meta.items()
              if k != DIGEST_KEY}
    parsed.pop("seconds")
    for record in parsed["history"]:
        record.pop("seconds")
    return parsed, tensors


def test_a_checkpoint_written_before_the_split_resumes_like_an_unbroken_run() -> None:
    full = make_trainer(seed=0)
    full.fit()
    resumed = make_trainer(seed=5)  # other weights, shuffling and dropout: all come from the file
    resumed.load_checkpoint(OLD_CHECKPOINT)
    assert resumed.epoch == 2 and [r.epoch for r in resumed.history] == [1, 2]
    resumed.fit()
    for key, value in full.network.params.items():
        np.testing.assert_allclose(resumed.network.params[key], value, rtol=1e-4, atol=1e-6)
    assert [r.train_loss for r in resumed.history] == pytest.approx([r.train_loss for r in full.history],
                                                                    rel=1e-4)


def test_a_checkpoint_written_today_holds_what_the_old_one_held(tmp_path: Path) -> None:
    tr = make_trainer(seed=0)
    tr.train_epoch()
    tr.train_epoch()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(tr, path)
    new_meta, new_tensors = entries(path)
    old_meta, old_tensors = entries(OLD_CHECKPOINT)
    assert sorted(new_meta) == sorted(old_meta)
    history = "history"
    assert {k: v for k, v in new_meta.items() if k != history} == {
        k: v for k, v in old_meta.items() if k != history}
    for new, old in zip(new_meta[history], old_meta[history], strict=True):
        assert new.pop("engine").startswith("on (")  # today's records also say what ran them
        assert new == pytest.approx(old, rel=1e-4)
    assert sorted(new_tensors) == sorted(old_tensors)
    for key, old_value in old_tensors.items():
        assert new_tensors[key].dtype == old_value.dtype
        np.testing.assert_allclose(new_tensors[key], old_value, rtol=1e-4, atol=1e-6)


def test_the_trainer_methods_are_the_module_functions(tmp_path: Path) -> None:
    tr = make_trainer(seed=0, epochs=1)
    tr.fit()
    by_method, by_function = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    tr.save_checkpoint(by_method)
    save_checkpoint(tr, by_function)
    assert entries(by_method)[0] == entries(by_function)[0]
    one, other = make_trainer(seed=3), make_trainer(seed=4)
    one.load_checkpoint(by_method)
    load_checkpoint(other, by_method)
    assert one.epoch == other.epoch == 1 and one.history == other.history
    for key, value in one.network.params.items():
        np.testing.assert_array_equal(other.network.params[key], value)


def test_the_checkpoint_names_live_in_one_module_only() -> None:
    """No compatibility re-exports in a 0.x package (issue 30): one name per thing."""
    for name in ("CHECKPOINT_FORMAT", "read_checkpoint", "network_from_checkpoint"):
        assert hasattr(checkpoints, name) and not hasattr(layerwise.training.trainer, name)
    assert layerwise.training.trainer.EpochRecord is EpochRecord


def test_read_checkpoint_gives_every_entry_parsed() -> None:
    tensors, meta = read_checkpoint(OLD_CHECKPOINT)
    parsed = meta.parsed
    assert parsed["epoch"] == 2 and parsed["epochs"] == 3 and parsed["batch_size"] == 8
    assert [type(r).__name__ for r in parsed["history"]] == ["EpochRecord", "EpochRecord"]
    assert parsed["optimizer"] == {"class": "Adam", "scalars": {"t": 8}}
    assert list(parsed["layer_rngs"]) == ["Dropout1"] and parsed["trainer"] == {"note": "v1"}
    assert {k.split("/")[0] for k in tensors} == {"model", "optimizer"}
    net = checkpoints.network_from_checkpoint(OLD_CHECKPOINT)
    assert isinstance(net, lw.MultiLayerNetExtend)
    assert sorted(net.state_dict()) == sorted(k[len("model/"):] for k in tensors if k.startswith("model/"))


def test_loading_into_a_trainer_with_another_optimizer_is_refused_and_changes_nothing() -> None:
    tr = make_trainer(seed=7)
    tr.optimizer = Momentum(lr=0.01)
    before = {k: v.copy() for k, v in tr.network.params.items()}
    with pytest.raises(lw.DataError, match="made with optimizer 'Adam', not Momentum"):
        load_checkpoint(tr, OLD_CHECKPOINT)
    assert tr.epoch == 0 and tr.history == []
    for key, value in before.items():
        np.testing.assert_array_equal(tr.network.params[key], value)


def test_a_resumed_run_goes_on_at_the_checkpoints_learning_rate(tmp_path: Path) -> None:
    from layerwise.optimizers import SGD
    from layerwise.training.trainer import Trainer

    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    first = Trainer(lw.TwoLayerNet(4, 5, 3, rng=0), SGD(lr=0.01), x, t, epochs=1, batch_size=10,
                    rng=1, progress=False, log=None, checkpoint=tmp_path / "c.ckpt")
    first.fit()
    other = Trainer(lw.TwoLayerNet(4, 5, 3, rng=0), SGD(lr=0.5), x, t, epochs=2, batch_size=10,
                    rng=1, progress=False, log=None)
    other.load_checkpoint(tmp_path / "c.ckpt")
    other.fit()
    assert [r.lr for r in other.history] == [0.01, 0.01]
