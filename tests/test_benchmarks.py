"""The benchmark scripts run end to end on a few iterations (no timings are checked: speed
lives in the scripts' own output, not in the test suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    stdout, result = run_script("bench_conv.py", "--iters", "2", "--repeats", "1", "--nets", "simple",
                                tmp_path=tmp_path)
    assert "speed engine: ON" in stdout  # benchmarks time the engine, and say so
    assert "book-style loop" in stdout and "through layerwise train" in stdout
    layers = result["simple_layers"]
    names = [row[0] for row in layers["per_layer_ms"]]
    # the network as the engine runs it (and as `layerwise train` runs it): ReLU1 and Pool1 one layer
    assert names == ["Conv1", "Relu1+Pool1", "Affine1", "Relu2", "Affine2", "Adam step"]
    assert [row[0] for row in layers["torch_per_layer_ms"]] == [
        "Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2", "Adam step"]
    assert all(v > 0 for row in layers["per_layer_ms"][:-1] for v in row[1:])
    assert set(result["median_s"]) == {"trainer", "book", "reference", "torch"}


def test_bench_conv_times_deep_conv_net_and_its_layers(tmp_path: Path) -> None:
    stdout, result = run_script("bench_conv.py", "--nets", "deep", "--deep-iters", "1", "--repeats", "1",
                                "--layer-batch", "4", tmp_path=tmp_path)
    assert "DeepConvNet" in stdout and "GFLOP/s" in stdout
    assert set(result["median_s"]) == {"deep/trainer", "deep/book", "deep/torch"}
    assert result["deep_step_gflop"] > 1
    names = [row[0] for row in result["deep_layers"]["per_layer_ms"]]
    assert names[:5] == ["Conv1", "Relu1", "Conv2", "Relu2+Pool1", "Conv3"] and names[-1] == "Adam step"


def test_bench_mlp_runs_and_reports_every_case(tmp_path: Path) -> None:
    stdout, result = run_script("bench_mlp.py", "--repeats", "1", "--iters", "5", tmp_path=tmp_path)
    assert "TwoLayerNet as one flat NumPy loop" in stdout and "MLP, Adam, as one flat NumPy loop" in stdout
    assert "matrix products alone" in stdout
    cases = [r["case"] for r in result["results"]]
    jax_cases = [c for c in cases if "jax" in c.lower()]
    try:  # the JAX competitor runs where the bench extra installed JAX
        import jax  # noqa: F401

        assert len(jax_cases) == 1
    except ImportError:
        assert jax_cases == []
    assert len(cases) == 6 + len(jax_cases) and cases[-1] == "eval images/s"
    assert all(r["ratio"] > 0 for r in result["results"])
    assert set(result["peak_rss_mib"]) == {"layerwise", "torch"}


def load_bench_mlp():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        import bench_mlp
    finally:
        sys.path.remove(str(BENCH))
    return bench_mlp


@pytest.mark.usefixtures("engine_on")  # what the benchmark times
def test_flat_numpy_floors_compute_what_layerwise_computes() -> None:
    """The floors are only floors if they do the same work: after a few steps from the same
    weights and batches, their weights must be layerwise's engine's (to float32 rounding)."""
    import layerwise as lw
    from layerwise.networks import MultiLayerNet
    from layerwise.optimizers import Adam

    bench = load_bench_mlp()
    data = np.random.default_rng(1)
    x = data.random((500, 784), dtype=np.float32)
    t = data.integers(0, 10, 500)

    book = lw.TwoLayerNet(784, 50, 10, weight_init_std=0.1, rng=0)
    flat = {k: v.copy() for k, v in book.params.items()}
    bench.lw_book_epoch(book, x, t, np.random.default_rng(2))
    bench.numpy_minimal_epoch(flat, x, t, np.random.default_rng(2))
    for key, value in book.params.items():
        np.testing.assert_allclose(flat[key], value, rtol=1e-4, atol=1e-6, err_msg=key)
        assert not np.allclose(value, lw.TwoLayerNet(784, 50, 10, weight_init_std=0.1, rng=0).params[key])

    mlp = MultiLayerNet(784, [100, 100], 10, activation="relu", weight_init_std="he", rng=0)
    flat = {k: v.copy() for k, v in mlp.params.items()}
    state: dict = {}  # type: ignore[type-arg]
    opt = Adam(lr=0.001)
    perm_rng = np.random.default_rng(3)
    for _ in range(2):  # two epochs: Adam's step count and moments carry over
        perm = perm_rng.permutation(len(x))
        for i in range(0, len(x), bench.BATCH):
            idx = perm[i : i + bench.BATCH]
            opt.update(mlp.params, mlp.gradient(x[idx], t[idx]))
    floor_rng = np.random.default_rng(3)
    for _ in range(2):
        bench.numpy_minimal_adam_epoch(flat, state, x, t, floor_rng)
    assert state["t"] == 10
    # Adam divides by sqrt(v): where a gradient is near zero, float32 rounding of the two
    # computations moves a weight by a few 1e-6 (one step is at most lr = 1e-3).
    for key, value in mlp.params.items():
        np.testing.assert_allclose(flat[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
