"""The :class:`~layerwise.training.trainer.Trainer` of a distributed run: each rank a shard of every batch."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.fast.distributed.functions import init
from layerwise.fast.distributed.world import World, digest, versions
from layerwise.training.trainer import EpochRecord, Trainer


# -- the trainer -------------------------------------------------------------------------------------
class DistributedTrainer(Trainer):
    """:class:`~layerwise.training.trainer.Trainer` on every rank of an MPI job, data-parallel.

    The same arguments as ``Trainer`` (each rank gives the whole data set and the same seed),
    and ``world`` (by default :func:`init`'s). Every rank must call :meth:`fit` (and any
    evaluation) together. At the start of :meth:`fit` the ranks compare versions, model,
    data, batch size, optimizer state and random states (:meth:`World.agree`), then rank 0's
    weights are broadcast. Each step takes this rank's shard of the global batch
    (:meth:`World.train_step`); augmentation, if set, transforms the whole batch on every
    rank (so the generator stays the same on all of them) and each keeps its shard.
    BatchNormalization uses the global batch's statistics, so its running statistics stay
    the same on every rank and need no averaging before evaluating or saving. Only rank 0
    logs, shows progress and writes checkpoints.
    """

    def __init__(self, *args: Any, world: World | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.world = world if world is not None else init()
        if not self.world.is_root:
            self.progress, self.log, self.checkpoint = False, None, None

    def facts(self) -> dict[str, str]:
        """What every rank's run must share, as text by name (see :meth:`World.agree`)."""
        net = self.network
        shapes = ", ".join(f"{k} {'x'.join(map(str, v.shape))}" for k, v in net.params.items())
        data = [a for a in (self.x_train, self.t_train, self.x_test, self.t_test) if a is not None]
        tests = "" if self.x_test is None else f", {len(self.x_test)} test samples"
        state_fn = getattr(self.optimizer, "state_dict", None)
        opt_state = state_fn() if state_fn is not None else {}
        rngs = [self.rng, *(gen for layer in net.layers.values()  # Dropout's
                            if isinstance(gen := getattr(layer, "rng", None), np.random.Generator))]
        return {
            "version": versions(),
            "model": f"{type(net).__name__} ({shapes}) [{digest(net.get_config())}]",
            "data": f"{len(self.x_train)} training samples{tests} [{digest(*data)}]",
            "schedule": f"batch {self.batch_size}, {self.epochs} epochs, {self.epoch} done",
            "optimizer": f"{type(self.optimizer).__name__} [{digest(*opt_state.values())}]",
            "random": f"[{digest(*(g.bit_generator.state for g in rngs))}]",
        }

    def fit(self) -> list[EpochRecord]:
        """Check that the ranks agree, broadcast rank 0's weights, and train (collective)."""
        self.world.agree(self.facts())
        self.world.broadcast_network(self.network)
        return super().fit()

    def _loss_and_gradient(self, idx: NDArray[np.intp]) -> tuple[float, dict[str, NDArray[Any]]]:
        lo, hi = self.world.bounds(len(idx))
        if self.augment is None:
            x = self.x_train[idx[lo:hi]]
        else:
            x = self.augment(self.x_train[idx], self.rng)[lo:hi]
        return self.world.train_step(self.network, x, self.t_train[idx[lo:hi]], len(idx))

    def _score(self, x: NDArray[Any], t: NDArray[Any], with_loss: bool = True,
               batch_size: int | None = None) -> tuple[float, float]:
        return self.world.evaluate(self.network, x, t, batch_size, with_loss)

    def save_checkpoint(self, path: Any) -> None:
        """Rank 0 writes the checkpoint (the ranks' states are the same); the others do nothing."""
        if self.world.is_root:
            super().save_checkpoint(path)
