"""Property-based fuzzing of the parsers of model and checkpoint files (issue 17).

Every reader of outside bytes here (:func:`read_safetensors`, :func:`load_model`,
:func:`load_weights`, :func:`read_checkpoint`, :func:`network_from_checkpoint` and
:meth:`Trainer.load_checkpoint`) is fed random bytes, valid files with bytes flipped or cut
off, valid files with hostile headers and metadata, and checkpoints with each entry
corrupted. The property, for every input and every reader: it returns a valid result or
raises :class:`~layerwise.errors.DataError`, never another exception (a KeyError, a
TypeError, a bare JSONDecodeError, a MemoryError...), never hangs (a watchdog of
:data:`HANG_SECONDS` per input), and leaves no file behind.

The examples are few and small so that the file runs in seconds: ``derandomize=True`` makes
every run try the same inputs (a failure is reproducible, not a flake), and ``database=None``
keeps hypothesis from writing a ``.hypothesis`` folder into the working tree.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

import layerwise as lw
from layerwise.files.model_files import MODEL_FORMAT, load_model, load_weights, read_safetensors, save_model
from layerwise.optimizers import Adam
from layerwise.training.checkpoints import CHECKPOINT_FORMAT, network_from_checkpoint, read_checkpoint
from layerwise.training.trainer import Trainer

#: An input that keeps a reader busy this long counts as a hang.
HANG_SECONDS = 60

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- the valid files the mutations start from ----------------------------------------------------
def _checkpoint_trainer() -> Trainer:
    rng = np.random.default_rng(0)
    x, t = rng.random((12, 4), dtype=np.float32), rng.integers(0, 2, 12)
    net = lw.MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, use_dropout=True, dropout_ration=0.2, rng=0)
    return Trainer(net, Adam(lr=0.01), x, t, epochs=2, batch_size=4, rng=0, progress=False, log=None)


def _bytes_of(write: Callable[[Path], None]) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f"
        write(path)
        return path.read_bytes()


def _model_networks() -> dict[str, lw.Sequential]:
    rng = np.random.default_rng(0)
    return {
        "two-layer": lw.TwoLayerNet(4, 3, 2, rng=0),
        "extend": lw.MultiLayerNetExtend(4, [3, 3], 2, use_batchnorm=True, use_dropout=True, rng=0),
        "simple-cnn": lw.SimpleConvNet((1, 6, 6), {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1},
                                       4, 2, rng=0),
        "deep-cnn": lw.DeepConvNet((1, 28, 28), hidden_size=4, output_size=2, rng=0),
        "sequential": lw.Sequential(
            [lw.Convolution(rng.standard_normal((2, 1, 3, 3)), np.zeros(2), pad=1), lw.Relu(),
             lw.Pooling(2, 2), lw.BatchNormalization(np.ones(2), np.zeros(2)), lw.Affine(np.ones((18, 2)), np.zeros(2)),
             lw.Dropout(0.1)], lw.SoftmaxWithLoss()),
    }


NETWORKS = _model_networks()
MODELS = {name: _bytes_of(lambda p, n=net: save_model(n, p)) for name, net in NETWORKS.items()}


def _write_checkpoint(path: Path) -> None:
    trainer = _checkpoint_trainer()
    trainer.fit()
    trainer.save_checkpoint(path)


CHECKPOINT = _bytes_of(_write_checkpoint)
FILES = {**MODELS, "checkpoint": CHECKPOINT}


def _header(data: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _assemble(header: dict[str, Any] | bytes, body: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


# -- the readers and the property -----------------------------------------------------------------
READERS: dict[str, Callable[[Path], Any]] = {
    "read_safetensors(model)": lambda p: read_safetensors(p, MODEL_FORMAT),
    "read_safetensors(checkpoint)": lambda p: read_safetensors(p, CHECKPOINT_FORMAT),
    "load_model": load_model,
    **{f"load_weights({name})": lambda p, n=net: load_weights(n.copy(), p) for name, net in NETWORKS.items()},
    "load_weights(strict=False)": lambda p: load_weights(NETWORKS["extend"].copy(), p, strict=False),
    "read_checkpoint": read_checkpoint,
    "network_from_checkpoint": network_from_checkpoint,
    "Trainer.load_checkpoint": lambda p: _checkpoint_trainer().load_checkpoint(p),
}


class Hang(Exception):
    """A reader took longer than HANG_SECONDS on one input."""


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"a reader ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_readers(data: bytes) -> dict[str, bool]:
    """Run every reader on ``data`` saved as a file; which ones accepted it. Anything but a
    result or a DataError propagates (and fails the test)."""
    accepted = {}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "input.safetensors"
        path.write_bytes(data)
        with _watchdog(HANG_SECONDS):
            for name, read in READERS.items():
                try:
                    result = read(path)
                except lw.DataError as exc:
                    assert "\n" not in str(exc) and str(path) in str(exc), (name, str(exc))
                    accepted[name] = False
                else:
                    if name in ("load_model", "network_from_checkpoint"):
                        assert isinstance(result, lw.Sequential)
                    accepted[name] = True
        assert os.listdir(d) == ["input.safetensors"]
    return accepted


def test_the_valid_files_are_accepted() -> None:
    for name, data in MODELS.items():
        ok = check_readers(data)
        assert ok["load_model"] and ok[f"load_weights({name})"] and not ok["read_checkpoint"], name
    ok = check_readers(CHECKPOINT)
    assert ok["read_checkpoint"] and ok["network_from_checkpoint"] and ok["Trainer.load_checkpoint"]
    assert not ok["load_model"]


# -- (a) random bytes -------------------------------------------------------------------------------
@FUZZ
@given(st.one_of(
    st.binary(max_size=300),
    # a plausible header length, then anything
    st.tuples(st.integers(0, 400), st.binary(max_size=300)).map(lambda p: p[0].to_bytes(8, "little") + p[1]),
    # a header length pointing past the end, or absurdly far
    st.sampled_from([2**63, 2**64 - 1, 10**9, 100_000_001]).map(lambda n: n.to_bytes(8, "little") + b"{}"),
))
def test_random_bytes_are_refused_with_a_data_error(data: bytes) -> None:
    assert not any(check_readers(data).values())


# -- (b) valid files with bytes flipped or cut off ----------------------------------------------
@FUZZ
@given(st.sampled_from(sorted(FILES)), st.data())
def test_valid_files_with_flipped_bytes_or_truncated_give_a_result_or_a_data_error(name: str, data: st.DataObject) -> None:
    raw = bytearray(FILES[name])
    header_end = 8 + int.from_bytes(raw[:8], "little")
    for _ in range(data.draw(st.integers(1, 6), label="flips")):
        # half of the flips land in the header, where the parsing is
        where = data.draw(st.one_of(st.integers(0, header_end - 1), st.integers(0, len(raw) - 1)), label="at")
        raw[where] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="length")]
    check_readers(bytes(raw))


# -- (c) hostile safetensors headers and metadata ------------------------------------------------
CLASS_NAMES = ["TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet", "Sequential",
               "_ConvNet", "NoSuchNet", "Layer", "LossLayer", "MulLayer", "AddLayer", "Affine", "Convolution",
               "Pooling", "BatchNormalization", "Dropout", "Relu", "SoftmaxWithLoss", "IdentityWithLoss", ""]
HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2, 10**12, 2**63, 2**64, 2**128, 10**400, -(10**30), 1e308, 0.5]),
    st.sampled_from(CLASS_NAMES + ["float32", "float64", "float16", "int8", "bool", "f4,(", "\x00", "relu", "max"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
JSON_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6) | st.sampled_from(["class", "dtype"]), inner,
                                            max_size=4)),
    max_leaves=10,
)
HOSTILE_TEXT = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(["[" * 100_000, "[" * 40 + "]" * 40, "{" * 50, "1" * 5000, "NaN", "-Infinity", '"\\ud800"',
                     "1e999", "", " ", "null", "0x10", "1_000", "+1", "١٢"]),
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (the root included)."""
    yield here
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*here, key))


def mutate(value: Any, data: st.DataObject) -> Any:
    """``value`` (JSON) with one spot replaced by a hostile value, deleted, or given an
    unknown key."""
    value = copy.deepcopy(value)
    path = data.draw(st.sampled_from(list(_paths(value))), label="path")
    action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]), label="action")
    if not path:
        return data.draw(JSON_VALUES, label="new root") if action != "add" else value
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="key")] = data.draw(JSON_VALUES, label="value")
    else:
        parent[path[-1]] = data.draw(JSON_VALUES, label="value")
    return value


@FUZZ
@given(st.sampled_from(sorted(MODELS)), st.data())
def test_a_hostile_architecture_gives_a_result_or_a_data_error(name: str, data: st.DataObject) -> None:
    header, body = _header(MODELS[name])
    config = json.loads(header["__metadata__"]["architecture"])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        config = mutate(config, data)
    header["__metadata__"]["architecture"] = json.dumps(config)
    check_readers(_assemble(header, body))


@FUZZ
@given(st.sampled_from(sorted(FILES)), st.data())
def test_any_metadata_entry_replaced_by_hostile_text_gives_a_result_or_a_data_error(
        name: str, data: st.DataObject) -> None:
    header, body = _header(FILES[name])
    meta = header["__metadata__"]
    key = data.draw(st.sampled_from(sorted(meta) + ["unknown"]), label="key")
    if data.draw(st.booleans(), label="delete") and key in meta:
        del meta[key]
    else:
        meta[key] = data.draw(HOSTILE_TEXT, label="text")
    check_readers(_assemble(header, body))


TENSOR_ENTRIES = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(["F32", "F64", "F16", "BF16", "I32", "I64", "U8", "BOOL", "F8_E4M3", "C64", "XX"])
    | HOSTILE_SCALARS,
    "shape": st.lists(st.integers(0, 8) | st.sampled_from([2**40, 2**63, 2**64, -1, 10**30]), max_size=4)
    | HOSTILE_SCALARS,
    "data_offsets": st.lists(st.integers(0, 64) | st.sampled_from([-1, 2**64, 2**65]), max_size=3) | HOSTILE_SCALARS,
})


@FUZZ
@given(st.sampled_from(sorted(FILES)), st.data())
def test_hostile_tensor_entries_and_headers_give_a_result_or_a_data_error(name: str, data: st.DataObject) -> None:
    header, body = _header(FILES[name])
    choice = data.draw(st.sampled_from(["entry", "metadata", "bytes"]), label="what")
    if choice == "entry":  # one tensor's entry edited, or a new one
        key = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__") + ["extra"]), label="tensor")
        entry = dict(header.get(key, {}))
        entry.update(data.draw(TENSOR_ENTRIES, label="entry"))
        header[key] = entry
        raw: dict[str, Any] | bytes = header
    elif choice == "metadata":  # the metadata itself of the wrong kind
        header["__metadata__"] = mutate(header["__metadata__"], data)
        raw = header
    else:  # bytes that are not UTF-8, or not JSON, inside the header
        text = json.dumps(header).encode()
        at = data.draw(st.integers(0, len(text)), label="at")
        raw = text[:at] + data.draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b'"', b"}"]),
                                    label="junk") + text[at:]
    check_readers(_assemble(raw, body))


# -- (d) checkpoints with each entry corrupted ---------------------------------------------------
CHECKPOINT_HEADER, CHECKPOINT_BODY = _header(CHECKPOINT)
JSON_ENTRIES = ["architecture", "optimizer", "history", "rng", "layer_rngs", "base_lr", "trainer"]


def _inner_json(meta: dict[str, str], key: str) -> Any:
    value = json.loads(meta[key])
    if key == "layer_rngs":  # states stored as JSON text inside the JSON object
        value = {k: json.loads(v) for k, v in value.items()}
    return value


def _outer_json(key: str, value: Any) -> str:
    if key == "layer_rngs" and isinstance(value, dict):
        value = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in value.items()}
    return json.dumps(value)


@FUZZ
@given(st.sampled_from(JSON_ENTRIES), st.data())
def test_a_checkpoint_whose_json_entries_are_corrupted_gives_a_result_or_a_data_error(
        key: str, data: st.DataObject) -> None:
    header = copy.deepcopy(CHECKPOINT_HEADER)
    meta = header["__metadata__"]
    meta[key] = _outer_json(key, mutate(_inner_json(meta, key), data))
    check_readers(_assemble(header, CHECKPOINT_BODY))


@FUZZ
@given(st.sampled_from(["epoch", "epochs", "batch_size", "seconds"]),
       st.one_of(HOSTILE_TEXT, st.integers(-5, 10**20).map(str), st.floats().map(repr)))
def test_a_checkpoint_whose_numbers_are_corrupted_gives_a_result_or_a_data_error(key: str, text: str) -> None:
    header = copy.deepcopy(CHECKPOINT_HEADER)
    header["__metadata__"][key] = text
    accepted = check_readers(_assemble(header, CHECKPOINT_BODY))
    if key == "epoch" and text != "2":  # the history holds two epochs
        assert not accepted["read_checkpoint"]


def test_a_checkpoint_resumes_exactly_after_the_fuzzed_checks() -> None:
    """The checks refuse nothing a real checkpoint holds: loading one restores the trainer."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "run.ckpt"
        path.write_bytes(CHECKPOINT)
        trainer = _checkpoint_trainer()
        trainer.load_checkpoint(path)
        assert trainer.epoch == 2 and len(trainer.history) == 2
        again = _checkpoint_trainer()
        again.fit()
        for key, value in again.network.state_dict().items():
            np.testing.assert_array_equal(trainer.network.state_dict()[key], value)
        assert trainer.rng.bit_generator.state == again.rng.bit_generator.state


def test_save_file_of_a_tensor_name_with_odd_characters_is_read() -> None:
    """Not every oddity is an error: a plain file with an odd tensor name reads as data."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "odd.safetensors"
        save_file({"\u00e9/\u2603": np.zeros(2, np.float32)}, str(path),
                  metadata={"format": MODEL_FORMAT, "format_version": "1"})
        tensors, meta = read_safetensors(path, MODEL_FORMAT)
        assert list(tensors) == ["\u00e9/\u2603"] and meta["format"] == MODEL_FORMAT
