"""MLP training and evaluation speed: layerwise against PyTorch CPU, in one process.

    python benchmarks/bench_mlp.py [--repeats 5] [--threads 2] [--iters 600] [--json results.json]

Cases (same network, batch size, optimizer, float32 data and thread count on both sides):

* ``two-layer/trainer``: the book's TwoLayerNet 784-50-10 with SGD 0.1, batch 100, through
  :class:`layerwise.training.trainer.Trainer` (what ``layerwise train`` runs); the epoch's training time,
  not its evaluation.
* ``two-layer/book-loop``: the same network in the loop a reader writes by hand:
  ``grads`` from the engine's step (``layerwise.fast.training.loss_and_gradient``: the book's
  ``net.gradient`` with the engine's kernels, the first layer's ``dx`` skipped) then
  ``net.params[k] -= lr * grads[k]``.
* ``mlp-adam``: a 784-100-100-10 ReLU MLP with Adam (lr 0.001), through the Trainer.
* ``eval``: images per second predicting the 10,000 test images (batches of 1,000).
* ``two-layer/numpy``: the floor for any NumPy implementation, as the issue measured it: the
  same TwoLayerNet step written as one flat float32 NumPy loop, no layers, no checks.
* ``mlp-adam/numpy``: the same floor for the Adam MLP.
* ``two-layer/jax``: the same TwoLayerNet SGD step in JAX with the whole step under ``jax.jit``
  (forward, ``jax.grad`` of the softmax cross-entropy, the SGD update; the parameters a pytree,
  the batch gathered inside the jitted function), the peer to beat for a small MLP on a CPU.
  Skipped with a note when JAX is not installed (``pip install -e ".[bench]"`` brings it).

The fast engine (:mod:`layerwise.fast`) is turned on explicitly at the start
(``layerwise.fast.enable()``), whatever the library's default, and the output says so.

Each layerwise case is timed against its PyTorch twin in the same round (rounds interleave
all cases), and the ratio of medians is printed. Also: how much of a layerwise epoch is
spent outside the matrix products, and each side's peak memory (in child processes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    environment,
    interleave,
    limit_threads,
    median,
    mnist_shaped_data,
    peak_rss_mib_of,
    report_peak_rss,
    reset_peak_rss,
    timed,
)

import layerwise as lw  # noqa: E402
import layerwise.fast  # noqa: E402
from layerwise.fast.training import loss_and_gradient  # noqa: E402
from layerwise.networks import MultiLayerNet  # noqa: E402
from layerwise.optimizers import SGD, Adam, flush_period, tiny_threshold  # noqa: E402
from layerwise.training.trainer import Trainer  # noqa: E402

BATCH = 100


# -- layerwise --------------------------------------------------------------------------------
def lw_trainer(net: Any, opt: Any, x: np.ndarray, t: np.ndarray, seed: int) -> Trainer:
    return Trainer(net, opt, x, t, epochs=10**9, batch_size=BATCH, rng=seed, progress=False, log=None)


def lw_trainer_epoch(trainer: Trainer) -> float:
    """Seconds of one training epoch (the Trainer's evaluation afterwards is not counted)."""
    return trainer.train_epoch().seconds


def lw_book_epoch(net: lw.TwoLayerNet, x: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> None:
    perm = rng.permutation(len(x))
    for i in range(0, len(x), BATCH):
        idx = perm[i : i + BATCH]
        grads = loss_and_gradient(net, x[idx], t[idx])[1]  # the engine's step, as the README shows
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.1 * grads[key]


def numpy_minimal_epoch(p: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray,
                        rng: np.random.Generator) -> None:
    """TwoLayerNet 784-50-10 with SGD 0.1 as one flat float32 loop: the least NumPy can do."""
    lr = np.float32(0.1)
    w1, b1, w2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    rows = np.arange(BATCH)
    perm = rng.permutation(len(x))
    for i in range(0, len(x), BATCH):
        idx = perm[i : i + BATCH]
        xb, tb = x[idx], t[idx]
        h = xb @ w1
        h += b1
        a = np.maximum(h, 0)
        s = a @ w2
        s += b2
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        e /= e.sum(axis=1, keepdims=True)
        e[rows, tb] -= 1
        e *= np.float32(1 / BATCH)
        gw2, gb2 = a.T @ e, e.sum(axis=0)
        da = e @ w2.T
        da *= h > 0
        gw1, gb1 = xb.T @ da, da.sum(axis=0)
        gw1 *= lr
        w1 -= gw1
        gw2 *= lr
        w2 -= gw2
        b1 -= lr * gb1
        b2 -= lr * gb2


# the same schedule as layerwise's Adam (its default betas share one period)
TINY = np.float32(tiny_threshold(np.float32))
FLUSH_EVERY = flush_period(0.9)
assert FLUSH_EVERY == flush_period(0.999)


def numpy_minimal_adam_epoch(p: dict[str, np.ndarray], state: dict[str, Any], x: np.ndarray,
                             t: np.ndarray, rng: np.random.Generator, lr: float = 0.001) -> None:
    """The 784-100-100-10 ReLU MLP with Adam as one flat float32 loop: the floor for that case.

    ``state`` holds Adam's moments (``m``, ``v``, one scratch array per parameter) and the step
    count ``t``; it starts empty. The update is torch.optim.Adam's (bias-corrected, eps 1e-8),
    with the moments' entries below 2**-103 set to zero every 64 steps, as layerwise's Adam
    does (subnormal numbers are slow on many CPUs: without this the floor would slow down
    from its second epoch on)."""
    keys = ("W1", "b1", "W2", "b2", "W3", "b3")
    if not state:
        state.update(t=0, m=[np.zeros_like(p[k]) for k in keys], v=[np.zeros_like(p[k]) for k in keys],
                     buf=[np.empty_like(p[k]) for k in keys],
                     keep=[np.empty(p[k].shape, dtype=bool) for k in keys])
    params = [p[k] for k in keys]
    w1, b1, w2, b2, w3, b3 = params
    rows = np.arange(BATCH)
    perm = rng.permutation(len(x))
    for i in range(0, len(x), BATCH):
        idx = perm[i : i + BATCH]
        xb, tb = x[idx], t[idx]
        h1 = xb @ w1
        h1 += b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w2
        h2 += b2
        a2 = np.maximum(h2, 0)
        s = a2 @ w3
        s += b3
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        e /= e.sum(axis=1, keepdims=True)
        e[rows, tb] -= 1
        e *= np.float32(1 / BATCH)
        d2 = e @ w3.T
        d2 *= h2 > 0
        d1 = d2 @ w2.T
        d1 *= h1 > 0
        grads = (xb.T @ d1, d1.sum(axis=0), a1.T @ d2, d2.sum(axis=0), a2.T @ e, e.sum(axis=0))
        state["t"] += 1
        c1, c2 = 1.0 - 0.9 ** state["t"], (1.0 - 0.999 ** state["t"]) ** 0.5
        for w, g, m, v, buf, keep in zip(params, grads, state["m"], state["v"], state["buf"],
                                         state["keep"], strict=True):
            m *= 0.9
            g *= 0.1
            m += g
            np.multiply(g, g, out=buf)
            v *= 0.999
            buf *= 0.1  # (0.1 g)**2 * 0.1 == 0.001 g**2
            v += buf
            np.sqrt(v, out=buf)
            buf += 1e-8 * c2
            np.divide(m, buf, out=buf)
            buf *= lr * c2 / c1
            w -= buf
            if state["t"] % FLUSH_EVERY == 0:
                np.abs(m, out=buf)
                np.greater_equal(buf, TINY, out=keep)
                m *= keep
                np.greater_equal(v, TINY, out=keep)
                v *= keep


def lw_predict_all(net: Any, x: np.ndarray) -> None:
    for i in range(0, len(x), 1000):
        net.predict(x[i : i + 1000])


def matmul_floor(sizes: list[int], n: int) -> float:
    """Seconds for just the GEMMs of one epoch of an MLP with these layer sizes (forward,
    dW and dx, no dx for the first layer), in float32."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((a, b)).astype(np.float32) for a, b in zip(sizes, sizes[1:], strict=False)]
    acts = [rng.standard_normal((BATCH, s)).astype(np.float32) for s in sizes]

    def run() -> None:
        for _ in range(n // BATCH):
            for k, w in enumerate(ws):
                acts[k] @ w
            for k in reversed(range(len(ws))):
                acts[k].T @ acts[k + 1]
                if k:
                    acts[k + 1] @ ws[k].T

    return timed(run)


# -- JAX ----------------------------------------------------------------------------------------
def jax_setup(x: np.ndarray, t: np.ndarray, seed: int) -> Any:
    """TwoLayerNet 784-50-10 with SGD 0.1 in JAX: returns ``epoch(rng)``, which runs one epoch of
    jitted steps (the whole step, gather included, is one compiled function) and blocks until
    its parameters are ready. ``None`` when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    init = lw.TwoLayerNet(784, 50, 10, rng=seed).params
    params = {k: jnp.asarray(init[k]) for k in ("W1", "b1", "W2", "b2")}
    xs, ts = jnp.asarray(x), jnp.asarray(t.astype(np.int32))

    def loss(p: dict[str, Any], xb: Any, tb: Any) -> Any:
        h = jnp.maximum(xb @ p["W1"] + p["b1"], 0)
        s = h @ p["W2"] + p["b2"]
        logp = jax.nn.log_softmax(s)
        return -jnp.mean(jnp.take_along_axis(logp, tb[:, None], axis=1))

    @jax.jit
    def step(p: dict[str, Any], idx: Any) -> dict[str, Any]:
        g = jax.grad(loss)(p, xs[idx], ts[idx])
        return jax.tree_util.tree_map(lambda w, dw: w - 0.1 * dw, p, g)

    state = {"p": params}

    def epoch(rng: np.random.Generator) -> None:
        perm = rng.permutation(len(x)).astype(np.int32)
        p = state["p"]
        for i in range(0, len(x), BATCH):
            p = step(p, perm[i : i + BATCH])
        jax.block_until_ready(p)
        state["p"] = p

    return epoch


def jax_info() -> str:
    try:
        import jax
    except ImportError:
        return "JAX not installed"
    return f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.device_count()} device(s))"


# -- PyTorch ----------------------------------------------------------------------------------
def torch_setup(sizes: list[int], optimizer: str, seed: int) -> tuple[Any, Any, Any]:
    import torch

    torch.manual_seed(seed)
    layers: list[Any] = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(torch.nn.Linear(a, b))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
    return model, opt, torch.nn.CrossEntropyLoss()


def torch_epoch(model: Any, opt: Any, loss_fn: Any, x: Any, t: Any, gen: Any) -> None:
    import torch

    perm = torch.randperm(len(x), generator=gen)
    for i in range(0, len(x), BATCH):
        idx = perm[i : i + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), t[idx])
        loss.backward()
        opt.step()


def torch_predict_all(model: Any, x: Any) -> None:
    import torch

    with torch.inference_mode():
        for i in range(0, len(x), 1000):
            model(x[i : i + 1000])


# -- memory (child processes) ---------------------------------------------------------------
def memory_child(which: str, threads: int, iters: int) -> None:
    """One TwoLayerNet epoch in a fresh process; prints its peak memory above the baseline of
    imports + data + model (which both sides share)."""
    limit_threads(threads)
    _, (x, t, _, _) = mnist_shaped_data()
    x, t = x[: iters * BATCH], t[: iters * BATCH]
    if which == "layerwise":
        net = lw.TwoLayerNet(784, 50, 10, rng=0)
        trainer = lw_trainer(net, SGD(lr=0.1), x, t, 0)
        base = reset_peak_rss()
        trainer._steps(np.random.default_rng(0).permutation(len(x)), net.state_dict(), None)
    else:
        import torch

        model, opt, loss_fn = torch_setup([784, 50, 10], "sgd", 0)
        xt, tt = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
        base = reset_peak_rss()
        torch_epoch(model, opt, loss_fn, xt, tt, torch.Generator().manual_seed(0))
    report_peak_rss(base)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=600,
                    help="training iterations timed per case (600 = an epoch; times are scaled to 600)")
    ap.add_argument("--pause", type=float, default=0.3,
                    help="seconds of idle time before each timed case (lets thread pools settle)")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--memory-child", choices=["layerwise", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.threads, args.iters)
        return

    import torch

    # The speed engine on, explicitly: whatever `import layerwise` selects by default.
    layerwise.fast.enable()
    limit_threads(args.threads)
    data_name, (x, t, xt, tt) = mnist_shaped_data()
    x, t = x[: args.iters * BATCH], t[: args.iters * BATCH]
    n = len(x)
    x_t, t_t = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    xt_t = torch.from_numpy(xt)
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)

    two = lw.TwoLayerNet(784, 50, 10, rng=0)
    two_tr = lw_trainer(two, SGD(lr=0.1), x, t, 0)
    book = lw.TwoLayerNet(784, 50, 10, rng=0)
    flat = {k: v.copy() for k, v in lw.TwoLayerNet(784, 50, 10, rng=0).params.items()}
    mlp = MultiLayerNet(784, [100, 100], 10, activation="relu", weight_init_std="he", rng=0)
    flat_mlp = {k: v.copy() for k, v in mlp.params.items()}
    flat_adam: dict[str, Any] = {}
    mlp_tr = lw_trainer(mlp, Adam(lr=0.001), x, t, 0)
    t_two = torch_setup([784, 50, 10], "sgd", 0)
    t_mlp = torch_setup([784, 100, 100, 10], "adam", 0)

    jax_epoch = jax_setup(x, t, 0)
    jax_rng = np.random.default_rng(0)
    trainer_seconds: dict[str, list[float]] = {"two-layer/trainer": [], "mlp-adam": []}

    def run_two_trainer() -> None:
        trainer_seconds["two-layer/trainer"].append(lw_trainer_epoch(two_tr))

    def run_mlp_trainer() -> None:
        trainer_seconds["mlp-adam"].append(lw_trainer_epoch(mlp_tr))

    cases = {
        "two-layer/trainer": run_two_trainer,
        "two-layer/book-loop": lambda: lw_book_epoch(book, x, t, rng),
        "two-layer/torch": lambda: torch_epoch(*t_two, x_t, t_t, gen),
        "two-layer/numpy": lambda: numpy_minimal_epoch(flat, x, t, rng),
        **({"two-layer/jax": lambda: jax_epoch(jax_rng)} if jax_epoch is not None else {}),
        "mlp-adam": run_mlp_trainer,
        "mlp-adam/torch": lambda: torch_epoch(*t_mlp, x_t, t_t, gen),
        "mlp-adam/numpy": lambda: numpy_minimal_adam_epoch(flat_mlp, flat_adam, x, t, rng),
        "eval": lambda: lw_predict_all(mlp, xt),
        "eval/torch": lambda: torch_predict_all(t_mlp[0], xt_t),
    }
    times = interleave(cases, args.repeats, pause=args.pause)
    # The Trainer cases report their own training time (without the per-epoch evaluation).
    for name, secs in trainer_seconds.items():
        times[name] = secs[-args.repeats:]
    scale = 600 / (n / BATCH)  # training times per epoch of 600 iterations
    med = {k: median(v) * (1.0 if k.startswith("eval") else scale) for k, v in times.items()}
    floors = {"two-layer": matmul_floor([784, 50, 10], n) * scale,
              "mlp-adam": matmul_floor([784, 100, 100, 10], n) * scale}

    rows = [
        ("TwoLayerNet 784-50-10, SGD, epoch (layerwise train)", med["two-layer/trainer"],
         med["two-layer/torch"], "s", 0.5),
        ("TwoLayerNet 784-50-10, SGD, epoch (book-style loop)", med["two-layer/book-loop"],
         med["two-layer/torch"], "s", 0.5),
        ("TwoLayerNet as one flat NumPy loop (the floor)", med["two-layer/numpy"],
         med["two-layer/torch"], "s", 0.5),
        *([("TwoLayerNet in JAX, whole SGD step under jax.jit", med["two-layer/jax"],
            med["two-layer/torch"], "s", 0.5)] if "two-layer/jax" in med else []),
        ("MLP 784-100-100-10, Adam, epoch", med["mlp-adam"], med["mlp-adam/torch"], "s", 0.7),
        ("MLP, Adam, as one flat NumPy loop (the floor)", med["mlp-adam/numpy"], med["mlp-adam/torch"],
         "s", 0.7),
    ]
    env = environment(args.threads)
    print("layerwise speed engine: ON (layerwise.fast.enable() called by this benchmark)")
    print(f"{jax_info()}; XLA_FLAGS={os.environ.get('XLA_FLAGS', '(not set: XLA uses every core)')}")
    print(f"data: {data_name}; {n} training images ({n // BATCH} iterations timed, scaled to 600), batch {BATCH}, {args.repeats} interleaved repeats, "
          f"{args.pause} s pause before each timed case")
    print(f"numpy {env['numpy']}, torch {env['torch']}, threads {args.threads}; BLAS: "
          + "; ".join(f"{b['internal_api']} {b['version']} {b['architecture']} x{b['num_threads']}"
                      for b in env["blas"] if isinstance(b, dict)))
    print(f"BLAS-related environment: {env['env'] or 'none set'}; CPU: {env['processor']}; "
          f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    print(f"{'case':<54}{'layerwise':>11}{'PyTorch':>11}{'ratio':>8}  target")
    results: list[dict[str, Any]] = []
    for label, ours, theirs, unit, target in rows:
        ratio = ours / theirs
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"{label:<54}{ours:>10.3f}{unit}{theirs:>10.3f}{unit}{ratio:>8.2f}  <= {target} {verdict}")
        results.append({"case": label, "layerwise_s": ours, "torch_s": theirs, "ratio": ratio, "target": target})
    n_test = len(xt)
    ips, tips = n_test / med["eval"], n_test / med["eval/torch"]
    print(f"{'Evaluation, 784-100-100-10, 10000 test images':<54}{ips:>9.0f}/s{tips:>9.0f}/s"
          f"{ips / tips:>8.2f}  >= 1.0 {'ok' if ips >= tips else 'MISSED'}")
    results.append({"case": "eval images/s", "layerwise": ips, "torch": tips, "ratio": ips / tips, "target": 1.0})
    if "two-layer/jax" in med:
        print(f"{'TwoLayerNet: layerwise book-style loop / JAX jit':<54}{med['two-layer/book-loop']:>10.3f}s"
              f"{med['two-layer/jax']:>10.3f}s{med['two-layer/book-loop'] / med['two-layer/jax']:>8.2f}  "
              "(second column: JAX)")
    print()
    for name, key in (("two-layer", "two-layer/trainer"), ("mlp-adam", "mlp-adam")):
        print(f"{name}: matrix products alone {floors[name]:.3f} s/epoch; outside them "
              f"{med[key] - floors[name]:.3f} s/epoch ({100 * (1 - floors[name] / med[key]):.0f}% of the epoch)")
    mem = {w: peak_rss_mib_of([__file__, "--memory-child", w, "--threads", str(args.threads),
                               "--iters", str(args.iters)])
           for w in ("layerwise", "torch")}
    print("peak memory of one TwoLayerNet training epoch, above imports + data + model: "
          f"layerwise +{mem['layerwise']['extra_mib']:.1f} MiB (process {mem['layerwise']['peak_rss_mib']:.0f} MiB), "
          f"PyTorch +{mem['torch']['extra_mib']:.1f} MiB (process {mem['torch']['peak_rss_mib']:.0f} MiB)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"environment": env, "data": data_name, "results": results, "medians_s": med,
             "matmul_floor_s": floors, "peak_rss_mib": mem, "times_s": times}, indent=2))


if __name__ == "__main__":
    main()
