"""The engine's training step and evaluation: what a trainer calls instead of the book's API.

With the engine off these are the book's :meth:`~layerwise.networks.Sequential.loss_and_gradient`
and :meth:`~layerwise.networks.Sequential.evaluate`. With it on, a large batch of a large
network is split over threads (:class:`layerwise.fast.parallel.DataParallel`, the same result up to
float rounding), the first layer's ``dx`` is skipped, and :func:`fused` rewrites each ReLU and
the max pooling after it into one visible ``Relu1+Pool1`` layer for the length of a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from numpy.typing import ArrayLike, NDArray

from layerwise.fast.switch import enabled
from layerwise.layers.fused import ReluPool, fuse_relu_pool, unfuse_relu_pool

__all__ = ["loss_and_gradient", "evaluate", "accuracy", "fused", "describe"]


def loss_and_gradient(net: Any, x: ArrayLike, t: ArrayLike) -> tuple[float, dict[str, NDArray[Any]]]:
    """One training step's ``(loss, grads)``: the engine's when it is on, else the book's."""
    if not enabled():
        result: tuple[float, dict[str, NDArray[Any]]] = net.loss_and_gradient(x, t)
        return result
    from layerwise.fast.parallel import DataParallel

    return DataParallel(net).loss_and_gradient(x, t)


def evaluate(net: Any, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> tuple[float, float]:
    """``(loss, accuracy)`` in inference mode: batches over threads when the engine is on."""
    if not enabled():
        result: tuple[float, float] = net.evaluate(x, t, batch_size)
        return result
    from layerwise.fast.parallel import DataParallel

    return DataParallel(net).evaluate(x, t, batch_size)


def accuracy(net: Any, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> float:
    """The accuracy in inference mode: batches over threads when the engine is on."""
    if not enabled():
        return float(net.accuracy(x, t, batch_size))
    from layerwise.fast.parallel import DataParallel

    return float(DataParallel(net).accuracy(x, t, batch_size))


@contextmanager
def fused(net: Any) -> Iterator[list[str]]:
    """Inside the block, each ``Relu`` directly followed by a max ``Pooling`` in ``net.layers``
    runs as one visible ``ReluPool`` (named ``"Relu1+Pool1"``): the same values and gradients,
    a faster step. Yields the fused names (none when the engine is off); the book's list comes
    back after the block."""
    if not enabled():
        yield []
        return
    before = dict(net.layers)
    net.layers = fuse_relu_pool(before)
    names = [name for name, layer in net.layers.items() if isinstance(layer, ReluPool) and name not in before]
    try:
        yield names
    finally:
        if names:
            net.layers = unfuse_relu_pool(net.layers)


def describe(fused_names: list[str] | None = None) -> str:
    """One line naming the engine's state, for what a tool prints and records."""
    if not enabled():
        return "off (the book's code: layers/, one thread)"
    parts = ["kernels, the batch over threads where that is worth it"]
    if fused_names:
        parts.append(f"{', '.join(fused_names)} fused for this run")
    return "on (" + "; ".join(parts) + ")"
