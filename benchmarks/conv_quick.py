"""Quick timing of one SimpleConvNet training iteration: layerwise against the same net in PyTorch.

Not a test. One iteration is forward, backward and a plain SGD step on a batch of 100 images
of 1x28x28, float32; PyTorch runs on the CPU with ``torch.set_num_threads(threads)``. An epoch
of MNIST is 600 such iterations.

    PYTHONPATH=src python benchmarks/conv_quick.py [--threads 2] [--rounds 3] [--profile]

``--profile`` also prints the time of each layer's forward and backward in layerwise.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

import layerwise as lw

BATCH, LR = 100, 0.01


def best_of(step: Callable[[], object], repeats: int, inner: int = 20) -> tuple[float, float]:
    """(median, min) seconds per call over ``repeats`` rounds of ``inner`` calls, after warm-up."""
    for _ in range(5):
        step()
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        rounds.append((time.perf_counter() - t0) / inner)
    return statistics.median(rounds), min(rounds)


def layerwise_step(x: np.ndarray, t: np.ndarray) -> Callable[[], object]:
    net = lw.SimpleConvNet(rng=0)

    def step() -> None:
        grads = net.gradient(x, t)
        for key, g in grads.items():
            net.params[key] -= LR * g

    return step


def torch_step(x: np.ndarray, t: np.ndarray, threads: int) -> Callable[[], object] | None:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 30, 5)
    fc1 = torch.nn.Linear(30 * 12 * 12, 100)
    fc2 = torch.nn.Linear(100, 10)
    params = [*conv.parameters(), *fc1.parameters(), *fc2.parameters()]
    opt = torch.optim.SGD(params, lr=LR)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)

    def step() -> None:
        opt.zero_grad()
        h = F.max_pool2d(F.relu(conv(xt)), 2)
        loss = F.cross_entropy(fc2(F.relu(fc1(h.flatten(1)))), tt)
        loss.backward()
        opt.step()

    return step


def profile(x: np.ndarray, t: np.ndarray, repeats: int) -> None:
    net = lw.SimpleConvNet(rng=0)
    layers = list(net.layers.items())
    outs: list[np.ndarray] = [x]
    for _, layer in layers:
        outs.append(layer.forward(outs[-1]))
    net.last_layer.forward(outs[-1], t)
    douts = [net.last_layer.backward(1.0)]
    for _, layer in reversed(layers[1:]):
        douts.append(layer.backward(douts[-1]))
    douts.reverse()  # douts[k] is the gradient arriving at layer k
    douts = [np.empty(0), *douts]  # the first layer's incoming dout is douts[1]...
    print(f"{'layer':10s} {'forward ms':>11s} {'backward ms':>12s}")
    for k, (name, layer) in enumerate(layers):
        fwd, _ = best_of(lambda layer=layer, k=k: layer.forward(outs[k]), repeats)
        d = douts[k + 1] if k + 1 < len(douts) else None
        back = layer.backward_params if k == 0 else layer.backward
        layer.forward(outs[k])
        bwd, _ = best_of(lambda back=back, d=d: back(d), repeats)
        print(f"{name:10s} {1e3 * fwd:11.2f} {1e3 * bwd:12.2f}")


def worker(which: str, threads: int, repeats: int) -> None:
    """Time one side in this process and print ``median min`` seconds per iteration."""
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, BATCH)
    step = layerwise_step(x, t) if which == "layerwise" else torch_step(x, t, threads)
    if step is None:
        print("nan nan")
        return
    med, low = best_of(step, repeats)
    print(f"{med} {low}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs of each side")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--worker", choices=["layerwise", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.repeats)
        return
    # Each side runs in its own process, alternately: the two thread pools never compete, and
    # a noisy machine hurts both alike. The best median over the rounds is reported.
    results: dict[str, list[tuple[float, float]]] = {"layerwise": [], "torch": []}
    for _ in range(args.rounds):
        for which in results:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", which, "--threads", str(args.threads),
                 "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True,
            ).stdout.split()
            results[which].append((float(out[0]), float(out[1])))
    lw_med = min(m for m, _ in results["layerwise"])
    lw_min = min(b for _, b in results["layerwise"])
    print(f"layerwise : {1e3 * lw_med:6.2f} ms/iter (best {1e3 * lw_min:.2f}), "
          f"epoch of 600 ~ {600 * lw_med:.1f} s")
    th_med = min(m for m, _ in results["torch"])
    if np.isnan(th_med):
        print("torch not installed: no comparison")
    else:
        th_min = min(b for _, b in results["torch"])
        print(f"torch cpu : {1e3 * th_med:6.2f} ms/iter (best {1e3 * th_min:.2f}), "
              f"epoch of 600 ~ {600 * th_med:.1f} s  [{args.threads} threads]")
        print(f"ratio layerwise/torch: {lw_med / th_med:.2f} (median), {lw_min / th_min:.2f} (best)")
    if args.profile:
        rng = np.random.default_rng(0)
        profile(rng.random((BATCH, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, BATCH),
                args.repeats)


if __name__ == "__main__":
    main()
