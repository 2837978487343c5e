"""One table of layer cases that the gradient-check and no-mutation tests both go through.

Each case builds a layer and float64 inputs with shapes drawn from the given generator, so
the seeded sweep in the tests covers many shapes. New layers add a case here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import layerwise as lw


@dataclass
class Case:
    layer: Any
    x: Any  # an array, or a tuple of two arrays for MulLayer / AddLayer
    t: Any = None
    dout: Any = None


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # ReLU has a kink at 0: keep inputs at least 0.1 away so central differences are exact.
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, np.sign(x + 1e-12) * 0.1 + x, x)


def mul(rng: np.random.Generator) -> Case:
    shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 4)))
    return Case(lw.MulLayer(), (rng.standard_normal(shape), rng.standard_normal(shape)))


def mul_broadcast(rng: np.random.Generator) -> Case:
    n, m = (int(v) for v in rng.integers(2, 5, size=2))
    return Case(lw.MulLayer(), (rng.standard_normal((n, m)), rng.standard_normal((m,))))


def add(rng: np.random.Generator) -> Case:
    shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 4)))
    return Case(lw.AddLayer(), (rng.standard_normal(shape), rng.standard_normal(shape)))


def relu(rng: np.random.Generator) -> Case:
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 5)))
    return Case(lw.Relu(), _away_from_zero(rng, shape))


def sigmoid(rng: np.random.Generator) -> Case:
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 5)))
    return Case(lw.Sigmoid(), 3 * rng.standard_normal(shape))


def affine(rng: np.random.Generator) -> Case:
    n, i, o = (int(v) for v in rng.integers(1, 7, size=3))
    return Case(lw.Affine(rng.standard_normal((i, o)), rng.standard_normal(o)), rng.standard_normal((n, i)))


def affine_4d(rng: np.random.Generator) -> Case:
    n, c, h, w, o = (int(v) for v in rng.integers(1, 4, size=5))
    layer = lw.Affine(rng.standard_normal((c * h * w, o)), rng.standard_normal(o))
    return Case(layer, rng.standard_normal((n, c, h, w)))


def softmax_labels(rng: np.random.Generator) -> Case:
    n, c = (int(v) for v in rng.integers(1, 7, size=2))
    c = max(c, 2)
    return Case(lw.SoftmaxWithLoss(), 2 * rng.standard_normal((n, c)), rng.integers(0, c, n),
                dout=float(rng.uniform(0.5, 3.0)))


def softmax_onehot(rng: np.random.Generator) -> Case:
    n, c = (int(v) for v in rng.integers(2, 7, size=2))
    t = np.eye(c)[rng.integers(0, c, n)]
    return Case(lw.SoftmaxWithLoss(), 2 * rng.standard_normal((n, c)), t,
                dout=float(rng.uniform(0.5, 3.0)))


def identity_loss(rng: np.random.Generator) -> Case:
    n, c = (int(v) for v in rng.integers(1, 6, size=2))
    return Case(lw.IdentityWithLoss(), rng.standard_normal((n, c)), rng.standard_normal((n, c)),
                dout=float(rng.uniform(0.5, 3.0)))


def _batchnorm(rng: np.random.Generator, shape: tuple[int, ...], train: bool) -> Case:
    dim = shape[1]
    layer = lw.BatchNormalization(rng.uniform(0.5, 2.0, dim), rng.standard_normal(dim),
                                  running_mean=rng.standard_normal(dim),
                                  running_var=rng.uniform(0.5, 2.0, dim))
    layer.train(train)
    # a spread of values per feature keeps the batch variance well away from zero
    x = 2 * rng.standard_normal(shape) + rng.standard_normal(dim).reshape((1, dim) + (1,) * (len(shape) - 2))
    return Case(layer, x)


def batchnorm_2d(rng: np.random.Generator) -> Case:
    n, d = int(rng.integers(3, 7)), int(rng.integers(1, 5))
    return _batchnorm(rng, (n, d), train=True)


def batchnorm_4d(rng: np.random.Generator) -> Case:
    # N * H * W >= 4 samples per channel
    n, c, h, w = (int(v) for v in rng.integers([2, 1, 2, 1], [4, 4, 4, 4]))
    return _batchnorm(rng, (n, c, h, w), train=True)


def batchnorm_eval(rng: np.random.Generator) -> Case:
    n, d = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    return _batchnorm(rng, (n, d), train=False)


def batchnorm_4d_eval(rng: np.random.Generator) -> Case:
    n, c, h, w = (int(v) for v in rng.integers(1, 4, size=4))
    return _batchnorm(rng, (n, c, h, w), train=False)


def dropout(rng: np.random.Generator) -> Case:
    # check_gradients freezes the mask drawn by its first forward pass
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 5)))
    return Case(lw.Dropout(float(rng.uniform(0.1, 0.7)), rng=int(rng.integers(1 << 30))),
                rng.standard_normal(shape))


def dropout_fixed_mask(rng: np.random.Generator) -> Case:
    n, d = (int(v) for v in rng.integers(2, 6, size=2))
    layer = lw.Dropout(0.5)
    layer.fix_mask(rng.random((n, d)) < 0.5)
    return Case(layer, rng.standard_normal((n, d)))


def dropout_eval(rng: np.random.Generator) -> Case:
    n, d = (int(v) for v in rng.integers(1, 6, size=2))
    return Case(lw.Dropout(0.5, rng=0).eval(), rng.standard_normal((n, d)))


def _window(rng: np.random.Generator, k_max: int, max_pad: Callable[[int], int]) -> tuple[int, int, int, int]:
    """A random (kernel, stride, pad, input size) along one axis whose output size is exact."""
    k = int(rng.integers(1, k_max + 1))
    s = int(rng.integers(1, 4))
    p = int(rng.integers(0, max_pad(k) + 1))
    out = int(rng.integers(1, 4))
    size = (out - 1) * s + k - 2 * p
    if size < 1:  # too much padding for this output: drop it
        p, size = 0, (out - 1) * s + k
    return k, s, p, size


def convolution(rng: np.random.Generator) -> Case:
    fh, sh, ph, h = _window(rng, 3, lambda k: 2)
    fw, sw, pw, w = _window(rng, 3, lambda k: 2)
    n, c, fn = (int(v) for v in rng.integers(1, 4, size=3))
    layer = lw.Convolution(rng.standard_normal((fn, c, fh, fw)), rng.standard_normal(fn),
                           stride=(sh, sw), pad=(ph, pw))
    return Case(layer, rng.standard_normal((n, c, h, w)))


def convolution_square(rng: np.random.Generator) -> Case:
    # the book's form: square filter, one int stride and pad
    k, s, p, size = _window(rng, 3, lambda k: 1)
    n, c, fn = (int(v) for v in rng.integers(1, 3, size=3))
    layer = lw.Convolution(rng.standard_normal((fn, c, k, k)), rng.standard_normal(fn), stride=s, pad=p)
    return Case(layer, rng.standard_normal((n, c, size, size)))


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # max pooling has a kink where two window cells are equal: keep all values >= 0.01 apart
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2) * 0.05


def _pool(rng: np.random.Generator, mode: str, overlapping: bool) -> Case:
    if overlapping:
        ph, sh, pad_h, h = _window(rng, 3, lambda k: k // 2)
        pw, sw, pad_w, w = _window(rng, 3, lambda k: k // 2)
        layer = lw.Pooling(ph, pw, stride=(sh, sw), pad=(pad_h, pad_w), mode=mode)  # type: ignore[arg-type]
    else:  # the fast path: stride = pool size, no padding
        ph, pw = (int(v) for v in rng.integers(1, 4, size=2))
        oh, ow = (int(v) for v in rng.integers(1, 4, size=2))
        h, w = oh * ph, ow * pw
        layer = lw.Pooling(ph, pw, mode=mode)  # type: ignore[arg-type]
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    x = _distinct(rng, (n, c, h, w)) if mode == "max" else rng.standard_normal((n, c, h, w))
    return Case(layer, x)


CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    "MulLayer": mul,
    "MulLayer-broadcast": mul_broadcast,
    "AddLayer": add,
    "Relu": relu,
    "Sigmoid": sigmoid,
    "Affine": affine,
    "Affine-4d": affine_4d,
    "SoftmaxWithLoss-labels": softmax_labels,
    "SoftmaxWithLoss-onehot": softmax_onehot,
    "IdentityWithLoss": identity_loss,
    "BatchNormalization-2d": batchnorm_2d,
    "BatchNormalization-4d": batchnorm_4d,
    "BatchNormalization-eval": batchnorm_eval,
    "BatchNormalization-4d-eval": batchnorm_4d_eval,
    "Dropout": dropout,
    "Dropout-fixed-mask": dropout_fixed_mask,
    "Dropout-eval": dropout_eval,
    "Convolution": convolution,
    "Convolution-square": convolution_square,
    "Pooling-max": lambda rng: _pool(rng, "max", overlapping=True),
    "Pooling-max-fast": lambda rng: _pool(rng, "max", overlapping=False),
    "Pooling-avg": lambda rng: _pool(rng, "avg", overlapping=True),
    "Pooling-avg-fast": lambda rng: _pool(rng, "avg", overlapping=False),
}
