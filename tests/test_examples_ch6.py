"""The book's chapter-6 scripts in examples/ run on a slice of mnist-sample, draw their PNG
and print numbers that show what each script is about.

Each script runs in a subprocess with ``LAYERWISE_DATA`` pointing at an empty folder, so
``--data auto`` resolves to the bundled sample and nothing touches the network.
"""

from __future__ import annotations

import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CH6 = [
    "optimizer_compare_naive.py",
    "optimizer_compare_mnist.py",
    "weight_init_compare.py",
    "weight_init_activation_histogram.py",
    "batch_norm_test.py",
    "overfit_weight_decay.py",
    "overfit_dropout.py",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LN10 = math.log(10.0)
# "name: number number ..." (the scripts' result lines)
RESULT = re.compile(r"^(?P<key>[^:]+): (?P<values>[-+0-9.eEnaif ]+)$")


@pytest.fixture
def run(tmp_path: Path):
    """Run an example; return its stdout, parsed results and the PNG it wrote."""

    def _run(name: str, *args: str, png: str = "out.png") -> tuple[str, dict[str, list[float]], Path]:
        out = tmp_path / png
        env = dict(os.environ, MPLBACKEND="Agg", LAYERWISE_DATA=str(tmp_path / "data"))
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / name), *args, "--out", str(out)],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert "Warning" not in proc.stderr, proc.stderr
        check_png(out)
        results = {}
        for line in proc.stdout.splitlines():
            m = RESULT.match(line)
            if m:
                results[m["key"]] = [float(v) for v in m["values"].split()]
        return proc.stdout, results, out

    return _run


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert 10_000 < len(data) < 5_000_000, len(data)
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert width >= 400 and height >= 200, (width, height)
    # written atomically: no temporary file left beside it
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}")] == []


def test_optimizer_compare_naive(run) -> None:
    _, results, _ = run("optimizer_compare_naive.py")
    assert set(results) == {"SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"}
    start = math.hypot(-7.0, 2.0)
    for key, (x, y) in results.items():
        assert math.hypot(x, y) < 0.2 * start, (key, x, y)
    # SGD at lr 0.95 zig-zags in y: y is multiplied by (1 - 0.95 * 2) = -0.9 every step
    assert results["SGD"][1] == pytest.approx(2.0 * 0.9**30, rel=1e-3)


def test_optimizer_compare_mnist(run) -> None:
    _, results, _ = run("optimizer_compare_mnist.py", "--data", "mnist-sample", "--train-size", "500",
                        "--iters", "40", "--batch-size", "100")
    first = results.pop("first batch")[0]
    assert set(results) == {"SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"}
    assert 2.0 < first < 3.0  # about ln 10 from random weights
    final = {key: v[0] for key, v in results.items()}
    assert all(math.isfinite(v) and 0.0 < v < first for v in final.values()), final
    # the adaptive and momentum methods are well ahead of plain SGD after 40 steps
    for key in ("Momentum", "Nesterov", "AdaGrad", "Adam"):
        assert final[key] < 0.5 * final["SGD"], final
    assert final["Adam"] < 0.5 * first


def test_weight_init_compare(run) -> None:
    stdout, results, _ = run("weight_init_compare.py", "--train-size", "500", "--iters", "40",
                             "--batch-size", "100")
    assert stdout.startswith("data: mnist-sample")  # --data auto, offline
    assert set(results) == {"std=0.01", "Xavier", "He"}
    (std_first, std_final), (_, xavier_final), (he_first, he_final) = (
        results["std=0.01"], results["Xavier"], results["He"])
    # std=0.01: the signal vanishes, the scores are ~0, the loss stays at ln 10
    assert std_first == pytest.approx(LN10, abs=2e-3)
    assert std_final == pytest.approx(LN10, abs=2e-3)
    assert he_final < he_first - 0.2
    assert he_final < xavier_final < std_final


def test_weight_init_activation_histogram(run) -> None:
    _, results, _ = run("weight_init_activation_histogram.py", "--samples", "200")
    assert len(results) == 8 and all(len(v) == 5 for v in results.values())
    # std=1: sigmoid saturates at 0 and 1 (std near 0.5); std=0.01: all outputs near 0.5
    assert all(s > 0.35 for s in results["sigmoid/std=1"])
    assert all(s < 0.05 for s in results["sigmoid/std=0.01"])
    assert all(0.05 < s < 0.35 for s in results["sigmoid/xavier"])
    # ReLU: std=0.01 shrinks by ~sqrt(100/2) * 0.01 per layer, std=1 grows, He keeps the spread
    relu_small, relu_big, relu_he = results["relu/std=0.01"], results["relu/std=1"], results["relu/he"]
    assert relu_small[-1] < 1e-4 * relu_small[0]
    assert relu_big[-1] > 1e3 * relu_big[0]
    assert 0.3 < relu_he[-1] / relu_he[0] < 3.0
    assert results["relu/xavier"][-1] < 0.5 * results["relu/xavier"][0]


def test_batch_norm_test(run) -> None:
    stdout, _, _ = run("batch_norm_test.py", "--data", "mnist-sample", "--train-size", "500",
                             "--epochs", "6", "--weight-scales", "1", "0.05")
    accs = {key: dict(zip(["normal", "batchnorm"], v, strict=True)) for key, v in _bn_results(stdout).items()}
    assert set(accs) == {"W=1", "W=0.05"}
    # W=1 without BatchNorm overflows, and the script says so instead of training on NaN
    assert "W=1 normal: diverged" in stdout
    assert math.isnan(accs["W=1"]["normal"])
    assert math.isfinite(accs["W=1"]["batchnorm"])
    # W=0.05: without BatchNorm still at chance, with it well on the way
    assert accs["W=0.05"]["normal"] < 0.2
    assert accs["W=0.05"]["batchnorm"] > 0.3


def _bn_results(stdout: str) -> dict[str, list[float]]:
    found = re.findall(r"^(W=[^:]+): normal (\S+) batchnorm (\S+)$", stdout, flags=re.M)
    return {key: [float(a), float(b)] for key, a, b in found}


def _overfit(run, name: str, option: str, value: str) -> dict[str, float]:
    _, results, _ = run(name, "--data", "mnist-sample", "--epochs", "40", "--test-size", "500",
                        option, value, png=f"{option[2:]}-{value}.png")
    out = {key: v[0] for key, v in results.items()}
    assert set(out) == {"train acc", "test acc", "gap"}
    assert all(0.0 <= out[k] <= 1.0 for k in ("train acc", "test acc"))
    assert out["gap"] == pytest.approx(out["train acc"] - out["test acc"], abs=2e-4)
    return out


def test_overfit_weight_decay_and_dropout(run) -> None:
    plain = _overfit(run, "overfit_weight_decay.py", "--weight-decay", "0")
    decayed = _overfit(run, "overfit_weight_decay.py", "--weight-decay", "0.1")
    # 300 images learnt far better than the test images
    assert plain["train acc"] > 0.7 and plain["gap"] > 0.1
    # weight decay holds the fit back and narrows the gap
    assert decayed["train acc"] < plain["train acc"] - 0.05
    assert decayed["gap"] < plain["gap"]

    no_dropout = _overfit(run, "overfit_dropout.py", "--dropout-ratio", "0")
    dropout = _overfit(run, "overfit_dropout.py", "--dropout-ratio", "0.2")
    # the same experiment on the Trainer as on the hand-written loop: same seed, same weights,
    # same permutations, so the same numbers
    assert no_dropout == plain
    assert dropout["train acc"] < no_dropout["train acc"] - 0.05
    assert dropout["gap"] < no_dropout["gap"]


@pytest.mark.parametrize("name", CH6)
def test_ch6_examples_use_the_public_api(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert "sys.path" not in text
    assert not re.search(r"np\.random\.(rand|randn|choice|seed|normal)\(", text)
    assert "atomic_path" in text
