"""Issue 17, defects 4 and 5: a model or checkpoint file whose contents are wrong (integer
weights, a non-floating dtype, NaN weights, an architecture asking for terabytes) is refused
with a DataError naming the file and the tensor or entry, before anything large is allocated,
and `layerwise evaluate` turns that into one line and a non-zero exit code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import layerwise as lw
from layerwise.files.model_files import load_model, load_weights, save_model
from layerwise.files.safetensors_io import DIGEST_KEY, tensor_digest
from layerwise.networks import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet
from layerwise.optimizers import SGD
from layerwise.training.checkpoints import network_from_checkpoint, read_checkpoint
from layerwise.training.trainer import Trainer

Change = Callable[[dict[str, np.ndarray], dict[str, Any]], None]

TINY_CONV = {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}


def rewrite(src: Path, out: Path, change: Change, meta_change: Callable[[dict[str, str]], None] | None = None,
            key: str = "architecture") -> Path:
    """A copy of the safetensors file ``src`` whose tensors and architecture JSON (the
    metadata entry ``key``) ``change`` has edited in place, with the digest of the new tensors
    (as a file made elsewhere would have it: the checks after the digest's are under test)."""
    with safe_open(str(src), framework="numpy") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    arch = json.loads(meta[key])
    change(tensors, arch)
    meta[key] = json.dumps(arch)
    meta[DIGEST_KEY] = tensor_digest(tensors)
    if meta_change is not None:
        meta_change(meta)
    save_file(tensors, str(out), metadata=meta)
    return out


@pytest.fixture
def mnist_model(tmp_path: Path) -> Path:
    """A TwoLayerNet for MNIST-shaped input, saved."""
    path = tmp_path / "good.safetensors"
    save_model(lw.TwoLayerNet(784, 20, 10, rng=0), path)
    return path


def as_int(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
    for k in t:
        t[k] = (t[k] * 1000).astype(np.int32)


def int8_dtype(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
    a["dtype"] = "int8"


def all_nan(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
    for k in t:
        t[k] = np.full_like(t[k], np.nan)


def absurd_hidden(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
    a["hidden_size"] = 10**12  # W1 would be 784 x 10**12 float32: 2.9 PB


BAD_FILES: dict[str, tuple[Change, str]] = {
    "int-tensors": (as_int, r"tensor 'W1' is int32, expected float32 like the architecture's dtype"),
    "int8-dtype": (int8_dtype, r"architecture: TwoLayerNet: dtype must be float16, float32 or float64, got 'int8'"),
    "nan-weights": (all_nan, r"tensor 'W1' has 15680 NaN values"),
    "absurd-size": (absurd_hidden, r"W1: the architecture implies shape \(784, 1000000000000\), "
                                   r"the file holds \(784, 20\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_model_contents_are_refused_by_load_model_and_load_weights(
        case: str, mnist_model: Path, tmp_path: Path) -> None:
    change, message = BAD_FILES[case]
    bad = rewrite(mnist_model, tmp_path / f"{case}.safetensors", change)
    with pytest.raises(lw.DataError, match=rf"^{re.escape(str(tmp_path))}/{case}\.safetensors: .*{message}"):
        load_model(bad)
    net = lw.TwoLayerNet(784, 20, 10, rng=1)
    before = net.state_dict()
    with pytest.raises(lw.DataError, match=message):
        load_weights(net, bad)
    for key, value in net.state_dict().items():  # nothing was loaded
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize(
    "dtype", ["int32", "uint8", "bool", "complex64", "float128", "garbage", "f4,(", "\x00", "", None, 4, [], {}])
def test_an_architecture_dtype_that_is_not_a_float_is_refused(dtype: Any, mnist_model: Path, tmp_path: Path) -> None:
    def change(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        a["dtype"] = dtype

    bad = rewrite(mnist_model, tmp_path / "bad.safetensors", change)
    with pytest.raises(lw.DataError, match=r"bad\.safetensors: architecture: TwoLayerNet: dtype must be float16, "
                                           r"float32 or float64, got "):
        load_model(bad)


def test_a_single_nan_or_infinity_is_refused_and_counted(mnist_model: Path, tmp_path: Path) -> None:
    def one_bad(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        t["W2"][3, 4] = np.nan
        t["W2"][0, 0] = np.inf
        t["W2"][1, 1] = -np.inf

    bad = rewrite(mnist_model, tmp_path / "bad.safetensors", one_bad)
    with pytest.raises(lw.DataError, match=r"tensor 'W2' has 1 NaN values and 2 infinite values \(of 200\)"):
        load_model(bad)


@pytest.mark.parametrize("other", ["float64", "float16"])
def test_a_float_tensor_of_another_dtype_than_the_architecture_is_refused_not_cast(
        other: str, mnist_model: Path, tmp_path: Path) -> None:
    def change(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        t["b1"] = t["b1"].astype(other)

    bad = rewrite(mnist_model, tmp_path / "bad.safetensors", change)
    with pytest.raises(lw.DataError, match=rf"tensor 'b1' is {other}, expected float32 like the architecture's dtype"):
        load_model(bad)


def test_a_consistent_float64_file_loads_and_load_weights_casts_to_the_networks_dtype(tmp_path: Path) -> None:
    net64 = lw.TwoLayerNet(6, 4, 3, rng=0, dtype=np.float64)
    path = tmp_path / "m64.safetensors"
    save_model(net64, path)
    back = load_model(path)
    assert back.dtype == np.float64 and repr(back) == "TwoLayerNet(6-4-3, dtype=float64)"
    net32 = lw.TwoLayerNet(6, 4, 3, rng=1)
    load_weights(net32, path)  # the network's dtype is the caller's choice
    assert net32.params["W1"].dtype == np.float32
    np.testing.assert_allclose(net32.params["W1"], net64.params["W1"], rtol=1e-6)


def test_a_bfloat16_tensor_is_refused_by_name_not_by_numpy(tmp_path: Path) -> None:
    header = json.dumps({"W1": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
                         "__metadata__": {"format": "layerwise-model", "format_version": "1"}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
    with pytest.raises(lw.DataError, match=r"bf16\.safetensors: tensor 'W1' has dtype BF16, which NumPy cannot hold"):
        load_model(path)


# -- absurd sizes: refused before any allocation ------------------------------------------------
def _absurd(key: str, value: Any) -> Change:
    def change(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        target = a
        *path, last = key.split(".")
        for part in path:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last if not isinstance(target, list) else int(last)] = value
    return change


HUGE = 10**12
ABSURD = {
    "TwoLayerNet.input_size": (lambda: lw.TwoLayerNet(4, 3, 2, rng=0), "input_size", "W1"),
    "MultiLayerNet.hidden": (lambda: MultiLayerNet(4, [3, 3], 2, rng=0), "hidden_size_list.1", "W2"),
    "MultiLayerNetExtend.batchnorm": (lambda: MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, rng=0),
                                      "hidden_size_list.0", "gamma1"),
    "SimpleConvNet.filters": (lambda: SimpleConvNet((1, 6, 6), TINY_CONV, 5, 3, rng=0),
                              "conv_param.filter_num", "W1"),
    "SimpleConvNet.input": (lambda: SimpleConvNet((1, 6, 6), TINY_CONV, 5, 3, rng=0), "input_dim.1", "W2"),
    "DeepConvNet.hidden": (lambda: DeepConvNet((1, 28, 28), hidden_size=4, output_size=3, rng=0),
                           "hidden_size", "W7"),
    "Sequential.Affine": (lambda: lw.Sequential([lw.Affine(np.ones((3, 2)), np.zeros(2))], lw.IdentityWithLoss()),
                          "layers.0.n_out", "W1"),
    "Sequential.BatchNorm": (lambda: lw.Sequential([lw.Affine(np.ones((3, 2)), np.zeros(2)),
                                                    lw.BatchNormalization(np.ones(2), np.zeros(2))],
                                                   lw.IdentityWithLoss()), "layers.1.num_features", "gamma1"),
    "Sequential.Convolution": (lambda: lw.Sequential([lw.Convolution(np.ones((2, 1, 3, 3)), np.zeros(2))],
                                                     lw.IdentityWithLoss()), "layers.0.kernel.0", "W1"),
}


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_an_absurd_size_in_the_architecture_is_refused_before_allocating(case: str, tmp_path: Path) -> None:
    make, key, tensor = ABSURD[case]
    good = tmp_path / "good.safetensors"
    save_model(make(), good)
    bad = rewrite(good, tmp_path / "bad.safetensors", _absurd(key, HUGE))
    tracemalloc.start()
    try:
        with pytest.raises(lw.DataError, match=rf"bad\.safetensors: .*{tensor}: the architecture implies shape "
                                               r"\([^)]*[0-9]{13}[^)]*\), the file holds \("):
            load_model(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20  # nothing like the terabytes asked for


def test_a_size_of_400_digits_is_refused_in_a_short_message(mnist_model: Path, tmp_path: Path) -> None:
    bad = rewrite(mnist_model, tmp_path / "bad.safetensors", _absurd("hidden_size", 10**400))
    with pytest.raises(lw.DataError, match=r"W1: the architecture implies shape \(784, 1000") as info:
        load_model(bad)
    assert len(str(info.value)) < 400 + len(str(tmp_path))


@pytest.mark.parametrize("value", [-3, 0, 2.5, "12", True, None, [1]])
def test_a_size_of_the_wrong_kind_is_refused(value: Any, mnist_model: Path, tmp_path: Path) -> None:
    bad = rewrite(mnist_model, tmp_path / "bad.safetensors", _absurd("hidden_size", value))
    with pytest.raises(lw.DataError, match=r"bad\.safetensors: architecture: TwoLayerNet: hidden_size must be a "
                                           r"positive integer, got "):
        load_model(bad)


@pytest.mark.parametrize(
    "arch, message",
    [
        ([1, 2], r"metadata 'architecture': expected a JSON object"),
        ("TwoLayerNet", r"metadata 'architecture': expected a JSON object"),
        ({"class": "NoSuchNet"}, r"unknown network class 'NoSuchNet'"),
        ({"class": "_ConvNet", "input_dim": [1, 6, 6]}, r"unknown network class '_ConvNet'"),
        ({"class": "TwoLayerNet", "input_size": 784, "output_size": 10}, r"missing \['hidden_size'\]"),
        ({"class": "TwoLayerNet", "input_size": 784, "hidden_size": 20, "output_size": 10, "rng": 5},
         r"unknown \['rng'\]"),
        ({"class": "Sequential", "layers": [{"class": "MulLayer"}], "loss": {"class": "SoftmaxWithLoss"}},
         r"MulLayer\.forward\(self, x, y\) does not take one input"),
        ({"class": "Sequential", "layers": [{"class": "Relu"}], "loss": {"class": "LossLayer"}},
         r"unknown layer class 'LossLayer'"),
        ({"class": "Sequential", "layers": [{"class": "Relu"}], "loss": {"class": "Relu"}},
         r"loss Relu is not a loss layer"),
        ({"class": "Sequential", "layers": [{"class": "Dropout", "ratio": 0.5, "rng": "x"}],
          "loss": {"class": "SoftmaxWithLoss"}}, r"Dropout: config keys: unknown \['rng'\]"),
        ({"class": "Sequential", "layers": [{"class": "Relu", "inplace": True}],
          "loss": {"class": "SoftmaxWithLoss"}}, r"Relu: the config does not fit the constructor"),
    ],
)
def test_an_architecture_that_describes_no_network_is_refused(arch: Any, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    save_file({"W1": np.zeros((784, 20), np.float32)}, str(path),
              metadata={"format": "layerwise-model", "format_version": "1", "architecture": json.dumps(arch)})
    with pytest.raises(lw.DataError, match=rf"bad\.safetensors: .*{message}"):
        load_model(path)


def test_a_config_value_the_constructor_refuses_becomes_a_data_error(tmp_path: Path) -> None:
    net = lw.Sequential([lw.Affine(np.ones((3, 2)), np.zeros(2)), lw.BatchNormalization(np.ones(2), np.zeros(2))],
                        lw.IdentityWithLoss())
    good = tmp_path / "good.safetensors"
    save_model(net, good)
    bad = rewrite(good, tmp_path / "bad.safetensors", _absurd("layers.1.momentum", 5.0))
    with pytest.raises(lw.DataError, match=r"bad\.safetensors: architecture: Invalid momentum value: 5\.0"):
        load_model(bad)


# -- checkpoints --------------------------------------------------------------------------------
def _checkpoint(tmp_path: Path) -> tuple[Path, Callable[[], Trainer]]:
    rng = np.random.default_rng(0)
    x, t = rng.random((12, 4), dtype=np.float32), rng.integers(0, 2, 12)

    def trainer() -> Trainer:
        return Trainer(lw.TwoLayerNet(4, 3, 2, rng=0), SGD(lr=0.1), x, t, epochs=1, batch_size=4,
                       rng=0, progress=False, log=None)

    path = tmp_path / "run.ckpt"
    trainer().save_checkpoint(path)
    return path, trainer


def test_a_checkpoint_with_an_absurd_architecture_or_bad_weights_is_refused(tmp_path: Path) -> None:
    good, make = _checkpoint(tmp_path)

    def huge(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        a["hidden_size"] = HUGE

    def ints(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        t["model/W1"] = t["model/W1"].astype(np.int64)

    def nan(t: dict[str, np.ndarray], a: dict[str, Any]) -> None:
        t["model/b2"] = np.full_like(t["model/b2"], np.nan)

    for name, change, message in [
        ("huge", huge, rf"model/W1: the architecture implies shape \(4, {HUGE}\), the file holds \(4, 3\)"),
        ("ints", ints, r"tensor 'model/W1' is int64, expected float32 like the architecture's dtype"),
        ("nan", nan, r"tensor 'model/b2' has 2 NaN values"),
    ]:
        bad = rewrite(good, tmp_path / f"{name}.ckpt", change)
        for load in (read_checkpoint, network_from_checkpoint, make().load_checkpoint):
            with pytest.raises(lw.DataError, match=rf"{name}\.ckpt: .*{message}"):
                load(bad)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("epoch", "abc", r"metadata 'epoch': expected an integer >= 0, found 'abc'"),
        ("epoch", "-1", r"metadata 'epoch': expected an integer >= 0"),
        ("epoch", "1" * 5000, r"metadata 'epoch': expected an integer >= 0"),
        ("epoch", "3", r"metadata 'history': expected one record per epoch done \(3\), found 0 records"),
        ("history", "{", r"metadata 'history': expected a JSON list of EpochRecord objects, found invalid JSON"),
        ("history", "[1]", r"metadata 'history': .*item 0: 1"),
        ("history", "[" * 100000, r"metadata 'history': .*JSON nested too deep"),
        ("history", "[" * 40 + "]" * 40, r"metadata 'history': .*nested more than 32 deep"),
        ("optimizer", "[]", r"metadata 'optimizer': expected a JSON object"),
        ("optimizer", '{"class": "SGD"}', r"metadata 'optimizer': expected a JSON object \{\"class\""),
        ("optimizer", '{"class": "Adam", "scalars": {"t": 0}}', r"made with optimizer 'Adam', not SGD"),
        ("optimizer", '{"class": "SGD", "scalars": {"t": -4}}', r"optimizer state: .*'t' must be a non-negative"),
        ("rng", "null", r"metadata 'rng': expected the JSON of a PCG64 random generator's state"),
        ("rng", '{"bit_generator": "PCG64"}', r"metadata 'rng': .*not an object with keys"),
        ("rng", json.dumps({"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0,
                            "uinteger": 0}), r"state = -1, not an integer in \[0, "),
        ("rng", json.dumps({"bit_generator": "MT19937", "state": {"state": 1, "inc": 1}, "has_uint32": 0,
                            "uinteger": 0}), r"bit_generator 'MT19937'"),
        ("rng", json.dumps({"bit_generator": "PCG64DXSM", "state": {"state": 1, "inc": 1}, "has_uint32": 0,
                            "uinteger": 0}), r"rng is the state of a PCG64DXSM generator; this trainer's is a PCG64"),
        ("layer_rngs", '{"Dropout1": 5}', r"metadata 'layer_rngs': .*'Dropout1': 5"),
        ("seconds", "nan", r"metadata 'seconds': expected a finite number >= 0"),
        ("base_lr", '"fast"', r"metadata 'base_lr': expected a finite number or null"),
        ("trainer", "[]", r"metadata 'trainer': expected a JSON object"),
        ("architecture", '{"class": "TwoLayerNet"', r"metadata 'architecture': .*invalid JSON"),
    ],
)
def test_every_checkpoint_entry_is_checked_and_a_failed_load_changes_nothing(
        key: str, value: str, message: str, tmp_path: Path) -> None:
    good, make = _checkpoint(tmp_path)

    def set_entry(meta: dict[str, str]) -> None:
        meta[key] = value

    bad = rewrite(good, tmp_path / "bad.ckpt", lambda t, a: None, set_entry)
    trainer = make()
    trainer.epoch, weights, rng_state = 7, trainer.network.state_dict(), trainer.rng.bit_generator.state
    with pytest.raises(lw.DataError, match=rf"bad\.ckpt: .*{message}"):
        trainer.load_checkpoint(bad)
    assert trainer.epoch == 7 and trainer.rng.bit_generator.state == rng_state
    for k, v in trainer.network.state_dict().items():
        np.testing.assert_array_equal(v, weights[k])


# -- the command line ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_evaluate_on_a_bad_model_file_is_one_error_line_and_a_nonzero_exit(
        case: str, mnist_model: Path, tmp_path: Path) -> None:
    bad = rewrite(mnist_model, tmp_path / f"{case}.safetensors", BAD_FILES[case][0])
    env = dict(os.environ, LAYERWISE_DATA=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "layerwise", "evaluate", str(bad), "--data", "mnist-sample"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "test accuracy" not in proc.stdout
    assert f"{case}.safetensors" in proc.stderr, proc.stderr


def test_an_optimizer_state_that_does_not_fit_the_network_is_refused_at_load_not_at_the_first_step(
        tmp_path: Path) -> None:
    from layerwise.optimizers import Momentum

    rng = np.random.default_rng(0)
    x, t = rng.random((12, 4), dtype=np.float32), rng.integers(0, 2, 12)

    def make() -> Trainer:
        return Trainer(lw.TwoLayerNet(4, 3, 2, rng=0), Momentum(lr=0.1), x, t, epochs=1, batch_size=4, rng=0,
                       progress=False, log=None)

    first = make()
    first.fit()
    good = tmp_path / "run.ckpt"
    first.save_checkpoint(good)

    def wrong_shape(tensors: dict[str, np.ndarray], arch: dict[str, Any]) -> None:
        tensors["optimizer/v.W1"] = np.zeros((3, 4), np.float32)

    bad = rewrite(good, tmp_path / "bad.ckpt", wrong_shape)
    trainer = make()
    weights = trainer.network.state_dict()
    with pytest.raises(lw.DataError, match=r"bad\.ckpt: tensor 'optimizer/v\.W1' has shape \(3, 4\), expected "
                                           r"\(4, 3\) like weight 'W1'"):
        trainer.load_checkpoint(bad)
    for k, v in trainer.network.state_dict().items():  # the network is put back as it was
        np.testing.assert_array_equal(v, weights[k])
