"""BatchNormalization with the batch statistics of the whole global batch, for one distributed step
(SyncBatchNorm)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import ConfigError, ShapeError
from layerwise.fast import parallel
from layerwise.layers.normalization import BatchNormalization
from layerwise.networks.sequential import Sequential


class Communicator(Protocol):
    """What a synchronised BatchNormalization uses of its :class:`~layerwise.fast.distributed.World`."""

    size: int

    def allreduce_sum(self, buf: NDArray[Any]) -> NDArray[Any]: ...


class _SyncBatchNorm(BatchNormalization):
    """BatchNormalization whose batch statistics are those of the whole global batch
    (SyncBatchNorm), for one :meth:`World.train_step`.

    :func:`_synced_batchnorm` turns each training-mode BatchNormalization of a network into
    one of these for the step (by its ``__class__``: the same object, arrays and caches) and
    back after it, so that everything outside a step (evaluation, ``state_dict``, model files,
    checkpoints, copies) sees plain BatchNormalization layers. The book's formulas are
    unchanged; only the sums over the batch axis become sums over every rank's rows, and the
    counts the global ones (``M``: the global batch's samples, times ``H * W`` per channel
    for images), whatever the shards' sizes:

    - forward, two passes (as one process computes the variance, with no cancellation):
      allreduce ``sum(x)`` for ``mu = sum / M``, then ``sum((x - mu)**2)`` for ``var``;
      every rank then holds the same ``mu`` and ``var``, and updates the running statistics
      to the same values, those of a single process;
    - backward: allreduce ``sum(dxn)`` and ``sum(dxn * xn)`` (one buffer) for the two means
      in ``dx = (dxn - mean(dxn) - xn * mean(dxn * xn)) / std``, which makes ``dx`` for this
      rank's rows the one a single process computes for them. ``dgamma`` and ``dbeta`` stay
      this shard's sums: the step's gradient allreduce adds them up with the others.

    The allreduces are in the layer's dtype (float32 normally), as the one-process layer
    accumulates its sums: the results differ from it only in the order of the additions.
    """

    _world: Communicator
    _samples: int  # of the global batch, this step
    _count: int  # values per feature in the global batch: _samples, times H * W for images
    _phase: int  # collective calls made this step: 0 none, 1 those of forward, 2 backward's too

    @property
    def name(self) -> str:
        return "BatchNormalization"

    def _sync(self, world: Communicator, samples: int, rows_per_sample: int) -> None:
        self._world, self._samples, self._count, self._phase = world, samples, samples * rows_per_sample, 0

    def _global_moments(self, x2: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        """``(mu, xc, var)`` of the global batch of which ``x2`` holds this rank's rows (two
        allreduces), the running statistics updated with them."""
        m = self._count
        if m < 2:
            raise ShapeError(
                f"BatchNormalization: training mode needs at least 2 values per feature to normalise "
                f"by batch statistics, got {m} in the whole batch of {self._samples}; use a larger "
                "batch, or eval() mode")
        mu = self._world.allreduce_sum(np.ascontiguousarray(x2.sum(axis=0))) / m
        xc = x2 - mu
        var = self._world.allreduce_sum(np.ascontiguousarray(np.sum(xc * xc, axis=0))) / m
        mom = self.momentum  # as BatchNormalization.forward: in place, in the buffers' dtype
        self.running_mean *= mom
        self.running_mean += (1.0 - mom) * mu
        self.running_var *= mom
        self.running_var += (1.0 - mom) * var
        self._phase = 1
        return mu, xc, var

    def forward(self, x: Any) -> NDArray[Any]:
        if not self.training:
            return super().forward(x)
        x = self._input(x)
        x2 = self._to_2d(x)
        if x2.shape[0] != len(x) * (self._count // self._samples):
            raise ShapeError(f"BatchNormalization: input {x.shape} in a distributed step whose "
                             f"inputs have {self._count // self._samples} values per channel")
        _, xc, var = self._global_moments(x2)
        std = np.sqrt(var + self.gamma.dtype.type(self.eps))
        xn = xc / std
        self.input_shape = x.shape
        self.batch_size = self._count
        self.xn, self.std = xn, std
        self._train_stats = True
        return self._from_2d(self.gamma * xn + self.beta, x.shape)

    def backward(self, dout: Any) -> NDArray[Any]:
        if not self._train_stats:
            return super().backward(dout)
        self._require(self.xn)
        assert self.xn is not None and self.std is not None and self.input_shape is not None
        assert self.batch_size is not None
        d = self._to_2d(self._dout(dout, self.input_shape, self.gamma.dtype))
        xn = self.xn
        self.dbeta = d.sum(axis=0)
        self.dgamma = np.sum(d * xn, axis=0)
        dxn = self.gamma * d
        sums = self._world.allreduce_sum(np.concatenate([dxn.sum(axis=0), np.sum(dxn * xn, axis=0)]))
        self._phase = 2
        mean_dxn, mean_dxn_xn = np.split(sums / self.batch_size, 2)
        dx = (dxn - mean_dxn - xn * mean_dxn_xn) / self.std
        return self._from_2d(dx, self.input_shape)

    @staticmethod
    def take_part(layers: list[_SyncBatchNorm]) -> None:
        """Make the collective calls that ``layers`` (a network's synchronised BatchNorms, in
        order) have not made this step, with nothing of this rank in them: the rest of the
        forward passes in order (which update the running statistics as on the other ranks),
        then the backward passes in reverse order. For a rank whose shard is empty, or whose
        step stopped at a non-finite loss; nothing after a complete step."""
        for layer in layers:
            if layer._phase == 0:
                layer._global_moments(np.zeros((0, layer.gamma.shape[0]), layer.gamma.dtype))
        for layer in reversed(layers):
            if layer._phase == 1:
                layer._world.allreduce_sum(np.zeros(2 * layer.gamma.shape[0], layer.gamma.dtype))
                layer._phase = 2


@contextmanager
def _synced_batchnorm(net: Sequential, world: Communicator, x: NDArray[Any],
                      samples: int) -> Iterator[list[_SyncBatchNorm]]:
    """For the block (one training step of a global batch of ``samples``, of which ``x`` is
    this rank's part, perhaps empty), each training-mode BatchNormalization of ``net`` is a
    :class:`_SyncBatchNorm` of ``world``; yields them, in order. Afterwards they are plain
    BatchNormalization layers again (the synchronisation's attributes removed), also if the
    block raises. The global count of each layer comes from its input's shape per sample
    (measured once on a sample of zeros, so a rank with an empty shard knows it too)."""
    layers: list[_SyncBatchNorm] = []
    bns = [(name, layer) for name, layer in net.layers.items()
           if isinstance(layer, BatchNormalization) and layer.training]
    if world.size > 1 and bns:
        shapes = parallel.DataParallel(net).input_shapes(np.zeros((1, *x.shape[1:]), x.dtype))
        for name, layer in bns:
                if type(layer) is not BatchNormalization:
                    raise ConfigError(f"distributed training synchronises BatchNormalization's batch "
                                      f"statistics across ranks, and cannot do it for its subclass "
                                      f"{type(layer).__name__}")
                layer.__class__ = _SyncBatchNorm
                assert isinstance(layer, _SyncBatchNorm)
                layer._sync(world, samples, math.prod(shapes[name][1:]))  # 1, or H * W
                layers.append(layer)
    try:
        yield layers
    finally:
        for layer in layers:
            plain: BatchNormalization = layer
            plain.__class__ = BatchNormalization
            for attr in ("_world", "_samples", "_count", "_phase"):
                plain.__dict__.pop(attr, None)
