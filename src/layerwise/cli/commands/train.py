"""``layerwise train``: train a network on an MNIST-format data set from the command line.

A run is checked whole before it starts (:func:`prepare`): every flag's value, the flags
against each other and against a ``--resume`` checkpoint, every output path (its folder
exists, it is not a folder, no two outputs share a path), the thread count, and the data.
Only then does training begin, so a typo costs seconds, not a run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from layerwise.cli.commands.common import (
    PLOT_SOFTWARE,
    add_data_arguments,
    fail,
)
from layerwise.cli.commands.models import (
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    MODELS,
    OPTIMIZERS,
    build_network,
    build_optimizer,
)
from layerwise.cli.commands.train_plan import (
    BOOK_ITERATIONS,
    OUTPUTS,
    RUN_SETTINGS,
    RunPlan,
    flag_of,
    prepare,
)
from layerwise.datasets.mnist import IMAGE_SHAPE
from layerwise.errors import DataError, TrainingDiverged
from layerwise.fast import distributed, parallel, switch, training
from layerwise.files.fileio import atomic_write_text
from layerwise.files.model_files import save_model
from layerwise.layers.fused import fuse_relu_pool
from layerwise.training.augment import parse_augment
from layerwise.training.schedules import parse_schedule
from layerwise.training.trainer import EpochRecord, Trainer
from layerwise.version import __version__

__all__ = ["add_parser", "run", "prepare", "RunPlan", "BOOK_ITERATIONS", "RUN_SETTINGS", "OUTPUTS",
           "write_history", "plot_history"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train a network (the book's TwoLayerNet by default)",
        description="Train a network on an MNIST-format data set. Defaults are the book's "
                    "TwoLayerNet: hidden 50, SGD lr 0.1, batch 100, weight_init_std 0.01. "
                    "Every flag and output path is checked before training starts.",
        epilog="Exit codes: 0 done, 1 the work failed (data, files, divergence), 2 usage error, "
               "130 interrupted (Ctrl-C; the message says how to resume), 143 terminated.")
    add_data_arguments(p)
    p.add_argument("--model", choices=MODELS, default=None,
                   help="two-layer: the book's TwoLayerNet (default); mlp: MultiLayerNetExtend "
                        "(ReLU, He init, optional BatchNorm/Dropout/weight decay); simple-cnn: "
                        "SimpleConvNet (ch. 7); deep-cnn: DeepConvNet (ch. 8)")
    p.add_argument("--hidden", default=None, metavar="N[,N...]",
                   help="hidden sizes (default 50 for two-layer, 100,100,100,100 for mlp, "
                        "100 for simple-cnn, 50 for deep-cnn)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                   help="default: sgd, or adam for the conv nets (as the book)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 0.1 for sgd, 0.01 momentum/nesterov/adagrad, "
                        "0.001 rmsprop/adam)")
    p.add_argument("--init", default=None, metavar="std|xavier|he|FLOAT",
                   help="weight initialisation: a number is the standard deviation of the "
                        "weights (the book's weight_init_std; default 0.01 for two-layer); "
                        "xavier: std sqrt(1/n_in) (for sigmoid); he: std sqrt(2/n_in) (for ReLU, "
                        "the default for mlp); std: the book's fixed 0.01")
    p.add_argument("--weight-init-std", dest="init", help=argparse.SUPPRESS)
    p.add_argument("--batchnorm", action="store_const", const=True, default=None,
                   help="BatchNormalization in each hidden block (mlp)")
    p.add_argument("--dropout", type=float, default=None, metavar="RATIO",
                   help="inverted Dropout with this ratio after each hidden activation (mlp)")
    p.add_argument("--weight-decay", type=float, default=None, metavar="LAMBDA",
                   help="L2 weight decay (the book's weight_decay_lambda; mlp)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default: as many as the book's 10,000 iterations take, "
                        "17 on full MNIST; 20 for the conv nets); with --resume, the new total")
    p.add_argument("--lr-schedule", default=None, metavar="constant|cosine|step:EVERY:GAMMA",
                   help="learning rate per epoch: constant (default), cosine annealing to 0 over "
                        "the run, or multiplied by GAMMA every EVERY epochs")
    p.add_argument("--eval-train-samples", type=int, default=None, metavar="N",
                   help="per-epoch training accuracy on the first N training images only "
                        "(default: all; the test set is always evaluated in full)")
    p.add_argument("--augment", default=None, metavar="shift:PIXELS,flip",
                   help="random transforms of every training batch: shift:N moves each image by "
                        "up to N pixels each way, flip mirrors half of them left to right (right "
                        "for clothes, wrong for digits); comma-separated, e.g. shift:2,flip")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="images per training step (default 100, the book's); at most the "
                        "number of training images")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every random draw: weights, shuffling, dropout, augmentation "
                        "(default 0)")
    p.add_argument("--save", metavar="PATH", help="save the trained model (safetensors)")
    p.add_argument("--plot", metavar="PATH.png",
                   help="write loss and accuracy curves as a PNG (needs matplotlib, of the plot "
                        "extra: pip install '.[plot]' in layerwise's folder, or pip install matplotlib)")
    p.add_argument("--history", metavar="PATH", help="write per-epoch metrics (.json or .csv)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="write a resumable checkpoint after every epoch (atomically); an existing "
                        "checkpoint is continued only with --resume, never overwritten by a new run")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="carry on from a checkpoint: its settings and outputs (--save, --plot, "
                        "--history) are restored; flags given again must agree with it, except "
                        "--epochs (a larger total extends the run) and the outputs")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for data-parallel steps of large networks (default: "
                        "$LAYERWISE_NUM_THREADS, else every CPU this process may use; 1: none)")
    p.add_argument("--no-fast", dest="fast", action="store_false",
                   help="run the book's code (layers/, one thread, the book's layer list) instead of "
                        "the speed engine (layerwise.fast: kernels, threads, ReLU/pooling fusion), "
                        "which is on by default here and gives the same numbers up to float rounding")
    p.add_argument("--distributed", action="store_true",
                   help="train data-parallel across the processes of an MPI job, each on a shard "
                        "of every batch (the default when started by mpirun with more than one "
                        "process; needs pip install 'layerwise[mpi]')")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=run)


def write_history(path: str | Path, history: list[EpochRecord]) -> None:
    """Per-epoch metrics as JSON (a list of objects) or CSV (a header row), atomically."""
    rows = [asdict(r) for r in history]
    if Path(path).suffix.lower() == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(EpochRecord.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, buf.getvalue())
    else:
        atomic_write_text(path, json.dumps(rows, indent=2) + "\n")


def plot_history(path: str | Path, history: list[EpochRecord], title: str) -> None:
    """Loss and accuracy curves side by side, as a PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from layerwise.files.fileio import atomic_path

    epochs = [r.epoch for r in history]
    marks = ("o", "s") if len(history) <= 30 else (None, None)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, what, train_label in ((axes[0], "loss", "train (mean batch loss)"),
                                  (axes[1], "acc", "train")):
        ax.plot(epochs, [getattr(r, f"train_{what}") for r in history], marker=marks[0], label=train_label)
        if history and getattr(history[0], f"test_{what}") is not None:
            ax.plot(epochs, [getattr(r, f"test_{what}") for r in history], marker=marks[1], label="test")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        ax.set_ylabel("loss" if what == "loss" else "accuracy")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # Marked as layerwise's, so that a later run may write over it, and only over such.
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": f"{PLOT_SOFTWARE} {__version__}"})
    plt.close(fig)


def _resume_hint(args: argparse.Namespace, trainer: Trainer) -> str:
    """What the checkpoint holds after an interruption, and the command that carries on.

    The epoch is read from the file, not from the trainer: a Ctrl-C during a checkpoint's
    write leaves the previous one in place, one epoch behind the trainer's count.
    """
    if args.checkpoint is None:
        if trainer.epoch >= trainer.epochs:
            return (f"interrupted after the last epoch ({trainer.epoch} of {trainer.epochs}), before "
                    "the outputs were written; nothing was saved")
        return (f"interrupted during epoch {trainer.epoch + 1} of {trainer.epochs}; nothing was "
                "saved (train with --checkpoint PATH to be able to resume)")
    from layerwise.training.checkpoints import read_checkpoint

    try:
        held = int(read_checkpoint(args.checkpoint)[1]["epoch"])
    except DataError:
        held = 0
    # The trainer counts an epoch done before it writes its checkpoint: a file one epoch
    # behind means the signal came between the two (during the last one's write, too).
    where = (f"after epoch {trainer.epoch} of {trainer.epochs}, before its checkpoint was written"
             if held < trainer.epoch else f"during epoch {trainer.epoch + 1} of {trainer.epochs}")
    if held == 0:
        return f"interrupted {where}; no checkpoint yet, nothing to resume from: start the run again"
    return (f"interrupted {where}; {args.checkpoint} holds epoch {held}. Resume with: "
            f"layerwise train --resume {shlex.quote(str(args.checkpoint))}")


def _absolute(path: str | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def run(args: argparse.Namespace) -> int:
    if not (getattr(args, "distributed", False) or distributed.launched()):
        return _run(args, None)
    world = distributed.init()  # under mpirun: every rank runs _run, data-parallel
    return distributed.run_command(world, lambda: _run(args, world))


def _run(args: argparse.Namespace, world: distributed.World | None) -> int:
    with contextlib.ExitStack() as cleanup:  # the checkpoint's lock goes when the run does
        return _train(args, world, cleanup)


def _train(args: argparse.Namespace, world: distributed.World | None, cleanup: contextlib.ExitStack) -> int:
    from layerwise.cli.program import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated

    root = world is None or world.is_root  # the process that prints and writes files
    if world is not None:
        cpus = world.cpus_per_rank()  # collective: every rank asks, whatever its flags
        if args.threads is None and not os.environ.get("LAYERWISE_NUM_THREADS"):
            args.threads = cpus
    # Under MPI every rank reports here whether its start succeeded, and which settings it runs.
    with distributed.starting(world) as facts:
        plan = prepare(args, outputs=root)
        cleanup.callback(plan.release)
        if world is not None:
            world.limit_threads(parallel.get_num_threads())
        data = plan.data
        assert data is not None and data.train is not None
        (x_train, t_train), (x_test, t_test) = data.train, data.test
        if data.fallback is not None:  # one short line first; the details on the next
            print(f"dataset: full MNIST could not be had (offline?), so the bundled {data.name}: "
                  f"{len(x_train)} train / {len(x_test)} test images")
            print(f"  why: {data.fallback}")
        else:
            print(f"dataset: {data.description}; {len(x_train)} train / {len(x_test)} test images")
        args.data = data.setting  # a checkpoint of an `auto` run resumes on the same data

        rng = np.random.default_rng(args.seed)
        net = build_network(args, tuple(x_train.shape[1:]), 10, rng)
        lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
        optimizer = build_optimizer(args.optimizer, lr)
        iters = math.ceil(len(x_train) / args.batch_size)
        epochs = args.epochs or DEFAULT_EPOCHS.get(args.model) or math.ceil(BOOK_ITERATIONS / iters)
        settings: dict[str, Any] = {key: getattr(args, key) for key in RUN_SETTINGS}
        settings["data_dir"] = _absolute(args.data_dir)
        settings["epochs"] = epochs
        facts.update({flag_of(k): json.dumps(v) for k, v in settings.items() if k != "data_dir"})
        # Outputs as absolute paths: `--resume` from another folder writes the same files.
        settings["outputs"] = {key: _absolute(getattr(args, key)) for key in OUTPUTS}
        settings["data_source"] = data.record
        settings["threads"] = parallel.get_num_threads()
        make: Callable[..., Trainer] = (
            Trainer if world is None else partial(distributed.DistributedTrainer, world=world))
        trainer = make(
            net, optimizer, x_train, t_train, x_test, t_test,
            epochs=epochs, batch_size=args.batch_size, rng=rng,
            progress=not args.quiet and sys.stderr.isatty(),
            log=None if args.quiet else print,
            checkpoint=args.checkpoint,
            metadata={"settings": settings},
            log_every=math.ceil(epochs / 25),  # at most about 25 lines
            lr_schedule=None if args.lr_schedule is None else parse_schedule(args.lr_schedule),
            train_eval_samples=args.eval_train_samples,
            augment=None if args.augment is None else parse_augment(args.augment, (1, *IMAGE_SHAPE)),
            fast=args.fast,
        )
        # What the engine will do, in words: printed below and kept with the run's results.
        fused = [name for name in fuse_relu_pool(net.layers) if "+" in name]
        with switch.enabled() if args.fast else switch.disabled():
            engine = training.describe(fused)
        settings["engine"] = engine
        if args.resume is not None:
            trainer.load_checkpoint(args.resume)
            trainer.epochs = epochs
            print(f"resumed from {args.resume} after epoch {trainer.epoch} of {epochs}")
            ran_with = plan.resume_meta.get("threads")
            if ran_with is not None and ran_with != parallel.get_num_threads():
                print(f"note: the run began with {ran_with} thread(s), this part runs with "
                      f"{parallel.get_num_threads()}: the weights may differ in the last bits from an "
                      f"uninterrupted run (--threads {ran_with} gives the same)")
    schedule = "" if args.lr_schedule in (None, "constant") else f" ({args.lr_schedule} schedule)"
    ranks = "" if world is None else f", {world.size} MPI ranks (each a shard of every batch)"
    print(f"model: {net!r}, {type(optimizer).__name__} lr {lr:g}{schedule}, batch {args.batch_size}, "
          f"{epochs} epochs ({iters} iterations each), seed {args.seed}, "
          f"{parallel.get_num_threads()} thread(s){ranks}")
    print(f"engine: {engine}" + ("" if not args.fast else
          " (the same numbers as the book's code up to float rounding; --no-fast runs the book's code)"))
    if args.augment is not None:
        print(f"augmentation of every training batch: {trainer.augment!r}")
    if args.eval_train_samples is not None and args.eval_train_samples < len(x_train):
        print(f"train acc is measured on the first {args.eval_train_samples} training images each epoch")
    start = time.perf_counter()
    resumed_at = trainer.epoch  # epochs a --resume checkpoint held: not timed by this run
    code = 0
    try:
        trainer.fit()
    except TrainingDiverged as exc:
        if root:  # every rank diverges together; one says so
            fail(exc)
        code = 1
    except KeyboardInterrupt as exc:
        if root:
            print(f"layerwise: {_resume_hint(args, trainer)}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    elapsed = time.perf_counter() - start
    if not root:
        return code
    if args.save:
        save_model(net, args.save, {"data": data.name or "unknown", "data_source": data.record,
                                    "engine": engine})
        print(f"saved model to {args.save}")
    if args.history:
        write_history(args.history, trainer.history)
    if args.plot and trainer.history:
        plot_history(args.plot, trainer.history, f"{net!r} on {data.name or 'MNIST-format data'}")
    if code == 0:
        net.eval()
        with switch.enabled() if args.fast else switch.disabled():
            acc = training.accuracy(net, x_test, t_test)
        correct = round(acc * len(x_test))
        ran = (f" ({trainer.epoch - resumed_at} in this run, resumed after epoch {resumed_at})"
               if args.resume is not None else "")
        print(f"done: {trainer.epoch} epochs{ran} in {elapsed:.1f} s; "
              f"final test accuracy {acc:.4f} ({correct}/{len(x_test)})")
    return code
