"""Data parallelism across processes: synchronous training over MPI (``mpi4py``), as Horovod does it.

Started by ``mpirun -n N``, every process (a *rank*) holds the whole network. Each global
batch of ``B`` samples, drawn from the same seeded permutation on every rank, is cut into
``N`` contiguous shards (:func:`shard_bounds`, the bounds of
:meth:`layerwise.fast.parallel.DataParallel.split`); rank ``r`` runs forward and backward of the
``r``-th with its loss scaled by its share ``n_r / B``, and one ``Allreduce`` (MPI's buffer
interface, no pickling) sums the gradients, packed into one contiguous buffer of their own
dtype. Every rank then holds the gradient of the global batch's mean loss, the one a single
process computes up to float rounding, and applies the same update: the weights stay the
same on every rank, bit for bit. It is :class:`~layerwise.fast.parallel.DataParallel`'s seam
(split, run the shards, sum the gradients) with processes for threads and an allreduce for
the sum.

What else keeps the ranks in step (:class:`DistributedTrainer`, which ``layerwise train``
uses under ``mpirun``):

- at start the ranks compare their layerwise and NumPy versions, architectures, data,
  settings and random states (:meth:`World.agree`), then rank 0's parameters and buffers
  are broadcast (:meth:`World.broadcast_network`);
- Dropout: every rank draws the whole batch's mask from the layer's generator (which is in
  the same state on every rank) and applies its own slice, so the masks are those of a
  single-process run, whatever ``N``;
- BatchNormalization in training mode normalises by the statistics of the whole global
  batch, not of its shard (SyncBatchNorm; Horovod's default would be per shard): for the
  step, each such layer becomes a :class:`_SyncBatchNorm`, whose forward pass allreduces the
  per-feature sums for the mean and then the sums of squared deviations for the variance,
  and whose backward pass allreduces the two sums in ``dx``, with the counts of the global
  batch (the shards may differ in size). Its running statistics therefore update to the
  same values on every rank, those of one process; after the step the layer is a plain
  BatchNormalization again, so model files and checkpoints are those of a one-process run.
  Three allreduces per such layer and step, besides the gradients' one (see
  :meth:`World.train_step`);
- evaluation is split across ranks and the counts and losses summed (:meth:`World.evaluate`);
- rank 0 alone logs, shows progress and writes checkpoints.

A book-style loop (chapter 5's ``train_neuralnet.py``) on the module-level functions::

    import layerwise as lw
    dist = lw.distributed
    rng = np.random.default_rng(0)                   # the same seed on every rank
    net = lw.TwoLayerNet(784, 50, 10, rng=rng)
    dist.broadcast_parameters(net)
    for i in range(iters_num):
        idx = rng.choice(train_size, batch_size)     # the same batch on every rank
        x_shard, t_shard = dist.shard(x_train[idx], t_train[idx])
        grads = dist.allreduce_mean(net.gradient(x_shard, t_shard), weight=len(x_shard))
        optimizer.update(net.params, grads)

Faults: an exception on one rank after the start would leave the others waiting in the next
collective call forever; :meth:`World.abort_on_error` (which ``layerwise train`` uses)
reports it and ends every rank with ``MPI_Abort``. A rank that dies is noticed by
``mpirun``, which ends the others.
"""

from __future__ import annotations

from layerwise.fast.distributed.functions import (
    allreduce_mean,
    average_buffers,
    broadcast_parameters,
    init,
    rank,
    shard,
    size,
)
from layerwise.fast.distributed.startup import run_command, starting
from layerwise.fast.distributed.trainer import DistributedTrainer
from layerwise.fast.distributed.world import SIZE_VARIABLES, DistributedError, World, launched, shard_bounds

__all__ = ["launched", "init", "World", "DistributedTrainer", "DistributedError", "shard_bounds",
           "shard", "allreduce_mean", "broadcast_parameters", "average_buffers", "rank", "size",
           "SIZE_VARIABLES", "starting", "run_command"]
