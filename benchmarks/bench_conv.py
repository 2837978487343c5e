"""SimpleConvNet and DeepConvNet training speed: layerwise against PyTorch CPU, in one process.

    python benchmarks/bench_conv.py [--repeats 3] [--threads 2] [--iters 600] [--deep-iters 100]
                                    [--nets simple,deep] [--layers-only] [--json out.json]

The fast engine (:mod:`layerwise.fast`) is turned on explicitly at the start
(``layerwise.fast.enable()``), whatever the library's default, and the output says so; the
reference rows turn it off inside ``layerwise.fast.disabled()``.

The book's SimpleConvNet (conv 30x5x5 - relu - pool 2x2 - affine 100 - relu - affine 10),
float32, batch 100, Adam (lr 0.001) as the book's train_convnet.py, on MNIST-shaped images
(Fashion-MNIST when installed). Cases, interleaved over rounds with a pause before each:

* ``layerwise train``: :class:`layerwise.training.trainer.Trainer` (training time of the epoch),
  which runs the engine: kernels, threads, and ReLU1 and Pool1 fused into one visible
  ``Relu1+Pool1`` layer for its run;
* book-style loop with the engine: ``optimizer.update(net.params, grads)`` with ``grads`` from
  the engine's step (``layerwise.fast.training.loss_and_gradient``) on ``SimpleConvNet(fused=True)``:
  a hand-written loop that asks for the speed, as the README shows;
* reference: ``net.gradient`` on the book's layer list with the engine off
  (``layerwise.fast.disabled()``): the code a reader reads, what the book's API runs by
  default, timed so its cost is known;
* the same network and optimizer in PyTorch.

The book's DeepConvNet (§8.1: six 3x3 convolutions with 16, 16, 32, 32, 64, 64 filters, pad 1
but pad 2 for the fourth, three 2x2 poolings, affine 50, Dropout 0.5 twice), float32, batch
100, Adam, as the engine runs it (``DeepConvNet(fused=True)``: ReLU and pooling fused), against
its PyTorch twin:

* one training step (``net.gradient`` + ``Adam.update``; PyTorch's zero_grad, forward,
  backward, step), the median over interleaved rounds of ``--deep-iters`` steps each;
* an epoch: those steps scaled to 600 iterations, through the Trainer and the book-style loop;
* the step's arithmetic (FLOPs of every convolution's and affine layer's products, forward
  and backward; the first convolution computes no ``dx``) divided by the step time, in
  GFLOP/s and as a share of the machine's float32 peak (``--peak-gflops``; by default that of
  the standard machine: 2 cores x 2.45 GHz x 32 FLOP per cycle, two 8-wide AVX2 FMA units per
  core, an AMD EPYC; 157 GFLOP/s).

Then, for each network, each layer's forward and backward time on one batch, and one Adam
update, for both libraries side by side (PyTorch's backward through ``torch.autograd.grad`` of
that layer alone), which shows where the difference in step time comes from.
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
from common import environment, interleave, limit_threads, median, mnist_shaped_data, timed  # noqa: E402

import layerwise as lw  # noqa: E402
import layerwise.fast  # noqa: E402
from layerwise import fast as lw_fast  # noqa: E402
from layerwise.fast.training import loss_and_gradient  # noqa: E402
from layerwise.optimizers import Adam  # noqa: E402
from layerwise.training.history import EpochRecord  # noqa: E402
from layerwise.training.trainer import Trainer  # noqa: E402

BATCH = 100


def book_loop(net: Any, opt: Adam, x: np.ndarray, t: np.ndarray, iters: int,
              rng: np.random.Generator) -> None:
    """The book's loop; its gradient is the engine's step when the engine is on (a hand-written
    loop that asks for the speed), else the book's ``net.gradient``."""
    perm = rng.permutation(len(x))[: iters * BATCH]
    for i in range(0, len(perm), BATCH):
        idx = perm[i : i + BATCH]
        opt.update(net.params, loss_and_gradient(net, x[idx], t[idx])[1])


def torch_simple() -> list[tuple[str, Any]]:
    """SimpleConvNet's PyTorch twin as named modules, in layerwise's book order."""
    import torch

    nn = torch.nn
    return [("Conv1", nn.Conv2d(1, 30, 5)), ("Relu1", nn.ReLU()), ("Pool1", nn.MaxPool2d(2)),
            ("Affine1", nn.Sequential(nn.Flatten(), nn.Linear(30 * 12 * 12, 100))), ("Relu2", nn.ReLU()),
            ("Affine2", nn.Linear(100, 10))]


def torch_deep() -> list[tuple[str, Any]]:
    """DeepConvNet's PyTorch twin (book §8.1) as named modules, in layerwise's book order."""
    import torch

    nn = torch.nn
    mods: list[tuple[str, Any]] = []
    chans = [1, 16, 16, 32, 32, 64, 64]
    for k in range(1, 7):
        mods += [(f"Conv{k}", nn.Conv2d(chans[k - 1], chans[k], 3, padding=2 if k == 4 else 1)),
                 (f"Relu{k}", nn.ReLU())]
        if k % 2 == 0:
            mods.append((f"Pool{k // 2}", nn.MaxPool2d(2)))
    mods += [("Affine1", nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 50))), ("Relu7", nn.ReLU()),
             ("Dropout1", nn.Dropout(0.5)), ("Affine2", nn.Linear(50, 10)), ("Dropout2", nn.Dropout(0.5))]
    return mods


def torch_setup(seed: int, deep: bool = False) -> tuple[Any, Any]:
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(*(m for _, m in (torch_deep() if deep else torch_simple())))
    return model, torch.optim.Adam(model.parameters(), lr=0.001)


def torch_loop(model: Any, opt: Any, x: Any, t: Any, iters: int, gen: Any) -> None:
    import torch

    loss_fn = torch.nn.functional.cross_entropy
    perm = torch.randperm(len(x), generator=gen)[: iters * BATCH]
    for i in range(0, len(perm), BATCH):
        idx = perm[i : i + BATCH]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), t[idx]).backward()
        opt.step()


def per_layer(net: Any, x: np.ndarray, t: np.ndarray, repeats: int = 20) -> list[tuple[str, float, float]]:
    """Median forward and backward milliseconds of each layer on one batch, of the network as
    built by default ("Relu1+Pool1" is one layer)."""
    layers = net.execution_order()
    inputs = [x]
    for _, layer in layers:
        inputs.append(layer.forward(inputs[-1]))
    net.last_layer.forward(inputs[-1], t)
    douts = [net.last_layer.backward(1.0)]
    for _, layer in reversed(layers[1:]):
        douts.append(layer.backward(douts[-1]))
    douts.reverse()  # douts[k] is the gradient arriving at layer k's output
    rows = []
    for k, (name, layer) in enumerate(layers):
        dout = douts[k]
        fwd = median([timed(lambda layer=layer, k=k: layer.forward(inputs[k])) for _ in range(repeats)])
        back = layer.backward_params if k == 0 else layer.backward
        layer.forward(inputs[k])
        bwd = median([timed(lambda back=back, d=dout: back(d)) for _ in range(repeats)])
        rows.append((name, 1e3 * fwd, 1e3 * bwd))
    return rows


def torch_per_layer(mods: list[tuple[str, Any]], x: np.ndarray, t: np.ndarray,
                    repeats: int = 20) -> list[tuple[str, float, float]]:
    """The same as :func:`per_layer` for a PyTorch twin given as named modules (in train mode;
    Flatten is counted with Affine1), and one Adam step of all its parameters."""
    import torch

    model = torch.nn.Sequential(*(m for _, m in mods))
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    inputs = [torch.from_numpy(x)]
    with torch.no_grad():
        for _, m in mods:
            inputs.append(m(inputs[-1]))
    rows = []
    for k, (name, m) in enumerate(mods):
        inp = inputs[k].clone().requires_grad_(k > 0)  # the first layer needs no dx, as in layerwise
        fwd = median([timed(lambda m=m, inp=inp: m(inp)) for _ in range(repeats)])
        y = m(inp)
        wrt = ([inp] if k > 0 else []) + list(m.parameters())
        d = torch.ones_like(y)
        bwd = median([timed(lambda y=y, wrt=wrt, d=d: torch.autograd.grad(y, wrt, d, retain_graph=True))
                      for _ in range(repeats)])
        rows.append((name, 1e3 * fwd, 1e3 * bwd))
    torch.nn.functional.cross_entropy(model(inputs[0]), torch.from_numpy(t.astype(np.int64))).backward()
    step = median([timed(opt.step) for _ in range(repeats)])
    rows.append(("Adam step", 1e3 * step, 0.0))
    return rows


def adam_step_ms(net: Any, x: np.ndarray, t: np.ndarray, repeats: int = 20) -> float:
    """Median milliseconds of one layerwise Adam update of ``net``'s parameters."""
    opt = Adam(lr=0.001)
    grads = net.gradient(x, t)
    return 1e3 * median([timed(lambda: opt.update(net.params, grads)) for _ in range(repeats)])


def step_flops(net: Any, x: np.ndarray) -> dict[str, float]:
    """Multiply-add FLOPs (2 per multiply-add) of each convolution's and affine layer's matrix
    products in one training step on ``x``: forward, dW, and dx except for the first layer."""
    flops: dict[str, float] = {}
    h: Any = x
    for k, (name, layer) in enumerate(net.execution_order()):
        out = layer.forward(h)
        if isinstance(layer, lw.Convolution):
            fn, c, fh, fw = layer.W.shape
            one = 2.0 * out.size * c * fh * fw  # out.size = N * FN * OH * OW
            flops[name] = one * (2 if k == 0 else 3)
        elif isinstance(layer, lw.Affine):
            one = 2.0 * out.shape[0] * layer.W.size
            flops[name] = one * (2 if k == 0 else 3)
        h = out
    return flops


def print_layer_table(title: str, rows: list[tuple[str, float, float]],
                      t_rows: list[tuple[str, float, float]], flops: dict[str, float] | None = None) -> None:
    torch_ms = {name: (tf, tb) for name, tf, tb in t_rows}
    print(title)
    gf = "  GFLOP/s lw / PyTorch" if flops else ""
    print(f"{'layer':<12}{'layerwise fwd':>14}{'bwd':>8}{'PyTorch fwd':>14}{'bwd':>8}{'ratio':>8}{gf}")
    for name, f, b in rows:
        parts = name.split("+")  # a fused layer: PyTorch's rows of its parts together
        tf = sum(torch_ms[p][0] for p in parts)
        tb = sum(torch_ms[p][1] for p in parts)
        extra = ""
        if flops and name in flops:
            extra = f"  {flops[name] / (f + b) / 1e6:>7.1f} / {flops[name] / (tf + tb) / 1e6:.1f}"
        print(f"{name:<12}{f:>14.2f}{b:>8.2f}{tf:>14.2f}{tb:>8.2f}{(f + b) / max(tf + tb, 1e-9):>8.2f}{extra}")
    total, t_total = sum(r[1] + r[2] for r in rows), sum(r[1] + r[2] for r in t_rows)
    print(f"{'sum':<12}{total:>22.2f}{t_total:>22.2f}{total / t_total:>8.2f}")


def layers_report(deep: bool, x: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    net = lw.DeepConvNet(rng=0, fused=True) if deep else lw.SimpleConvNet(rng=0, fused=True)  # as the engine runs it
    rows = per_layer(net, x, t)
    rows.append(("Adam step", adam_step_ms(net, x, t), 0.0))
    import torch

    torch.manual_seed(0)
    t_rows = torch_per_layer(torch_deep() if deep else torch_simple(), x, t)
    flops = step_flops(net, x)
    name = "DeepConvNet" if deep else "SimpleConvNet"
    print_layer_table(
        f"{name}: milliseconds for one batch of {len(x)} (neither library computes dx for Conv1); each layer "
        f"is run directly on the whole batch,\nwhile a layerwise training step splits it over "
        f"{lw.get_num_threads()} thread(s) (a fused layer such as Relu2+Pool1 pools, then applies ReLU; "
        "PyTorch's row is its parts together)", rows, t_rows, flops if deep else None)
    return {"per_layer_ms": rows, "torch_per_layer_ms": t_rows, "step_flops": flops}


def epoch_cases(deep: bool, x: np.ndarray, t: np.ndarray, iters: int, reference: bool,
                step_secs: dict[str, list[float]]) -> dict[str, Any]:
    """The interleaved cases of one network: Trainer, book-style loop, (reference,) PyTorch."""
    import torch

    make = (lambda **kw: lw.DeepConvNet(rng=0, **kw)) if deep else (lambda **kw: lw.SimpleConvNet(rng=0, **kw))
    n_used = iters * BATCH
    x_t, t_t = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    trainer = Trainer(make(), Adam(lr=0.001), x[:n_used], t[:n_used], epochs=10**9, batch_size=BATCH,
                      rng=0, progress=False, log=None)
    trainer._evaluate = lambda loss, secs: EpochRecord(0, loss, 0.0, None, None, secs)  # type: ignore[method-assign]
    book_net, book_opt = make(fused=True), Adam(lr=0.001)
    ref_net, ref_opt = make(fused=False), Adam(lr=0.001)
    ref_rng = np.random.default_rng(0)
    model, opt = torch_setup(0, deep)
    prefix = "deep/" if deep else ""

    def run_reference() -> None:
        with lw_fast.disabled():
            book_loop(ref_net, ref_opt, x, t, iters, ref_rng)

    def run_trainer() -> None:
        step_secs.setdefault(prefix + "trainer", []).append(trainer.train_epoch().seconds)

    cases: dict[str, Any] = {
        prefix + "trainer": run_trainer,
        prefix + "book": lambda: book_loop(book_net, book_opt, x, t, iters, rng),
        prefix + "torch": lambda: torch_loop(model, opt, x_t, t_t, iters, gen),
    }
    if reference:
        cases[prefix + "reference"] = run_reference
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=600, help="SimpleConvNet iterations timed per case (600 = an epoch)")
    ap.add_argument("--deep-iters", type=int, default=100,
                    help="DeepConvNet iterations timed per case (scaled to an epoch of 600)")
    ap.add_argument("--nets", default="simple,deep", help="which networks: simple, deep or both")
    ap.add_argument("--deep-reference", action="store_true",
                    help="also time DeepConvNet's reference path (fast off), about 3x slower")
    ap.add_argument("--layers-only", action="store_true", help="only the per-layer tables (quick)")
    ap.add_argument("--layer-batch", type=int, default=BATCH,
                    help="batch of the per-layer tables (50 with --layer-threads 1: one thread's share of a step)")
    ap.add_argument("--layer-threads", type=int, help="threads of the per-layer tables (default: --threads)")
    ap.add_argument("--peak-gflops", type=float, default=2 * 2.45 * 32,
                    help="the machine's float32 peak, for the share printed beside GFLOP/s")
    ap.add_argument("--pause", type=float, default=0.3)
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args()
    nets = {n.strip() for n in args.nets.split(",")}

    # The speed engine on, explicitly: whatever `import layerwise` selects by default.
    layerwise.fast.enable()
    limit_threads(args.threads)
    data_name, (x, t, _, _) = mnist_shaped_data()
    x = x.reshape(-1, 1, 28, 28)
    env = environment(args.threads)
    print("layerwise speed engine: ON (layerwise.fast.enable() called by this benchmark; the reference "
          "rows run inside layerwise.fast.disabled())")
    print(f"data: {data_name}; batch {BATCH}; SimpleConvNet {args.iters} and DeepConvNet {args.deep_iters} "
          f"iterations timed per case (scaled to an epoch of 600), {args.repeats} interleaved repeats, "
          f"{args.pause} s pause")
    print(f"numpy {env['numpy']}, torch {env['torch']}, threads {args.threads}; BLAS: "
          + "; ".join(f"{b['internal_api']} {b['version']} {b['architecture']} x{b['num_threads']}"
                      for b in env["blas"] if isinstance(b, dict)))
    print(f"BLAS-related environment: {env['env'] or 'none set'}; CPU: {env['processor']}; "
          f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    result: dict[str, Any] = {"environment": env, "data": data_name}

    if not args.layers_only:
        step_secs: dict[str, list[float]] = {}
        cases: dict[str, Any] = {}
        if "simple" in nets:
            cases.update(epoch_cases(False, x, t, args.iters, True, step_secs))
        if "deep" in nets:
            cases.update(epoch_cases(True, x, t, args.deep_iters, args.deep_reference, step_secs))
        times = interleave(cases, args.repeats, pause=args.pause)
        for key, secs in step_secs.items():
            times[key] = secs[-args.repeats:]
        med = {k: median(v) for k, v in times.items()}
        result.update({"times_s": times, "median_s": med})
        print(f"load average after the epochs: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        if "simple" in nets:
            scale = 600 / args.iters
            print(f"{'SimpleConvNet epoch, Adam':<44}{'layerwise':>11}{'PyTorch':>11}{'ratio':>8}  target")
            for label, key in (("through layerwise train (Trainer)", "trainer"), ("book-style loop", "book"),
                               ("reference path (fast off, book order)", "reference")):
                ratio = med[key] / med["torch"]
                target = "(none: the code a reader reads)" if key == "reference" else \
                    f"<= 0.70 {'ok' if ratio <= 0.70 else 'MISSED'}"
                print(f"{label:<44}{med[key] * scale:>10.2f}s{med['torch'] * scale:>10.2f}s{ratio:>8.2f}  {target}")
            print()
        if "deep" in nets:
            scale = 600 / args.deep_iters
            tstep = med["deep/torch"] / args.deep_iters
            print(f"{'DeepConvNet, Adam':<44}{'layerwise':>11}{'PyTorch':>11}{'ratio':>8}  target")
            rows = [("step, book-style loop", "deep/book", 1e3 / args.deep_iters, "ms"),
                    ("epoch, through layerwise train (Trainer)", "deep/trainer", scale, "s"),
                    ("epoch, book-style loop", "deep/book", scale, "s")]
            if args.deep_reference:
                rows.append(("epoch, reference path (fast off, book order)", "deep/reference", scale, "s"))
            for label, key, k, unit in rows:
                ratio = med[key] / med["deep/torch"]
                target = "(none)" if key == "deep/reference" else f"<= 1.0 {'ok' if ratio <= 1.0 else 'MISSED'}"
                print(f"{label:<44}{med[key] * k:>10.2f}{unit:<1}{med['deep/torch'] * k:>10.2f}{unit:<1}"
                      f"{ratio:>8.2f}  {target}")
            flops = sum(step_flops(lw.DeepConvNet(rng=0, fused=True), x[:BATCH]).values())
            lstep = med["deep/book"] / args.deep_iters
            print(f"a step's products: {flops / 1e9:.2f} GFLOP; layerwise {flops / lstep / 1e9:.1f} GFLOP/s "
                  f"({100 * flops / lstep / 1e9 / args.peak_gflops:.0f}% of a {args.peak_gflops:.0f} GFLOP/s peak), "
                  f"PyTorch {flops / tstep / 1e9:.1f} GFLOP/s ({100 * flops / tstep / 1e9 / args.peak_gflops:.0f}%)")
            result["deep_step_gflop"] = flops / 1e9
            print()

    if args.layer_threads:
        limit_threads(args.layer_threads)
    print(f"per-layer tables: batch {args.layer_batch}, {args.layer_threads or args.threads} thread(s) "
          "for both libraries")
    for name in ("simple", "deep"):
        if name in nets:
            result[name + "_layers"] = layers_report(name == "deep", x[:args.layer_batch], t[:args.layer_batch])
            print()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
