"""Shared pieces of the benchmark scripts: environment report, data, timing helpers.

Benchmarks are scripts, not tests: they time layerwise against PyTorch's CPU build in the
same process, interleaved, and report medians and ratios.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import layerwise

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS", "MKL_DEBUG_CPU_TYPE", "NPY_DISABLE_CPU_FEATURES")


def environment(threads: int) -> dict[str, Any]:
    """What ran: versions, the BLAS library and kernel (threadpoolctl), threads, BLAS env vars."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "threads": threads,
        "layerwise_threads": layerwise.get_num_threads(),
        "env": {k: os.environ[k] for k in BLAS_ENV if k in os.environ},
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for d in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def limit_threads(threads: int) -> Any:
    """Pin NumPy's BLAS, layerwise's data-parallel steps and PyTorch to ``threads`` threads;
    returns the threadpoolctl context."""
    layerwise.set_num_threads(threads)
    ctx = None
    try:
        from threadpoolctl import threadpool_limits

        ctx = threadpool_limits(limits=threads)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    return ctx


def mnist_shaped_data(seed: int = 0) -> tuple[str, tuple[np.ndarray, ...]]:
    """Fashion-MNIST if it is on this machine (no download), else synthetic data of its shape."""
    from layerwise.datasets import load_mnist
    from layerwise.errors import DataError

    try:
        (x, t), (xt, tt) = load_mnist("fashion-mnist", download=False)
        return "fashion-mnist", (x, t, xt, tt)
    except DataError:
        rng = np.random.default_rng(seed)
        x = rng.random((60000, 784), dtype=np.float32)
        xt = rng.random((10000, 784), dtype=np.float32)
        return "synthetic (60000x784, Fashion-MNIST not installed)", (
            x, rng.integers(0, 10, 60000), xt, rng.integers(0, 10, 10000))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(cases: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1,
               pause: float = 0.3) -> dict[str, list[float]]:
    """Run every case once per round, ``repeats`` rounds (after ``warmup`` untimed rounds).

    ``pause`` seconds of sleep before each timed case let the other library's worker threads
    (OpenBLAS's and PyTorch's OpenMP pool spin for a while after a parallel call) go idle, so
    neither side is timed while the other's threads still hold the two cores. Without it both
    sides measure slower and noisier, PyTorch's evaluation most of all.
    """
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            time.sleep(pause)
            times[name].append(timed(fn))
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def peak_rss_mib_of(args: list[str]) -> dict[str, float]:
    """Run this interpreter with ``args`` in a child process; return the JSON it prints last
    (see :func:`reset_peak_rss` and :func:`report_peak_rss`)."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _status_kib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


def reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs``); return the current RSS in MiB.

    Called after imports and data loading, so the peak measured afterwards is the training's.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_kib("VmRSS") / 1024


def report_peak_rss(baseline_mib: float) -> None:
    """Print the peak RSS since :func:`reset_peak_rss` and its rise over ``baseline_mib``."""
    peak = _status_kib("VmHWM") / 1024
    if peak != peak:  # no /proc: fall back to the whole process's peak
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": peak, "baseline_mib": baseline_mib, "extra_mib": peak - baseline_mib}))
