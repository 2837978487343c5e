"""What ``layerwise train`` checks before it starts, and the run it plans: every flag's value, the
flags against each other and against a ``--resume`` checkpoint, every output path (its folder
exists, it is not a folder or a link, no two outputs share a path, an existing file is one
layerwise wrote), the one run per checkpoint, the thread count, and the data."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerwise.cli.commands.common import (
    LoadedData,
    check_not_link,
    check_replaceable,
    load_data,
)
from layerwise.cli.commands.models import (
    CNN_MODELS,
    DEFAULT_LR,
    DEFAULT_OPTIMIZER,
    MODELS,
    OPTIMIZERS,
    check_model_args,
)
from layerwise.datasets.mnist import IMAGE_SHAPE
from layerwise.errors import ConfigError, DataError, OutputError
from layerwise.fast import parallel
from layerwise.files.fileio import probe_writable, remove_stale_parts
from layerwise.files.locks import FileLock
from layerwise.training.augment import parse_augment
from layerwise.training.schedules import parse_schedule

__all__ = ["prepare", "RunPlan", "flag_of", "BOOK_ITERATIONS", "RUN_SETTINGS", "OUTPUTS"]

#: The book's train_neuralnet.py runs 10,000 iterations of batch 100 (about 17 epochs of MNIST).
BOOK_ITERATIONS = 10_000

#: Flags that define a run, with their defaults. A checkpoint stores them; ``--resume``
#: restores them, and refuses a flag given again with another value.
RUN_SETTINGS: dict[str, Any] = {
    "data": "auto", "data_dir": None, "model": "two-layer", "hidden": None, "optimizer": None,
    "lr": None, "init": None, "batchnorm": False, "dropout": None, "weight_decay": None,
    "epochs": None, "batch_size": 100, "seed": 0, "lr_schedule": None,
    "eval_train_samples": None, "augment": None,
}
#: Files a run writes. A checkpoint stores them, so ``--resume`` alone writes them all; given
#: again with ``--resume`` they replace the stored ones (they do not change the result).
OUTPUTS = ("save", "plot", "history", "checkpoint")
#: What each output other than the checkpoint is: an existing file is written over only if
#: layerwise wrote it as that (see :func:`layerwise.cli.commands.common.written_by_layerwise`).
_KINDS = {"save": "model", "plot": "plot", "history": "history"}


def flag_of(key: str) -> str:
    return "--" + key.replace("_", "-")


def _check_args(args: argparse.Namespace) -> None:
    """Each flag's value on its own and the model flags together; raises ConfigError."""
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    if args.lr is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        raise ConfigError(f"--lr must be a positive number, got {args.lr}")
    if args.eval_train_samples is not None and args.eval_train_samples < 1:
        raise ConfigError(f"--eval-train-samples must be at least 1, got {args.eval_train_samples}")
    for flag, value, parse in (("--lr-schedule", args.lr_schedule, parse_schedule),
                               ("--augment", args.augment,
                                lambda spec: parse_augment(spec, (1, *IMAGE_SHAPE)))):
        if value is not None:
            try:
                parse(value)
            except ValueError as exc:
                raise ConfigError(f"{flag}: {exc}") from None
    try:
        problem = check_model_args(args)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if problem is not None:
        raise ConfigError(problem)
    for flag, value, suffixes in (("--history", args.history, (".json", ".csv")),
                                  ("--plot", args.plot, (".png",))):
        if value is not None and Path(value).suffix.lower() not in suffixes:
            raise ConfigError(f"{flag} must end in {' or '.join(suffixes)}, got {value}")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ConfigError("--plot needs matplotlib, of the plot extra: pip install '.[plot]' in "
                              "layerwise's folder, or pip install matplotlib") from None


def _same_path(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_outputs(args: argparse.Namespace, plan: RunPlan) -> None:
    """Every output can be written, no two share a file, and none would destroy a file of
    another kind the user saved; raises before anything is done. The checkpoint's lock (kept
    in ``plan``) is taken once the paths are known to be writable, before the checkpoint is
    looked at: of two runs started together on one checkpoint, one goes on and the other stops
    here."""
    named = [(key, getattr(args, key)) for key in OUTPUTS if getattr(args, key) is not None]
    for key, path in named:
        check_not_link(path, flag_of(key))
        try:
            probe_writable(path, flag_of(key))
        except OutputError as exc:  # a path given on the command line: a usage error
            raise ConfigError(str(exc)) from None
    if args.checkpoint is not None:
        plan.lock = FileLock(args.checkpoint, "--checkpoint")
        plan.lock.acquire()
    for key, path in named:
        if args.resume is not None and _same_path(path, args.resume):
            if key == "checkpoint":
                continue  # carrying on writing the checkpoint resumed from
            raise ConfigError(f"{flag_of(key)} {path} is the checkpoint given to --resume: "
                              "writing it would destroy the checkpoint; give another path")
        if not Path(path).is_file():
            continue
        held = _checkpoint_epoch(path)
        if key == "checkpoint":
            what = f"a checkpoint ({held})" if held is not None else "a file that is not a checkpoint"
            hint = (f"continue it with --resume {shlex.quote(path)}, or remove it to start a new run"
                    if held is not None and args.resume is None else
                    "give a new path, or remove the file")
            raise ConfigError(f"--checkpoint {path} already holds {what}; a checkpoint is never "
                              f"written over another file: {hint}")
        if held is not None:
            raise ConfigError(f"{flag_of(key)} {path} is a checkpoint ({held}): writing the "
                              f"{key} there would destroy it; give another path")
        check_replaceable(path, flag_of(key), _KINDS[key])
    for i, (key, path) in enumerate(named):
        for other, other_path in named[i + 1:]:
            if _same_path(path, other_path):
                raise ConfigError(f"{flag_of(key)} and {flag_of(other)} name the same file {path}: "
                                  "one would overwrite the other; give each its own path")


def _checkpoint_epoch(path: str) -> str | None:
    """'epoch k of n' if ``path`` is a layerwise checkpoint ('damaged' if it is one that cannot
    be read), else None."""
    from layerwise.training.checkpoints import CHECKPOINT_FORMAT, read_checkpoint

    try:
        _, meta = read_checkpoint(path)
    except DataError:
        try:
            with open(path, "rb") as f:
                head = f.read(1 << 16)
        except OSError:
            return None
        return "damaged" if CHECKPOINT_FORMAT.encode() in head else None
    return f"epoch {meta.get('epoch', '?')} of {meta.get('epochs', '?')}"


@dataclass
class RunPlan:
    """A run checked whole: the settings, the checkpoint's state (if resuming) and its data."""

    args: argparse.Namespace
    resume_meta: dict[str, Any] = field(default_factory=dict)
    resume_epoch: int = 0
    data: LoadedData | None = None
    #: The checkpoint's lock, held from the checks until the run ends (:meth:`release`).
    lock: FileLock | None = None

    def release(self) -> None:
        """Let go of the checkpoint's lock (a run that dies lets go of it anyway)."""
        if self.lock is not None:
            self.lock.release()


def _effective(key: str, value: Any, settings: dict[str, Any]) -> Any:
    """What a setting means, so that a flag given again with its default value agrees with a
    run that left it out (``--lr 0.1`` on an SGD run, ``--dropout 0``, ``--init std``)."""
    model = settings.get("model") or RUN_SETTINGS["model"]
    if value is None:
        value = RUN_SETTINGS.get(key)
    if key == "lr" and value is None:
        return DEFAULT_LR[settings.get("optimizer") or DEFAULT_OPTIMIZER[model]]
    if key == "optimizer" and value is None:
        return DEFAULT_OPTIMIZER[model]
    if key == "init":
        if value in (None, "std"):
            value = "he" if model == "mlp" else 0.01
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    if key in ("dropout", "weight_decay") and not value:
        return 0.0
    if key == "lr_schedule" and value in (None, "constant"):
        return "constant"
    if key == "hidden" and value is not None:
        return str(value).replace(" ", "")
    if key == "batchnorm":
        return bool(value)
    return value


def _shown(key: str, value: Any, stored_side: bool = False) -> str:
    """A setting as the flag that says it: '--lr 0.5', '--batchnorm', 'without --dropout'."""
    flag = flag_of(key)
    if key == "batchnorm":
        return ("with " if stored_side else "") + flag if value else f"without {flag}"
    if value is None:
        return f"without {flag} (its default)"
    return ("with " if stored_side else "") + f"{flag} {value}"


def _check_stored_settings(saved: dict[str, Any], where: str) -> None:
    """The settings a checkpoint stores pass the same checks as flags; if not, the file is at
    fault, not the user: a DataError naming it."""
    stored = argparse.Namespace(**{key: saved.get(key) for key in RUN_SETTINGS})
    for key, default in RUN_SETTINGS.items():
        if getattr(stored, key) is None and default is not None:
            setattr(stored, key, default)
    for key in ("threads", "resume", "checkpoint", *OUTPUTS):
        setattr(stored, key, None)
    outputs = saved.get("outputs")
    problem = None
    if outputs is not None and not (isinstance(outputs, dict)
                                    and all(isinstance(v, str | None) for v in outputs.values())):
        problem = f"'outputs' is {outputs!r}, expected paths by flag"
    else:
        try:
            if stored.model not in MODELS:
                raise ConfigError(f"model {stored.model!r} is none of {', '.join(MODELS)}")
            if stored.optimizer is not None and stored.optimizer not in OPTIMIZERS:
                raise ConfigError(f"optimizer {stored.optimizer!r} is none of {', '.join(OPTIMIZERS)}")
            _check_args(stored)
        except (ConfigError, TypeError, AttributeError) as exc:
            problem = str(exc)
    if problem is not None:
        raise DataError(f"{where}: the run settings stored in this checkpoint are invalid "
                        f"({problem}); it is damaged or was edited")


def _restore(args: argparse.Namespace) -> RunPlan:
    """Fill ``args`` from the checkpoint named by ``--resume``, refusing conflicting flags."""
    from layerwise.training.checkpoints import read_checkpoint

    _, meta = read_checkpoint(args.resume)
    try:
        trainer_meta = json.loads(meta.get("trainer", "{}"))
        saved = trainer_meta.get("settings") if isinstance(trainer_meta, dict) else None
        done = int(meta.get("epoch", ""))
    except ValueError:
        saved, done = None, 0
    if not isinstance(saved, dict):
        raise DataError(f"{args.resume}: this checkpoint was not written by `layerwise train`")
    _check_stored_settings(saved, args.resume)
    for key in RUN_SETTINGS:
        given, stored = getattr(args, key), saved.get(key)
        if key == "epochs":
            continue
        if given is None:
            setattr(args, key, stored)
        elif key == "data" and given == "auto":
            setattr(args, key, stored)  # auto picked the stored data set when the run began
        elif key == "data_dir":
            # The folder may have moved; the data itself is compared by fingerprint below.
            continue
        elif _effective(key, given, saved) != _effective(key, stored, saved):
            raise ConfigError(
                f"{_shown(key, given)} conflicts with {args.resume}, which was trained "
                f"{_shown(key, stored, stored_side=True)}; resume without {flag_of(key)}, "
                "or start a new run")
    outputs = saved.get("outputs") or {}
    for key in OUTPUTS:
        if getattr(args, key) is None and key != "checkpoint":
            setattr(args, key, outputs.get(key))
    if args.checkpoint is None:
        args.checkpoint = args.resume  # carry on writing the checkpoint we resumed from
    stored_epochs = saved.get("epochs")
    if args.epochs is None:
        args.epochs = stored_epochs
    elif args.epochs >= 1 and args.epochs < done:
        raise ConfigError(f"--epochs {args.epochs} is fewer than the {done} epoch(s) {args.resume} "
                          f"already holds; give --epochs {done} or more, or leave it out")
    return RunPlan(args, resume_meta={"data": saved.get("data_source"),
                                      "threads": saved.get("threads")}, resume_epoch=done)


def prepare(args: argparse.Namespace, *, outputs: bool = True) -> RunPlan:
    """Check a run whole before any training: raises ConfigError, DataError or OutputError.

    Resolves defaults, restores ``--resume`` settings, validates every flag and output path,
    the thread count and the data (which it loads). ``outputs=False`` leaves the output
    paths alone (the ranks of a distributed run other than rank 0, which write nothing).
    With outputs, the returned plan holds the checkpoint's lock: call ``plan.release()``
    when the run ends. Another run holding it is a ConfigError naming its pid.
    """
    plan = _restore(args) if args.resume is not None else RunPlan(args)
    try:
        return _prepare(args, plan, outputs)
    except BaseException:
        plan.release()
        raise


def _prepare(args: argparse.Namespace, plan: RunPlan, outputs: bool) -> RunPlan:
    for key, default in RUN_SETTINGS.items():
        if getattr(args, key) is None and default is not None:
            setattr(args, key, default)
    _check_args(args)
    if args.threads is None:
        parallel.default_num_threads()  # a bad LAYERWISE_NUM_THREADS is a usage error, now
    else:
        parallel.set_num_threads(args.threads)
    if outputs:
        _check_outputs(args, plan)
        for key in OUTPUTS:  # leftovers of writes killed in an earlier run
            if getattr(args, key) is not None:
                remove_stale_parts(getattr(args, key))
    if args.optimizer is None:
        args.optimizer = DEFAULT_OPTIMIZER[args.model]
    plan.data = load_data(args.data, args.data_dir, flatten=args.model not in CNN_MODELS,
                          quiet=args.quiet)
    if plan.resume_meta.get("data") is not None:
        plan.data.check_same_as(plan.resume_meta["data"], f"{args.resume}")
    assert plan.data.train is not None  # the train split was asked for
    n_train = len(plan.data.train[0])
    if args.batch_size > n_train:
        raise ConfigError(f"--batch-size {args.batch_size} is larger than the training set "
                          f"({n_train} images); give --batch-size {n_train} or less")
    if args.eval_train_samples is not None and args.eval_train_samples > n_train:
        raise ConfigError(f"--eval-train-samples {args.eval_train_samples} is more than the "
                          f"{n_train} training images")
    return plan
