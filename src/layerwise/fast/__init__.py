"""The engine: kernels, the ReLU/pooling fusion and threads over the batch, behind one switch.

After ``import layerwise`` the engine is **off**: every layer, network and optimizer runs the
book's code, in the order ``net.layers`` lists, on the whole batch, in one thread, filling the
book's caches. The tools that train turn it on and say so (``layerwise train``,
:class:`~layerwise.training.trainer.Trainer` with ``fast=True``, the playground, the benchmarks)::

    import layerwise.fast as fast

    fast.enabled()          # False after import layerwise
    fast.enable()           # kernels, fusion (by a trainer), threads
    fast.disable()
    with fast.enabled():    # on for the block only; the previous setting comes back
        ...
    with fast.disabled():   # off for the block only
        ...

A layer hands off to a kernel in one line, by name, through :mod:`layerwise.fast.switch` (the
only part of the engine the book's files import), and only while the reference method is the
code the kernel was written against (:data:`layerwise.fast.reference.DIGESTS`): an edited
method runs as edited, engine or not. The kernels give the reference results up to float
rounding (``tests/test_fast_equivalence.py``). What each does differently:

* :mod:`layerwise.fast.conv`: Convolution unrolled chunk by chunk into reused buffers, the bias
  folded into the product, a memory order that later layers read in long runs;
* :mod:`layerwise.fast.pool`: Pooling over non-overlapping windows as a max over strided views;
* :mod:`layerwise.fast.affine`: Affine's ``dx`` in the memory order of its input;
* :mod:`layerwise.fast.softmax`: Softmax-with-Loss as one fused, class-major kernel;
* :mod:`layerwise.fast.optimizers`: the optimizers' updates in cache-sized blocks, large
  parameters in parts on threads, with reused scratch buffers;
* :mod:`layerwise.fast.training`: a training step and an evaluation with the batch split
  over threads (:mod:`layerwise.fast.parallel`) and each ReLU + max pooling pair fused, visibly.

Flip the switch between passes, not from another thread while a network is running.
"""

from __future__ import annotations

import importlib
from typing import Any

from layerwise.fast.switch import disable, disabled, enable, enabled, kernel_ran

__all__ = ["enabled", "enable", "disable", "disabled", "kernel_ran",
           "conv_forward", "conv_backward", "pool_forward", "pool_backward", "affine_backward",
           "softmax_cross_entropy"]

_LAZY = {"conv_forward": "conv", "conv_backward": "conv", "pool_forward": "pool", "pool_backward": "pool",
         "affine_backward": "affine", "softmax_cross_entropy": "softmax"}


def __getattr__(name: str) -> Any:  # the kernels, imported on first use
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'layerwise.fast' has no attribute {name!r}")
    return getattr(importlib.import_module(f"layerwise.fast.{module}"), name)
