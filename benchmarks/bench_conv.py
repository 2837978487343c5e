"""SimpleConvNet training speed: layerwise against PyTorch CPU, in one process.

    python benchmarks/bench_conv.py [--repeats 3] [--threads 2] [--iters 600] [--json out.json]

The book's SimpleConvNet (conv 30x5x5 - relu - pool 2x2 - affine 100 - relu - affine 10),
float32, batch 100, Adam (lr 0.001) as the book's train_convnet.py, on MNIST-shaped images
(Fashion-MNIST when installed). Cases, interleaved over rounds with a pause before each:

* ``layerwise train``: :class:`layerwise.training.trainer.Trainer` (training time of the epoch) on the
  network as built by default, ``SimpleConvNet()`` (ReLU1 and Pool1 as one visible
  ``ReluPool`` layer that pools first, ``Relu1+Pool1``);
* book-style loop: ``optimizer.update(net.params, net.gradient(x, t))``, on the same default
  network (the speed a reader of the book gets without asking for it);
* reference: the book-style loop on the book's layer order with the fast kernels off
  (``layerwise.fast.disabled()``): the code a reader reads, timed so its cost is known;
* the same network and optimizer in PyTorch.

Then each layer's forward and backward time on one batch, and one Adam update, for both
libraries side by side (PyTorch's backward through ``torch.autograd.grad`` of that layer alone),
which shows where the difference in epoch time comes from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, interleave, limit_threads, median, mnist_shaped_data, timed  # noqa: E402

import layerwise as lw  # noqa: E402
from layerwise import fast as lw_fast  # noqa: E402
from layerwise.optimizers import Adam  # noqa: E402
from layerwise.training.trainer import Trainer  # noqa: E402

BATCH = 100


def book_loop(net: lw.SimpleConvNet, opt: Adam, x: np.ndarray, t: np.ndarray, iters: int,
              rng: np.random.Generator) -> None:
    perm = rng.permutation(len(x))[: iters * BATCH]
    for i in range(0, len(perm), BATCH):
        idx = perm[i : i + BATCH]
        opt.update(net.params, net.gradient(x[idx], t[idx]))


def torch_setup(seed: int) -> tuple[Any, Any]:
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(30 * 12 * 12, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
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


def per_layer(x: np.ndarray, t: np.ndarray, repeats: int = 20) -> list[tuple[str, float, float]]:
    """Median forward and backward milliseconds of each layer on one batch, of the network as
    built by default ("Relu1+Pool1" is one layer)."""
    net = lw.SimpleConvNet(rng=0)
    layers = net.execution_order()
    inputs = [x]
    for _, layer in layers:
        inputs.append(layer.forward(inputs[-1]))
    net.last_layer.forward(inputs[-1], t)
    douts = [net.last_layer.backward(1.0)]
    for _, layer in reversed(layers[1:]):
        douts.append(layer.backward(douts[-1]))
    douts.reverse()  # douts[k] arrives at layer k + 1... shifted below
    rows = []
    for k, (name, layer) in enumerate(layers):
        dout = douts[k] if k < len(douts) else None
        fwd = median([timed(lambda layer=layer, k=k: layer.forward(inputs[k])) for _ in range(repeats)])
        back = layer.backward_params if k == 0 else layer.backward
        layer.forward(inputs[k])
        bwd = median([timed(lambda back=back, d=dout: back(d)) for _ in range(repeats)])
        rows.append((name, 1e3 * fwd, 1e3 * bwd))
    return rows


def torch_per_layer(x: np.ndarray, t: np.ndarray, repeats: int = 20) -> list[tuple[str, float, float]]:
    """The same as :func:`per_layer` for the PyTorch twin (Flatten counted with Affine1)."""
    import torch

    model, opt = torch_setup(0)
    mods = [model[0], model[1], model[2], torch.nn.Sequential(model[3], model[4]), model[5], model[6]]
    inputs = [torch.from_numpy(x)]
    with torch.no_grad():
        for m in mods:
            inputs.append(m(inputs[-1]))
    rows = []
    for k, (name, m) in enumerate(zip(("Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"), mods,
                                      strict=True)):
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


def adam_step_ms(x: np.ndarray, t: np.ndarray, repeats: int = 20) -> float:
    """Median milliseconds of one layerwise Adam update of SimpleConvNet's parameters."""
    net, opt = lw.SimpleConvNet(rng=0), Adam(lr=0.001)
    grads = net.gradient(x, t)
    return 1e3 * median([timed(lambda: opt.update(net.params, grads)) for _ in range(repeats)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=600, help="iterations timed per case (600 = an epoch)")
    ap.add_argument("--pause", type=float, default=0.3)
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args()

    import torch

    limit_threads(args.threads)
    data_name, (x, t, _, _) = mnist_shaped_data()
    x = x.reshape(-1, 1, 28, 28)
    n_used = args.iters * BATCH
    x_t, t_t = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)

    tr_net = lw.SimpleConvNet(rng=0)
    trainer = Trainer(tr_net, Adam(lr=0.001), x[:n_used], t[:n_used], epochs=10**9, batch_size=BATCH,
                      rng=0, progress=False, log=None)
    trainer._evaluate = lambda loss, secs: lw.trainer.EpochRecord(0, loss, 0.0, None, None, secs)  # type: ignore[method-assign]
    book_net, book_opt = lw.SimpleConvNet(rng=0), Adam(lr=0.001)
    ref_net, ref_opt = lw.SimpleConvNet(rng=0, fused=False), Adam(lr=0.001)
    ref_rng = np.random.default_rng(0)

    def reference() -> None:
        with lw_fast.disabled():
            book_loop(ref_net, ref_opt, x, t, args.iters, ref_rng)

    model, opt = torch_setup(0)
    trainer_secs: list[float] = []
    cases = {
        "trainer": lambda: trainer_secs.append(trainer.train_epoch().seconds),
        "book": lambda: book_loop(book_net, book_opt, x, t, args.iters, rng),
        "reference": reference,
        "torch": lambda: torch_loop(model, opt, x_t, t_t, args.iters, gen),
    }
    times = interleave(cases, args.repeats, pause=args.pause)
    times["trainer"] = trainer_secs[-args.repeats:]
    scale = 600 / args.iters  # report per epoch of 600 iterations
    med = {k: median(v) * scale for k, v in times.items()}
    env = environment(args.threads)
    print(f"data: {data_name}; batch {BATCH}, {args.iters} iterations timed per case (scaled to an "
          f"epoch of 600), {args.repeats} interleaved repeats, {args.pause} s pause")
    print(f"numpy {env['numpy']}, torch {env['torch']}, threads {args.threads}; BLAS: "
          + "; ".join(f"{b['internal_api']} {b['version']} {b['architecture']} x{b['num_threads']}"
                      for b in env["blas"] if isinstance(b, dict)))
    print(f"BLAS-related environment: {env['env'] or 'none set'}; CPU: {env['processor']}")
    print()
    print(f"{'SimpleConvNet epoch, Adam':<44}{'layerwise':>11}{'PyTorch':>11}{'ratio':>8}  target")
    for label, key in (("through layerwise train (Trainer)", "trainer"), ("book-style loop", "book"),
                       ("reference path (fast off, book order)", "reference")):
        ratio = med[key] / med["torch"]
        target = "(none: the code a reader reads)" if key == "reference" else \
            f"<= 1.0 {'ok' if ratio <= 1.0 else 'MISSED'}"
        print(f"{label:<44}{med[key]:>10.2f}s{med['torch']:>10.2f}s{ratio:>8.2f}  {target}")
    print()
    rows = per_layer(x[:BATCH], t[:BATCH])
    rows.append(("Adam step", adam_step_ms(x[:BATCH], t[:BATCH]), 0.0))
    t_rows = torch_per_layer(x[:BATCH], t[:BATCH])
    print("milliseconds for one batch of 100 (neither library computes dx for Conv1); each layer is run")
    print(f"directly on the whole batch, while a layerwise training step splits it over "
          f"{lw.get_num_threads()} thread(s)")
    print("(Relu1+Pool1 is the fused layer SimpleConvNet is built with: it pools, then applies ReLU to the pooled "
          "values; PyTorch's row is its Relu1 and Pool1 together)")
    print(f"{'layer':<10}{'layerwise fwd':>14}{'bwd':>8}{'PyTorch fwd':>14}{'bwd':>8}")
    torch_ms = {name: (tf, tb) for name, tf, tb in t_rows}
    torch_ms["Relu1+Pool1"] = (torch_ms["Relu1"][0] + torch_ms["Pool1"][0],
                               torch_ms["Relu1"][1] + torch_ms["Pool1"][1])
    for name, f, b in rows:
        tf, tb = torch_ms[name]
        print(f"{name:<10}{f:>14.2f}{b:>8.2f}{tf:>14.2f}{tb:>8.2f}")
    print(f"{'sum':<10}{sum(r[1] + r[2] for r in rows):>22.2f}{sum(r[1] + r[2] for r in t_rows):>22.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "data": data_name, "epoch_s": med,
                                               "times_s": times, "per_layer_ms": rows,
                                               "torch_per_layer_ms": t_rows}, indent=2))


if __name__ == "__main__":
    main()
