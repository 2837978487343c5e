"""The job's default world and the book-style functions on it (``shard``, ``allreduce_mean``...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from numpy.typing import NDArray

from layerwise.fast.distributed.world import World
from layerwise.networks.sequential import Sequential

# -- the default world and the book-style functions ------------------------------------------------
_world: World | None = None


def init() -> World:
    """The job's :class:`World` (``MPI.COMM_WORLD``), made on first use; initialises MPI."""
    global _world
    if _world is None:
        _world = World()
    return _world


def rank() -> int:
    """This process's rank in the job (0 for the one that prints and writes)."""
    return init().rank


def size() -> int:
    """The number of processes in the job."""
    return init().size


def shard(*arrays: NDArray[Any]) -> tuple[NDArray[Any], ...]:
    """This rank's contiguous part of each array (a batch, or a batch's inputs and targets)."""
    return init().shard(*arrays)


def allreduce_mean(grads: Mapping[str, NDArray[Any]], weight: float = 1.0) -> dict[str, NDArray[Any]]:
    """Collective: the mean over the ranks of ``grads`` (see :meth:`World.allreduce_mean`;
    pass ``weight=len(x_shard)`` when shards may differ in size)."""
    return init().allreduce_mean(grads, weight)


def broadcast_parameters(net: Sequential) -> None:
    """Collective: rank 0's parameters and buffers into ``net`` on every rank."""
    init().broadcast_network(net)


def average_buffers(net: Sequential) -> None:
    """Collective: BatchNorm's running statistics averaged over the ranks, in place (for a
    book-style loop, whose BatchNorm layers see only their own shard)."""
    init().average_buffers(net)
