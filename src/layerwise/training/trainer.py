"""The training loop: mini-batch SGD-style training with per-epoch evaluation (book §4.5).

Each epoch draws a permutation from the trainer's own ``numpy.random.Generator`` and walks
through contiguous slices of the shuffled data, so every sample is used once per epoch (the
book samples with replacement). Each step is the book's: ``loss, grads =
network.loss_and_gradient(x, t)``, then ``optimizer.update(network.params, grads)``; the
epoch's :class:`~layerwise.training.history.EpochRecord` holds the mean of those losses.

A trainer turns the engine on for its own run (``fast=True``, the default; see
:mod:`layerwise.fast`): kernels, threads over the batch, and each ReLU + max pooling pair fused
into one visible layer while it trains (:func:`layerwise.fast.training.fused`). The previous
setting and the book's layer list come back after each epoch. ``fast=False`` runs the book's
code, whatever the switch says.

Checkpoints (everything needed to carry on exactly: weights, optimizer state, every random
generator's state, the epoch and history) are files of :mod:`layerwise.training.checkpoints`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import ConfigError, NonFiniteError, TrainingDiverged
from layerwise.fast import switch, training
from layerwise.networks.sequential import Sequential
from layerwise.optimizers import SupportsUpdate
from layerwise.training import checkpoints
from layerwise.training.augment import Augmentation
from layerwise.training.history import EpochRecord
from layerwise.training.schedules import Schedule

__all__ = ["Trainer", "EpochRecord"]


class Trainer:
    """Train ``network`` with ``optimizer`` on ``(x_train, t_train)``.

    Parameters
    ----------
    network : Sequential
    optimizer : object with ``update(params, grads)``
        (:class:`~layerwise.optimizers.SupportsUpdate`; ``state_dict`` / ``load_state_dict``
        too for checkpoints), e.g. :class:`layerwise.optimizers.SGD`
    x_train, t_train : ndarray of shape (N, ...) and (N,) or (N, C)
    x_test, t_test : optional held-out data, evaluated after every epoch
    epochs : number of epochs
    batch_size : samples per step; the last batch of an epoch may be smaller
    rng : the generator (or seed) that shuffles every epoch
    progress : show a tqdm bar per epoch
    log : called with one line per epoch (``print`` by default; ``None`` for silence)
    log_every : log only every this many epochs (and the first and last)
    checkpoint : a path to write a checkpoint to after every epoch (atomically)
    lr_schedule : ``schedule(epoch, epochs) -> factor`` (see :mod:`layerwise.training.schedules`):
        before each epoch the optimizer's ``lr`` is set to its initial value times the factor
    train_eval_samples : evaluate the per-epoch training accuracy on the first this many
        training samples only (the book's ``evaluate_sample_num_per_epoch``); all by default.
        The test data is always evaluated in full.
    augment : ``augment(x_batch, rng) -> x_batch`` applied to every training batch, with this
        trainer's generator (see :mod:`layerwise.training.augment`), so a resumed run draws the same
        transforms. Evaluation always sees the data as given.
    fast : True (the default): the engine on for each epoch, ReLU and max pooling fused for it,
        with the previous setting and the book's layer list given back after it (see
        :mod:`layerwise.fast.training`); False: the book's code, whatever the switch says.
        ``engine`` then says in words what ran the last epoch (recorded in each EpochRecord).
    """

    def __init__(
        self,
        network: Sequential,
        optimizer: SupportsUpdate,
        x_train: NDArray[Any],
        t_train: NDArray[Any],
        x_test: NDArray[Any] | None = None,
        t_test: NDArray[Any] | None = None,
        *,
        epochs: int = 17,
        batch_size: int = 100,
        rng: np.random.Generator | int | None = None,
        progress: bool = True,
        log: Callable[[str], None] | None = print,
        checkpoint: str | Path | None = None,
        metadata: dict[str, Any] | None = None,
        log_every: int = 1,
        lr_schedule: Schedule | None = None,
        train_eval_samples: int | None = None,
        augment: Augmentation | None = None,
        fast: bool = True,
    ) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 0:
            raise ConfigError(f"Trainer: epochs must be a non-negative integer, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ConfigError(f"Trainer: batch_size must be a positive integer, got {batch_size!r}")
        if len(x_train) != len(t_train):
            raise ConfigError(f"Trainer: {len(x_train)} training inputs but {len(t_train)} targets")
        if len(x_train) == 0:
            raise ConfigError("Trainer: no training data (x_train is empty)")
        if (x_test is None) != (t_test is None):
            raise ConfigError("Trainer: give both x_test and t_test, or neither")
        if x_test is not None and t_test is not None and len(x_test) != len(t_test):
            raise ConfigError(f"Trainer: {len(x_test)} test inputs but {len(t_test)} targets")
        if train_eval_samples is not None and (
                isinstance(train_eval_samples, bool) or not isinstance(train_eval_samples, int | np.integer)
                or train_eval_samples < 1):
            raise ConfigError(f"Trainer: train_eval_samples must be a positive integer, got "
                              f"{train_eval_samples!r}")
        if not callable(getattr(optimizer, "update", None)):
            raise ConfigError(f"Trainer: optimizer must have an update(params, grads) method, got "
                              f"{type(optimizer).__name__}")
        base_lr = getattr(optimizer, "lr", None)
        if lr_schedule is not None and not isinstance(base_lr, int | float):
            raise ConfigError(f"lr_schedule needs an optimizer with an `lr` attribute; "
                             f"{type(optimizer).__name__} has none")
        self.lr_schedule = lr_schedule
        self.base_lr: float | None = None if base_lr is None else float(base_lr)
        self.train_eval_samples = train_eval_samples
        self.augment = augment
        if not isinstance(fast, bool):
            raise ConfigError(f"Trainer: fast must be True or False, got {fast!r}")
        self.fast = fast
        #: What the engine did in the last epoch, in words (see :func:`layerwise.fast.training.describe`).
        self.engine = ""
        self.network = network
        self.optimizer = optimizer
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = epochs
        self.batch_size = batch_size
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.progress = progress
        self.log = log
        self.log_every = max(1, log_every)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.metadata = dict(metadata or {})
        self.epoch = 0  # epochs completed
        self.history: list[EpochRecord] = []
        self.seconds = 0.0

    @property
    def iters_per_epoch(self) -> int:
        return len(self._batch_starts(len(self.x_train)))

    def _batch_starts(self, n: int) -> list[int]:
        """Where each batch begins. A last batch of a single sample joins the one before it:
        batch statistics (BatchNormalization) are undefined for one sample."""
        starts = list(range(0, n, self.batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return starts

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> list[EpochRecord]:
        """Train until ``epochs`` epochs are complete; return the history.

        Raises :class:`~layerwise.errors.TrainingDiverged` when the loss becomes NaN or
        infinite, after putting back the weights of the last complete epoch.
        """
        while self.epoch < self.epochs:
            self.train_epoch()
        return self.history

    def train_epoch(self) -> EpochRecord:
        """Run one epoch, evaluate, record it, and write the checkpoint if one is set."""
        net = self.network
        good = net.state_dict()
        if self.lr_schedule is not None and self.base_lr is not None:
            opt: Any = self.optimizer
            opt.lr = self.base_lr * self.lr_schedule(self.epoch, self.epochs)
        start = time.perf_counter()
        perm = self.rng.permutation(len(self.x_train))
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.iters_per_epoch, desc=f"epoch {self.epoch + 1}/{self.epochs}",
                       leave=False, file=sys.stderr, dynamic_ncols=True, mininterval=0.2)
        net.train()
        with self._engine():
            try:
                # Overflow shows up as a non-finite loss, reported as divergence; NumPy's
                # warnings on the way there would only add noise.
                with np.errstate(over="ignore", invalid="ignore"):
                    mean_loss = self._steps(perm, good, bar)
                    # The last update of the epoch is not followed by a loss: check the weights.
                    bad = [k for k, v in net.params.items() if not np.isfinite(v).all()]
                    if bad:
                        self._diverged(good, self.iters_per_epoch, f"parameters {bad} are NaN or infinite")
            finally:
                if bar is not None:
                    bar.close()
            train_seconds = time.perf_counter() - start
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    record = self._evaluate(mean_loss, train_seconds)
            except NonFiniteError as exc:  # finite weights whose scores overflow
                self._diverged(good, self.iters_per_epoch, f"evaluation: {exc}")
        self.epoch += 1
        self.seconds += train_seconds
        self.history.append(record)
        if self.log is not None and (self.epoch % self.log_every == 0 or self.epoch in (1, self.epochs)):
            self.log(self.format_record(record))
        if self.checkpoint is not None:
            self.save_checkpoint(self.checkpoint)
        return record

    @contextmanager
    def _engine(self) -> Iterator[None]:
        """The engine on (with the ReLU/pooling fusion) for one epoch when ``fast``, else off;
        the previous setting and the network's layer list come back after it."""
        if not self.fast:
            with switch.disabled():
                self.engine = training.describe()
                yield
            return
        with switch.enabled(), training.fused(self.network) as names:
            self.engine = training.describe(names)
            yield

    def _steps(self, perm: NDArray[np.intp], good: dict[str, NDArray[Any]], bar: Any) -> float:
        """One pass over ``perm`` in mini-batches; returns the mean of the batches' losses
        (each batch counts once, whatever its size)."""
        net = self.network
        total_loss = 0.0
        steps = self._batch_starts(len(perm))
        for i, lo in enumerate(steps):
            idx = perm[lo : steps[i + 1] if i + 1 < len(steps) else None]
            try:
                loss, grads = self._loss_and_gradient(idx)
                if not math.isfinite(loss):
                    raise NonFiniteError(f"loss is {loss}")
            except NonFiniteError as exc:
                self._diverged(good, i + 1, str(exc))
            self.optimizer.update(net.params, grads)
            total_loss += loss
            if bar is not None:
                bar.update(1)
                if i % 20 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        return total_loss / len(steps)

    def _loss_and_gradient(self, idx: NDArray[np.intp]) -> tuple[float, dict[str, NDArray[Any]]]:
        """One step's ``(loss, grads)`` on the training samples ``idx`` (augmented if set).
        Gathering each batch as it is needed is faster than shuffling a copy of the whole
        training set per epoch (no 188 MB allocation for MNIST) and uses the same order.
        :class:`layerwise.fast.distributed.DistributedTrainer` computes it across processes."""
        x = self.x_train[idx] if self.augment is None else self.augment(self.x_train[idx], self.rng)
        return training.loss_and_gradient(self.network, x, self.t_train[idx])

    def _diverged(self, good: dict[str, NDArray[Any]], iteration: int, why: str) -> NoReturn:
        """Put back the weights of the last complete epoch and raise TrainingDiverged."""
        self.network.load_state_dict(good)
        raise TrainingDiverged(
            f"training diverged at epoch {self.epoch + 1}, iteration {iteration}: {why}. "
            f"The weights were reset to the end of epoch {self.epoch}; "
            "try a smaller learning rate.",
            self.epoch + 1, iteration,
        )

    def _evaluate(self, train_loss: float, seconds: float) -> EpochRecord:
        n = self.train_eval_samples
        train_acc = self._score(self.x_train[:n], self.t_train[:n], with_loss=False)[1]
        test_loss = test_acc = None
        if self.x_test is not None and self.t_test is not None:
            test_loss, test_acc = self._score(self.x_test, self.t_test)  # one pass for both
        lr = getattr(self.optimizer, "lr", None)
        return EpochRecord(self.epoch + 1, train_loss, train_acc, test_loss, test_acc, seconds,
                           None if lr is None else float(lr), self.engine or None)

    def mean_loss(self, x: NDArray[Any], t: NDArray[Any], batch_size: int | None = None) -> float:
        """The data loss over all of ``x`` in inference mode (batched, weighted by batch
        size), without the weight-decay penalty, so runs with and without weight decay compare."""
        return self._score(x, t, batch_size=batch_size)[0]

    def _score(self, x: NDArray[Any], t: NDArray[Any], with_loss: bool = True,
               batch_size: int | None = None) -> tuple[float, float]:
        """``network.evaluate(x, t)`` (with ``with_loss=False``, the loss is not computed: 0.0)."""
        if with_loss:
            return training.evaluate(self.network, x, t, batch_size)
        return 0.0, training.accuracy(self.network, x, t, batch_size)

    def format_record(self, r: EpochRecord) -> str:
        width = len(str(self.epochs))
        line = f"epoch {r.epoch:>{width}}/{self.epochs}  loss {r.train_loss:.4f}  train acc {r.train_acc:.4f}"
        if r.test_acc is not None:
            line += f"  test acc {r.test_acc:.4f}"
        if self.lr_schedule is not None and r.lr is not None:
            line += f"  lr {r.lr:.3g}"
        return line + f"  ({r.seconds:.2f} s)"

    # -- checkpoints (files of layerwise.training.checkpoints) ---------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        """Write this trainer's state to ``path`` (see
        :func:`layerwise.training.checkpoints.save_checkpoint`)."""
        checkpoints.save_checkpoint(self, path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore this trainer's state from ``path`` (see
        :func:`layerwise.training.checkpoints.load_checkpoint`): the file is checked whole first, and
        any failure raises :class:`~layerwise.errors.DataError` and leaves the trainer as it was."""
        checkpoints.load_checkpoint(self, path)
