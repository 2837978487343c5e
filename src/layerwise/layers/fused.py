"""A ReLU and the max pooling after it as one layer, computed in the cheaper order.

ReLU commutes with max pooling: ``relu(max(w)) == max(relu(w))`` over any window ``w``, padded
with ``-inf`` or not, and the gradients agree too: a window whose maximum is positive sends its
gradient to the same (first) maximum either way, and one whose maximum is not positive sends
none. So pooling first and applying ReLU to the pooled values gives the same scores and
gradients (a zero's sign aside) while ReLU touches a quarter as many values for 2x2 pooling.

This is a rewrite of the book's layer list, so it is done visibly: :func:`fuse_relu_pool`
(``Sequential.fuse()``) puts a :class:`ReluPool` in place of each such pair, and the network's
``layers`` and ``repr`` show it. The book's order is the default; the engine's trainer fuses
for its run and says so (:mod:`layerwise.fast.training`), and :func:`unfuse_relu_pool` gives
the book's list back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from numpy.typing import ArrayLike

from layerwise.errors import ConfigError
from layerwise.layers.activation import Relu
from layerwise.layers.base import Array, Layer, check_config, layer_class
from layerwise.layers.pooling import Pooling

__all__ = ["ReluPool", "fuse_relu_pool", "unfuse_relu_pool"]


class ReluPool(Layer):
    """``Relu`` then max ``Pooling``, run as the pooling then the ReLU on the pooled values.

    ``forward(x)``: ``relu.forward(pool.forward(x))``; ``backward(dout)``:
    ``pool.backward(relu.backward(dout))``. The two layers are kept as :attr:`pool` and
    :attr:`relu`, with their caches: ``relu.mask`` has the pooled shape.
    """

    def __init__(self, pool: Pooling, relu: Relu | None = None) -> None:
        super().__init__()
        if type(pool) is not Pooling or pool.mode != "max":
            raise ConfigError(f"ReluPool: needs a max Pooling, got {pool!r}")
        self.pool = pool
        self.relu = Relu() if relu is None else relu

    def forward(self, x: ArrayLike) -> Array:
        return self.relu.forward(self.pool.forward(x))

    def backward(self, dout: ArrayLike) -> Array:
        return self.pool.backward(self.relu.backward(dout))

    def train(self, mode: bool = True) -> ReluPool:
        super().train(mode)
        self.pool.train(mode)
        self.relu.train(mode)
        return self

    def _config_args(self) -> dict[str, Any]:
        return {"pool": self.pool.get_config()}

    @classmethod
    def _from_config(cls, **args: Any) -> ReluPool:
        config = check_config(args, cls.__name__, ["pool"])["pool"]
        pool_cls, pool_args = layer_class(config)  # checked before it is built: no nesting
        if pool_cls is not Pooling:
            raise ConfigError(f"ReluPool: pool must be a Pooling config, got {pool_cls.__name__}")
        return cls(Pooling._from_config(**pool_args))

    def __repr__(self) -> str:
        return f"ReluPool(Relu then {self.pool!r}, run as the pooling first)"


def fuse_relu_pool(layers: Mapping[str, Layer]) -> dict[str, Layer]:
    """``layers`` with each :class:`Relu` directly followed by a max :class:`Pooling` (of
    exactly those classes: a subclass may do anything in ``forward``) replaced by one
    :class:`ReluPool` of the two, named ``"<relu name>+<pool name>"``."""
    out: dict[str, Layer] = {}
    items = list(layers.items())
    i = 0
    while i < len(items):
        name, layer = items[i]
        if i + 1 < len(items) and type(layer) is Relu:
            pool_name, pool = items[i + 1]
            if type(pool) is Pooling and pool.mode == "max":
                out[f"{name}+{pool_name}"] = ReluPool(pool, layer)
                i += 2
                continue
        out[name] = layer
        i += 1
    return out


def unfuse_relu_pool(layers: Mapping[str, Layer]) -> dict[str, Layer]:
    """The inverse of :func:`fuse_relu_pool`: each :class:`ReluPool` named ``"<relu>+<pool>"``
    back as its ``Relu`` and ``Pooling``, under their own names."""
    out: dict[str, Layer] = {}
    for name, layer in layers.items():
        if isinstance(layer, ReluPool) and name.count("+") == 1:
            relu_name, pool_name = name.split("+")
            out[relu_name], out[pool_name] = layer.relu, layer.pool
        else:
            out[name] = layer
    return out
