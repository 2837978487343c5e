"""Run by ``tests/test_distributed.py`` under ``mpirun``: one rank of a distributed run.

``python tests/_mpi_run.py api OUT N_TRAIN BATCH EPOCHS MODEL[,MODEL...]`` trains each model
with :class:`layerwise.fast.distributed.DistributedTrainer` on the bundled ``mnist-sample`` data
(see :func:`make` for the models, shared with the test) and writes ``OUT/MODEL.rankR.npz``:
the final weights and buffers, the history and the allreduce counters of this rank. The
model ``book-loop`` is the book's loop on ``shard`` and ``allreduce_mean`` instead (10 steps).

``python tests/_mpi_run.py cli [OUT] -- ARGS...`` runs ``layerwise ARGS...`` and, when OUT
is given (not ``-``), writes each rank's final weights to ``OUT/cli.rankR.npz``.

Faults, for the fault tests, from the environment: ``LW_FAULT=kind:rank:step`` with kind
``kill`` (the rank SIGKILLs itself before that training step), ``raise`` (it raises
RuntimeError there), ``nan`` (its loss layer raises NonFiniteError in that step's forward
pass, after the BatchNorm layers' allreduces and before their backward ones), ``version``
(it claims another layerwise version; step unused) or ``data`` (it changes one training
label; api only).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

import layerwise
import layerwise.version
from layerwise.datasets import load_mnist
from layerwise.errors import LayerwiseError
from layerwise.fast import distributed
from layerwise.networks import MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from layerwise.optimizers import SGD, Adam

MODELS = ("two-layer", "mlp-bn-dropout", "mlp-dropout", "simple-cnn", "book-loop")


def make(model: str, seed: int = 5) -> tuple[Any, Any, np.random.Generator]:
    """``(network, optimizer, generator)`` for a test model; the generator is the network's
    Dropout generator and the trainer's (as in ``layerwise train``)."""
    gen = np.random.default_rng(seed)
    if model == "two-layer":
        return TwoLayerNet(784, 30, 10, rng=gen), SGD(0.1), gen
    if model in ("mlp-bn-dropout", "mlp-dropout"):
        net = MultiLayerNetExtend(784, [32, 16], 10, use_dropout=True, dropout_ration=0.2,
                                  use_batchnorm=model == "mlp-bn-dropout", weight_decay_lambda=1e-3, rng=gen)
        # Not Adam here: BatchNorm makes the gradient of the bias before it zero but for
        # rounding, and Adam would scale that noise up to full steps of its learning rate.
        return net, SGD(0.1) if model == "mlp-bn-dropout" else Adam(0.01), gen
    if model == "simple-cnn":
        conv = {"filter_num": 6, "filter_size": 5, "pad": 0, "stride": 1}
        return SimpleConvNet((1, 28, 28), conv, hidden_size=20, rng=gen), Adam(0.005), gen
    raise ValueError(model)


def data(model: str, n_train: int) -> tuple[np.ndarray, ...]:
    (x, t), (xt, tt) = load_mnist("mnist-sample", flatten=model != "simple-cnn", download=False,
                                  progress=False)
    return x[:n_train], t[:n_train], xt[:300], tt[:300]


def faults() -> tuple[str, int, int] | None:
    spec = os.environ.get("LW_FAULT")
    if not spec:
        return None
    kind, rank, step = spec.split(":")
    return kind, int(rank), int(step)


def install_faults(world: distributed.World) -> None:
    fault = faults()
    if fault is None or fault[1] != world.rank:
        return
    kind, _, at = fault
    if kind == "version":
        layerwise.version.__version__ = "0.0.0+other"  # where every part of layerwise reads it
    if kind in ("kill", "raise"):
        step = distributed.World.train_step
        count = [0]

        def faulty(self: distributed.World, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] == at:
                if kind == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError(f"injected fault at step {at}")
            return step(self, *args, **kwargs)

        distributed.World.train_step = faulty  # type: ignore[method-assign]
    if kind == "nan":
        from layerwise.errors import NonFiniteError
        from layerwise.layers.loss import SoftmaxWithLoss

        forward = SoftmaxWithLoss.forward
        calls = [0]

        def overflowing(self: SoftmaxWithLoss, x: Any, t: Any) -> float:
            calls[0] += 1
            if calls[0] == at:
                raise NonFiniteError(f"injected overflow at step {at}")
            return forward(self, x, t)

        SoftmaxWithLoss.forward = overflowing  # type: ignore[method-assign]


def dump(path: Path, trainer: distributed.DistributedTrainer) -> None:
    world = trainer.world
    hist = np.array([[r.train_loss, r.train_acc, r.test_loss or 0.0, r.test_acc or 0.0]
                     for r in trainer.history])
    np.savez(path, history=hist, allreduce_bytes=world.allreduce_bytes,
             allreduce_calls=world.allreduce_calls,
             **{f"state/{k}": v for k, v in trainer.network.state_dict().items()})


def book_loop(x: np.ndarray, t: np.ndarray, batch: int, steps: int, dist: Any = None) -> Any:
    """Chapter 5's ``train_neuralnet.py`` for ``steps`` steps: one process when ``dist`` is
    None, else the book-style distributed loop on :mod:`layerwise.fast.distributed`'s functions."""
    net, opt, gen = make("two-layer")
    if dist is not None:
        dist.broadcast_parameters(net)
    for _ in range(steps):
        idx = gen.choice(len(x), batch)
        if dist is None:
            grads = net.gradient(x[idx], t[idx])
        else:
            x_shard, t_shard = dist.shard(x[idx], t[idx])
            grads = dist.allreduce_mean(net.gradient(x_shard, t_shard), weight=len(x_shard))
        opt.update(net.params, grads)
    return net


def api(out: Path, n_train: int, batch: int, epochs: int, models: list[str]) -> None:
    world = distributed.init()
    install_faults(world)
    for model in models:
        if model == "book-loop":
            x, t, _, _ = data("two-layer", n_train)
            net = book_loop(x, t, batch, 10, distributed)
            np.savez(out / f"{model}.rank{world.rank}.npz",
                     **{f"state/{k}": v for k, v in net.state_dict().items()})
            continue
        net, opt, gen = make(model)
        x, t, xt, tt = data(model, n_train)
        fault = faults()
        if fault is not None and fault[0] == "data" and fault[1] == world.rank:
            t = t.copy()
            t[0] = (t[0] + 1) % 10
        trainer = distributed.DistributedTrainer(net, opt, x, t, xt, tt, epochs=epochs, batch_size=batch,
                                                 rng=gen, progress=False, log=None, world=world)
        try:
            with world.abort_on_error():
                trainer.fit()
        except LayerwiseError as exc:  # agreed by every rank: rank 0 says it (one copy, not interleaved)
            if world.is_root:
                print(f"layerwise: error: {exc}", file=sys.stderr)
            sys.exit(1)
        dump(out / f"{model}.rank{world.rank}.npz", trainer)
        world.allreduce_calls = world.allreduce_bytes = 0


def cli(out: str, argv: list[str]) -> int:
    from layerwise.cli import main

    if distributed.launched():
        install_faults(distributed.init())
    if out != "-":
        fit = distributed.DistributedTrainer.fit

        def fit_and_dump(self: distributed.DistributedTrainer) -> Any:
            result = fit(self)
            dump(Path(out) / f"cli.rank{self.world.rank}.npz", self)
            return result

        distributed.DistributedTrainer.fit = fit_and_dump  # type: ignore[method-assign]
    return main(argv)


if __name__ == "__main__":
    if sys.argv[1] == "api":
        api(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6].split(","))
    else:
        sep = sys.argv.index("--")
        sys.exit(cli(sys.argv[2] if sep > 2 else "-", sys.argv[sep + 1:]))
