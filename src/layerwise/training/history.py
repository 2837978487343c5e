"""What a training run records after each epoch: one :class:`EpochRecord`.

The :class:`~layerwise.training.trainer.Trainer` appends one per epoch to its ``history``;
:mod:`layerwise.training.checkpoints` writes them as JSON and reads them back, checked field by field.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EpochRecord"]


@dataclass
class EpochRecord:
    """Metrics of one epoch."""

    epoch: int
    train_loss: float  # mean mini-batch objective over the epoch (weight-decay penalty included)
    # test_loss is the data loss alone, comparable across weight-decay settings
    train_acc: float
    test_loss: float | None
    test_acc: float | None
    seconds: float
    lr: float | None = None  # the optimizer's learning rate during the epoch
    engine: str | None = None  # what ran it: the book's code, or the engine (layerwise.fast)
