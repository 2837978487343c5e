"""The benchmark scripts run end to end on a few iterations (no timings are checked: speed
lives in the scripts' own output, not in the test suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def run_script(name: str, *args: str, tmp_path: Path) -> tuple[str, dict]:  # type: ignore[type-arg]
    pytest.importorskip("torch")
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(BENCH / name), *args, "--pause", "0", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text())


def test_bench_conv_runs_and_reports_both_libraries(tmp_path: Path) -> None:
    stdout, result = run_script("bench_conv.py", "--iters", "2", "--repeats", "1", tmp_path=tmp_path)
    assert "book-style loop" in stdout and "through layerwise train" in stdout
    names = [row[0] for row in result["per_layer_ms"]]
    assert names == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2", "Adam step"]
    assert [row[0] for row in result["torch_per_layer_ms"]] == names
    assert all(v > 0 for row in result["per_layer_ms"][:-1] for v in row[1:])
    assert set(result["epoch_s"]) == {"trainer", "book", "torch"}


def test_bench_mlp_runs_and_reports_every_case(tmp_path: Path) -> None:
    stdout, result = run_script("bench_mlp.py", "--repeats", "1", "--iters", "5", tmp_path=tmp_path)
    assert "TwoLayerNet as one flat NumPy loop" in stdout
    assert "matrix products alone" in stdout
    cases = [r["case"] for r in result["results"]]
    assert len(cases) == 5 and cases[-1] == "eval images/s"
    assert all(r["ratio"] > 0 for r in result["results"])
    assert set(result["peak_rss_mib"]) == {"layerwise", "torch"}
