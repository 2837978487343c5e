"""Issue 29, defect 1: a model file or checkpoint whose safetensors header claims more than
the file holds, or than its architecture implies, is refused before any tensor is read.

A 4 KB file whose header says ``W1`` is (32768, 32768), or a sparse file claiming a terabyte,
used to cost seconds and gigabytes (or a ``pyo3_runtime.PanicException``) before "wrong
shape". Here every hostile file goes to ``layerwise evaluate`` and ``layerwise train
--resume`` in one worker process that reports, per command, the exit code, the stderr, the
CPU time it took and the process's peak memory (``ru_maxrss``) against the interpreter's
once it is warm: refused in under a second, under 100 MB above that, never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerwise as lw
from layerwise.files.model_files import save_model
from layerwise.optimizers import SGD
from layerwise.training.trainer import Trainer

TIB = 2**40
#: The bounds the issue asks for: CPU seconds per refusal, memory above the warm interpreter.
SECONDS, MEGABYTES = 1.0, 100

WORKER = r"""
import io, json, resource, sys, time, traceback
import layerwise.cli.program
from layerwise.cli import main

def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

layerwise.cli.program.build_parser()  # the imports every command makes
import layerwise.files.model_files, layerwise.training.checkpoints, layerwise.cli.commands.train  # noqa
print(json.dumps({"baseline_kb": rss_kb()}), flush=True)
for line in sys.stdin:
    argv = json.loads(line)
    err, out = io.StringIO(), io.StringIO()
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    start, wall = cpu(), time.monotonic()
    try:
        rc = main(argv)
        crash = None
    except BaseException as exc:  # a PanicException is a BaseException
        rc, crash = None, traceback.format_exc()
    finally:
        sys.stdout, sys.stderr = real
    print(json.dumps({"rc": rc, "crash": crash, "err": err.getvalue(), "out": out.getvalue(),
                      "cpu": cpu() - start, "wall": time.monotonic() - wall, "rss_kb": rss_kb()}),
          flush=True)
"""


class Worker:
    """One interpreter that runs ``layerwise`` commands and reports what each cost."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(lw.__file__).parent.parent))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.baseline_kb = int(self._read()["baseline_kb"])

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the worker died"
        result: dict[str, Any] = json.loads(line)
        return result

    def run(self, *argv: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(list(argv)) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    # warm: one refused file through each command, so later peaks are the files' own cost
    with tempfile.TemporaryDirectory() as d:
        junk = Path(d) / "junk.safetensors"
        junk.write_bytes(b"junk")
        w.run("evaluate", str(junk), "--data", "mnist-sample")
        w.run("train", "--resume", str(junk))
    w.baseline_kb = max(w.baseline_kb, int(w.run("evaluate", str(junk), "--data", "mnist-sample")["rss_kb"]))
    yield w
    w.close()


def assert_refused_cheaply(worker: Worker, path: Path) -> None:
    """Both commands refuse ``path`` with one error line naming it, exit 1, in under
    SECONDS of CPU time, under MEGABYTES above the warm interpreter's peak."""
    for argv in (["evaluate", str(path), "--data", "mnist-sample"], ["train", "--resume", str(path)]):
        result = worker.run(*argv)
        assert result["crash"] is None, result["crash"]
        assert result["rc"] == 1, (argv, result)
        lines = result["err"].splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"layerwise: error: {path}: "), result["err"]
        assert "Traceback" not in result["err"] and result["out"] == ""
        assert result["cpu"] < SECONDS, (argv, result)
        assert result["wall"] < 30 * SECONDS, (argv, result)  # generous: the machine is shared
        grew_mb = (result["rss_kb"] - worker.baseline_kb) / 1024
        assert grew_mb < MEGABYTES, (argv, grew_mb, result["err"])


# -- the files the hostile headers start from ----------------------------------------------------
def _bytes(path: Path) -> tuple[dict[str, Any], bytes]:
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _base_files() -> dict[str, tuple[dict[str, Any], bytes]]:
    rng = np.random.default_rng(0)
    x, t = rng.random((12, 784), dtype=np.float32), rng.integers(0, 10, 12)
    with tempfile.TemporaryDirectory() as d:
        model, ckpt = Path(d) / "m.safetensors", Path(d) / "run.ckpt"
        save_model(lw.TwoLayerNet(784, 20, 10, rng=0), model)
        Trainer(lw.TwoLayerNet(784, 20, 10, rng=0), SGD(lr=0.1), x, t, epochs=1, batch_size=4, rng=0,
                progress=False, log=None).save_checkpoint(ckpt)
        return {"model": _bytes(model), "checkpoint": _bytes(ckpt)}


BASES = _base_files()
ITEMSIZE = {"F32": 4, "F64": 8, "F16": 2, "I64": 8, "U8": 1}


def write_claim(path: Path, base: str, tensor: str, shape: list[int], dtype: str, mode: str,
                end: int | None = None) -> None:
    """A copy of base file ``base`` whose header gives ``tensor`` this ``shape`` and ``dtype``.

    ``mode`` "sparse": the other tensors' offsets shift so the header is self-consistent, and
    the file is made as long as the header says (a sparse file: nothing is written), so only
    the architecture can refuse it. "short": the offsets say so but the file keeps its real
    (small) size. "offsets": the shape is kept and ``data_offsets`` end at ``end``.
    """
    header, body = BASES[base]
    header = json.loads(json.dumps(header))
    entry = header[tensor]
    begin = entry["data_offsets"][0]
    if mode == "offsets":
        assert end is not None
        entry["data_offsets"] = [begin, end]
        extra = end - entry["data_offsets"][0]
    else:
        nbytes = math.prod(shape) * ITEMSIZE[dtype]
        old = entry["data_offsets"][1] - begin
        entry.update(dtype=dtype, shape=shape, data_offsets=[begin, begin + nbytes])
        extra = nbytes - old
        if mode == "sparse":
            for name, other in header.items():
                if name != "__metadata__" and name != tensor and other["data_offsets"][0] > begin:
                    other["data_offsets"] = [o + extra for o in other["data_offsets"]]
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw + body)
    if mode == "sparse":
        os.truncate(path, 8 + len(raw) + len(body) + extra)


def tensors_of(base: str) -> list[str]:
    return sorted(k for k in BASES[base][0] if k != "__metadata__")


# -- the cases the issue names, then the property ------------------------------------------------
@pytest.mark.parametrize("base", sorted(BASES))
@pytest.mark.parametrize("shape, dtype, mode", [
    ([32768, 32768], "F32", "short"),    # the 4 KB file of the issue: 4 GiB claimed
    ([32768, 32768], "F32", "sparse"),   # ... and the sparse file of that size
    ([2**20, 2**18], "F32", "sparse"),   # 1 TiB, the file as long as the header says
    ([2**20, 2**18], "F32", "short"),
    ([784, 163840], "F32", "sparse"),    # 512 MB: what the old reader did allocate, then refuse
], ids=["4GiB-in-a-small-file", "4GiB-sparse", "1TiB-sparse", "1TiB-in-a-small-file", "512MB-sparse"])
def test_a_header_claiming_more_than_the_architecture_or_the_file_is_refused_before_reading(
        base: str, shape: list[int], dtype: str, mode: str, worker: Worker, tmp_path: Path) -> None:
    tensor = "W1" if base == "model" else "model/W1"
    path = tmp_path / "claim.safetensors"
    write_claim(path, base, tensor, shape, dtype, mode)
    assert_refused_cheaply(worker, path)


def test_offsets_beyond_the_file_are_refused_and_name_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "claim.safetensors"
    write_claim(path, "model", "b2", [10], "F32", "offsets", end=TIB)
    with pytest.raises(lw.DataError, match=r"claim\.safetensors: .*tensor 'b2': "):
        lw.load_model(path)


FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(base=st.sampled_from(sorted(BASES)), data=st.data(),
       dtype=st.sampled_from(sorted(ITEMSIZE)), mode=st.sampled_from(["sparse", "short", "offsets"]),
       rows=st.integers(1, 2**20), cols=st.integers(1, 2**17), end=st.integers(0, TIB))
def test_headers_claiming_up_to_a_tebibyte_are_refused_in_under_a_second_and_100_mb(
        base: str, data: st.DataObject, dtype: str, mode: str, rows: int, cols: int, end: int,
        worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> None:
    tensor = data.draw(st.sampled_from(tensors_of(base)), label="tensor")
    shape = [rows, cols]  # at most 2**37 values of at most 8 bytes: 1 TiB
    header, body = BASES[base]
    old = header[tensor]
    if mode != "offsets" and shape == old["shape"] and dtype == old["dtype"]:
        shape = [rows + 1, cols]  # a claim that differs from what the file holds
    if mode == "offsets" and end == old["data_offsets"][1]:
        end += 1
    path = tmp_path_factory.mktemp("claim") / "claim.safetensors"
    write_claim(path, base, tensor, shape, dtype, mode, end=end)
    assert path.stat().st_size <= 8 + 4096 + len(body) + TIB
    assert_refused_cheaply(worker, path)
    path.unlink()
