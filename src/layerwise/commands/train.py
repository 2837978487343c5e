"""``layerwise train``: train a network on an MNIST-format data set from the command line."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from layerwise import parallel
from layerwise.augment import parse_augment
from layerwise.commands.common import add_data_arguments, fail, load_data
from layerwise.commands.models import (
    CNN_MODELS,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_OPTIMIZER,
    MODELS,
    OPTIMIZERS,
    build_network,
    build_optimizer,
    check_model_args,
)
from layerwise.datasets.mnist import IMAGE_SHAPE
from layerwise.errors import DataError, TrainingDiverged
from layerwise.fileio import atomic_write_text
from layerwise.io import save_model
from layerwise.schedules import parse_schedule
from layerwise.trainer import EpochRecord, Trainer

__all__ = ["add_parser", "run", "BOOK_ITERATIONS"]

#: The book's train_neuralnet.py runs 10,000 iterations of batch 100 (about 17 epochs of MNIST).
BOOK_ITERATIONS = 10_000


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train a network (the book's TwoLayerNet by default)",
        description="Train a network on an MNIST-format data set. Defaults are the book's "
                    "TwoLayerNet: hidden 50, SGD lr 0.1, batch 100, weight_init_std 0.01.")
    add_data_arguments(p)
    p.add_argument("--model", choices=MODELS, default="two-layer",
                   help="two-layer: the book's TwoLayerNet; mlp: MultiLayerNetExtend "
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
                   help="weight initialisation (default 0.01 for two-layer, he for mlp)")
    p.add_argument("--weight-init-std", dest="init", help=argparse.SUPPRESS)
    p.add_argument("--batchnorm", action="store_true", help="BatchNormalization in each hidden block")
    p.add_argument("--dropout", type=float, default=None, metavar="RATIO",
                   help="inverted Dropout with this ratio after each hidden activation")
    p.add_argument("--weight-decay", type=float, default=None, metavar="LAMBDA",
                   help="L2 weight decay (the book's weight_decay_lambda)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default: as many as the book's 10,000 iterations take, "
                        "17 on full MNIST; 20 for the conv nets)")
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
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--save", metavar="PATH", help="save the trained model (safetensors)")
    p.add_argument("--plot", metavar="PATH", help="write loss and accuracy curves as a PNG")
    p.add_argument("--history", metavar="PATH", help="write per-epoch metrics (.json or .csv)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="write a resumable checkpoint after every epoch (atomically)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="carry on from a checkpoint, with the settings stored in it")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for data-parallel steps of large networks (default: "
                        "$LAYERWISE_NUM_THREADS, else every CPU this process may use; 1: none)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=run)


# Flags that define a run; a checkpoint stores them and --resume restores them.
RUN_SETTINGS = ("data", "data_dir", "model", "hidden", "optimizer", "lr", "init", "batchnorm",
                "dropout", "weight_decay", "epochs", "batch_size", "seed", "lr_schedule",
                "eval_train_samples", "augment")


def _check_args(args: argparse.Namespace) -> str | None:
    if args.epochs is not None and args.epochs < 1:
        return f"--epochs must be at least 1, got {args.epochs}"
    if args.batch_size < 1:
        return f"--batch-size must be at least 1, got {args.batch_size}"
    if args.seed < 0:
        return f"--seed must be a non-negative integer, got {args.seed}"
    if args.threads is not None and args.threads < 1:
        return f"--threads must be at least 1, got {args.threads}"
    if args.lr is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        return f"--lr must be a positive number, got {args.lr}"
    if args.lr_schedule is not None:
        try:
            parse_schedule(args.lr_schedule)
        except ValueError as exc:
            return f"--lr-schedule: {exc}"
    if args.eval_train_samples is not None and args.eval_train_samples < 1:
        return f"--eval-train-samples must be at least 1, got {args.eval_train_samples}"
    if args.augment is not None:
        try:
            parse_augment(args.augment)
        except ValueError as exc:
            return f"--augment: {exc}"
    try:
        problem = check_model_args(args)
    except ValueError as exc:
        return str(exc)
    if problem is not None:
        return problem
    for flag, value, suffixes in (("--history", args.history, (".json", ".csv")),
                                  ("--plot", args.plot, (".png",))):
        if value is not None and Path(value).suffix.lower() not in suffixes:
            return f"{flag} must end in {' or '.join(suffixes)}, got {value}"
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return "--plot needs matplotlib: pip install 'layerwise[plot]'"
    return None


def _restore_settings(args: argparse.Namespace) -> str | None:
    """Fill ``args`` from the checkpoint named by ``--resume``; an error message or None."""
    from layerwise.trainer import read_checkpoint

    try:
        _, meta = read_checkpoint(args.resume)
    except DataError as exc:
        return str(exc)
    saved = json.loads(meta.get("trainer", "{}")).get("settings")
    if not isinstance(saved, dict):
        return f"{args.resume}: this checkpoint was not written by `layerwise train`"
    for key in RUN_SETTINGS:
        if key == "epochs" and args.epochs is not None:
            continue  # --resume with --epochs N extends (or shortens) the run
        setattr(args, key, saved.get(key))
    return None


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

    from layerwise.fileio import atomic_path

    epochs = [r.epoch for r in history]
    marks = ("o", "s") if len(history) <= 30 else (None, None)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, what, train_label in ((axes[0], "loss", "train (mean batch loss)"),
                                  (axes[1], "acc", "train")):
        ax.plot(epochs, [getattr(r, f"train_{what}") for r in history], marker=marks[0], label=train_label)
        if history and getattr(history[0], f"test_{what}") is not None:
            ax.plot(epochs, [getattr(r, f"test_{what}") for r in history], marker=marks[1], label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if what == "loss" else "accuracy")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    if args.resume is not None:
        problem = _restore_settings(args)
        if problem is not None:
            return fail(problem)
    problem = _check_args(args)
    if problem is not None:
        return fail(problem, 2)

    if args.optimizer is None:
        args.optimizer = DEFAULT_OPTIMIZER[args.model]
    if args.threads is not None:
        parallel.set_num_threads(args.threads)
    try:
        name, reason, ((x_train, t_train), (x_test, t_test)) = load_data(
            args.data, args.data_dir, flatten=args.model not in CNN_MODELS, quiet=args.quiet)
    except DataError as exc:
        return fail(str(exc))
    print(f"dataset: {name} ({reason}); {len(x_train)} train / {len(x_test)} test images")
    args.data = name  # a checkpoint of an `auto` run resumes on the same data

    rng = np.random.default_rng(args.seed)
    net = build_network(args, tuple(x_train.shape[1:]), 10, rng)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    optimizer = build_optimizer(args.optimizer, lr)
    iters = math.ceil(len(x_train) / args.batch_size)
    epochs = args.epochs or DEFAULT_EPOCHS.get(args.model) or math.ceil(BOOK_ITERATIONS / iters)
    settings = {key: getattr(args, key) for key in RUN_SETTINGS}
    settings["epochs"] = epochs
    trainer = Trainer(
        net, optimizer, x_train, t_train, x_test, t_test,
        epochs=epochs, batch_size=args.batch_size, rng=rng,
        progress=not args.quiet and sys.stderr.isatty(),
        log=None if args.quiet else print,
        checkpoint=args.checkpoint or args.resume,
        metadata={"settings": settings},
        log_every=math.ceil(epochs / 25),  # at most about 25 lines
        lr_schedule=None if args.lr_schedule is None else parse_schedule(args.lr_schedule),
        train_eval_samples=args.eval_train_samples,
        augment=None if args.augment is None else parse_augment(args.augment, (1, *IMAGE_SHAPE)),
    )
    if args.resume is not None:
        try:
            trainer.load_checkpoint(args.resume)
        except DataError as exc:
            return fail(str(exc))
        trainer.epochs = epochs
        print(f"resumed from {args.resume} after epoch {trainer.epoch}")
    schedule = "" if args.lr_schedule in (None, "constant") else f" ({args.lr_schedule} schedule)"
    print(f"model: {net!r}, {type(optimizer).__name__} lr {lr:g}{schedule}, batch {args.batch_size}, "
          f"{epochs} epochs ({iters} iterations each), seed {args.seed}, "
          f"{parallel.get_num_threads()} thread(s)")
    if args.augment is not None:
        print(f"augmentation of every training batch: {trainer.augment!r}")
    if args.eval_train_samples is not None and args.eval_train_samples < len(x_train):
        print(f"train acc is measured on the first {args.eval_train_samples} training images each epoch")
    start = time.perf_counter()
    code = 0
    try:
        trainer.fit()
    except TrainingDiverged as exc:
        print(f"layerwise: error: {exc}", file=sys.stderr)
        code = 1
    elapsed = time.perf_counter() - start
    if args.save:
        save_model(net, args.save, {"data": name})
        print(f"saved model to {args.save}")
    if args.history:
        write_history(args.history, trainer.history)
    if args.plot and trainer.history:
        plot_history(args.plot, trainer.history, f"{net!r} on {name}")
    if code == 0:
        net.eval()
        acc = net.accuracy(x_test, t_test)
        correct = round(acc * len(x_test))
        print(f"done: {trainer.epoch} epochs in {elapsed:.1f} s; "
              f"final test accuracy {acc:.4f} ({correct}/{len(x_test)})")
    return code
