"""Model files: safetensors round trips and strict, named loading errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import layerwise as lw
from layerwise.files.model_files import load_model, load_weights, save_model


def test_two_layer_net_round_trip(tmp_path: Path) -> None:
    net = lw.TwoLayerNet(20, 7, 4, rng=3)
    path = tmp_path / "model.safetensors"
    save_model(net, path)
    back = load_model(path)
    assert type(back) is lw.TwoLayerNet and back.sizes == (20, 7, 4)
    for key in net.params:
        np.testing.assert_array_equal(back.params[key], net.params[key])
        assert back.params[key].dtype == np.float32
    x = np.random.default_rng(0).random((5, 20), dtype=np.float32)
    np.testing.assert_array_equal(back.predict(x), net.predict(x))


def test_the_package_face_gives_the_model_files_functions_and_no_old_module_name_remains() -> None:
    import importlib

    import layerwise.files.model_files

    assert lw.save_model is layerwise.files.model_files.save_model
    assert lw.load_model is layerwise.files.model_files.load_model
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("layerwise.io")  # no compatibility shims in a 0.x package (issue 30)


def test_sequential_round_trip_and_metadata(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    net = lw.Sequential([lw.Affine(rng.standard_normal((3, 4)), np.zeros(4)), lw.Sigmoid(),
                         lw.Affine(rng.standard_normal((4, 2)), np.zeros(2))], lw.IdentityWithLoss())
    path = tmp_path / "seq.safetensors"
    save_model(net, path, {"data": "toy"})
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header["__metadata__"]
    assert meta["format"] == "layerwise-model" and meta["format_version"] == "1"
    assert json.loads(meta["architecture"])["class"] == "Sequential"
    assert meta["data"] == "toy"
    back = load_model(path)
    assert isinstance(back.last_layer, lw.IdentityWithLoss)
    assert list(back.layers) == ["Affine1", "Sigmoid1", "Affine2"]
    np.testing.assert_array_equal(back.params["W2"], net.params["W2"].astype(np.float64))


def _tamper(path: Path, out: Path, change) -> None:  # type: ignore[no-untyped-def]
    tensors = load_file(str(path))
    with open(path, "rb") as f:
        meta = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    change(tensors, meta)
    save_file(tensors, str(out), metadata=meta)


def test_strict_loading_names_missing_unexpected_and_misshaped(tmp_path: Path) -> None:
    net = lw.TwoLayerNet(6, 3, 2, rng=0)
    good = tmp_path / "good.safetensors"
    save_model(net, good)

    bad = tmp_path / "missing.safetensors"
    _tamper(good, bad, lambda t, m: t.pop("b2"))
    with pytest.raises(lw.DataError, match=r"missing\.safetensors.*missing: b2"):
        load_model(bad)

    bad = tmp_path / "extra.safetensors"
    _tamper(good, bad, lambda t, m: t.update(W3=np.zeros((2, 2), np.float32)))
    with pytest.raises(lw.DataError, match=r"unexpected: W3"):
        load_model(bad)

    bad = tmp_path / "shape.safetensors"
    _tamper(good, bad, lambda t, m: t.update(W1=np.zeros((6, 4), np.float32)))
    with pytest.raises(lw.DataError, match=r"W1: the architecture implies shape \(6, 3\), the file holds \(6, 4\)"):
        load_model(bad)

    other = lw.TwoLayerNet(6, 5, 2, rng=0)
    with pytest.raises(lw.DataError, match=r"W1: expected shape \(6, 5\), got \(6, 3\)"):
        load_weights(other, good)


def test_unreadable_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(lw.DataError, match="no such file"):
        load_model(tmp_path / "nope.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01not a safetensors file")
    with pytest.raises(lw.DataError, match=r"junk\.safetensors: not a readable safetensors file"):
        load_model(junk)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(lw.DataError, match="expected a 'layerwise-model' file, found format 'pt'"):
        load_model(foreign)
    old = tmp_path / "future.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(old),
              metadata={"format": "layerwise-model", "format_version": "99"})
    with pytest.raises(lw.DataError, match="expected format_version 1, found '99'"):
        load_model(old)


def test_save_is_atomic_and_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.safetensors"
    save_model(lw.TwoLayerNet(4, 3, 2, rng=0), path)
    before = path.read_bytes()

    import layerwise.files.model_files as lio

    def explode(tensors, filename, metadata=None):  # type: ignore[no-untyped-def]
        Path(filename).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(lio, "save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        save_model(lw.TwoLayerNet(4, 3, 2, rng=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_no_pickle_anywhere_in_the_project() -> None:
    import re

    root = Path(__file__).resolve().parent.parent
    banned = re.compile(r"^\s*(import|from)\s+(c?[pP]ickle|_pickle|joblib|dill|shelve)\b"  # imports
                        r"|\b(c?[pP]ickle|joblib|dill)\.(loads?|dumps?|Unpickler)\b"  # uses
                        r"|allow_pickle\s*=\s*True")
    files = [*(root / "src").rglob("*.py"), *(root / "examples").rglob("*.py"),
             *(root / "benchmarks").rglob("*.py"), *(root / "scripts").rglob("*.py")]
    assert len(files) > 20
    for py in files:
        for number, line in enumerate(py.read_text().splitlines(), start=1):
            assert not banned.search(line), f"{py}:{number}: {line.strip()}"


def test_multi_layer_net_extend_round_trip_keeps_batchnorm_statistics(tmp_path: Path) -> None:
    from layerwise.networks import MultiLayerNet, MultiLayerNetExtend

    rng = np.random.default_rng(0)
    x = rng.random((16, 12), dtype=np.float32)
    t = rng.integers(0, 3, 16)
    for net in (
        MultiLayerNet(12, [8, 6], 3, activation="sigmoid", weight_init_std="xavier",
                      weight_decay_lambda=0.1, rng=1),
        MultiLayerNetExtend(12, [8, 6], 3, use_batchnorm=True, use_dropout=True,
                            dropout_ration=0.3, rng=2),
    ):
        net.gradient(x, t)  # moves BatchNorm's running statistics away from their start
        path = tmp_path / f"{type(net).__name__}.safetensors"
        save_model(net, path)
        back = load_model(path)
        assert type(back) is type(net) and repr(back) == repr(net)
        assert list(back.layers) == list(net.layers)
        for key in net.state_dict():
            np.testing.assert_array_equal(back.state_dict()[key], net.state_dict()[key])
        net.eval()
        back.eval()
        np.testing.assert_array_equal(back.predict(x), net.predict(x))
        assert back.loss(x, t) == net.loss(x, t)  # weight decay term included


def test_conv_networks_round_trip(tmp_path: Path) -> None:
    from layerwise.networks import DeepConvNet, SimpleConvNet

    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 12, 12), dtype=np.float32)
    nets = [
        SimpleConvNet(input_dim=(1, 12, 12), conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1},
                      hidden_size=8, rng=1),
        DeepConvNet(input_dim=(1, 12, 12), hidden_size=6, rng=2),
        lw.Sequential([lw.Convolution(rng.standard_normal((3, 1, 3, 3)), np.zeros(3), stride=(1, 3), pad=(1, 0)),
                       lw.Pooling(2, 2, stride=1, pad=1, mode="avg")], lw.IdentityWithLoss()),
    ]
    for k, net in enumerate(nets):
        path = tmp_path / f"net{k}.safetensors"
        save_model(net, path)
        back = load_model(path)
        assert type(back) is type(net) and repr(back) == repr(net)
        net.eval()
        back.eval()
        np.testing.assert_array_equal(back.predict(x), net.predict(x))
