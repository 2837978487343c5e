"""Learning-rate schedules: the factor by which an epoch's learning rate is scaled.

A schedule is a callable ``schedule(epoch, epochs) -> factor`` with ``epoch`` counted from 0;
:class:`~layerwise.training.trainer.Trainer` sets ``optimizer.lr = base_lr * factor`` before each
epoch. The factor depends on nothing else, so a run resumed from a checkpoint continues on the
same schedule (extending ``epochs`` stretches a schedule that depends on it, such as cosine).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from layerwise.errors import ConfigError

__all__ = ["Schedule", "constant", "Cosine", "StepDecay", "parse_schedule"]

Schedule = Callable[[int, int], float]


def constant(epoch: int, epochs: int) -> float:
    """The same learning rate every epoch (the book's choice)."""
    return 1.0


class Cosine:
    """Cosine annealing: ``min_factor + (1 - min_factor) * (1 + cos(pi * epoch / epochs)) / 2``,
    from the full rate in the first epoch down towards ``min_factor`` (as PyTorch's
    ``CosineAnnealingLR`` with ``T_max = epochs``, stepped once per epoch)."""

    def __init__(self, min_factor: float = 0.0) -> None:
        if not 0.0 <= min_factor <= 1.0:
            raise ConfigError(f"Cosine: min_factor must be in [0, 1], got {min_factor}")
        self.min_factor = min_factor

    def __call__(self, epoch: int, epochs: int) -> float:
        cos = (1.0 + math.cos(math.pi * epoch / max(epochs, 1))) / 2.0
        return self.min_factor + (1.0 - self.min_factor) * cos

    def __repr__(self) -> str:
        return f"Cosine(min_factor={self.min_factor})"


class StepDecay:
    """Multiply the rate by ``gamma`` every ``every`` epochs: ``gamma ** (epoch // every)``."""

    def __init__(self, every: int, gamma: float = 0.1) -> None:
        if every < 1:
            raise ConfigError(f"StepDecay: every must be at least 1, got {every}")
        if not 0.0 < gamma <= 1.0:
            raise ConfigError(f"StepDecay: gamma must be in (0, 1], got {gamma}")
        self.every, self.gamma = every, gamma

    def __call__(self, epoch: int, epochs: int) -> float:
        return float(self.gamma ** (epoch // self.every))

    def __repr__(self) -> str:
        return f"StepDecay(every={self.every}, gamma={self.gamma})"


def parse_schedule(spec: str) -> Schedule:
    """A schedule from its command-line form: ``constant``, ``cosine`` or ``step:EVERY:GAMMA``
    (for example ``step:10:0.5``)."""
    name, _, rest = spec.partition(":")
    if name == "constant" and not rest:
        return constant
    if name == "cosine" and not rest:
        return Cosine()
    if name == "step":
        parts = rest.split(":")
        try:
            if len(parts) != 2:
                raise ConfigError
            return StepDecay(int(parts[0]), float(parts[1]))
        except ValueError as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise ConfigError(f"learning-rate schedule {spec!r}: expected step:EVERY:GAMMA with an integer "
                             f"EVERY >= 1 and 0 < GAMMA <= 1, e.g. step:10:0.5{detail}") from None
    raise ConfigError(f"unknown learning-rate schedule {spec!r}: use constant, cosine or step:EVERY:GAMMA")
