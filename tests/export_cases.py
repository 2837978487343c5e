"""The layer cases the exporters go through: tests/layer_cases.py's table, less the layers no
exporter translates (MulLayer, AddLayer) and the loss layers, plus the fused ReluPool.

tests/test_onnx_export.py and tests/test_torch_bridge.py both draw from here, and from
:func:`random_stack`, so the two exporters are checked on the same layers and networks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from layer_cases import CASES, Case

import layerwise as lw
from layerwise.layers.fused import ReluPool

#: Cases of layers alone, by name: every layer an exporter translates.
LAYER_CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    name: make for name, make in CASES.items()
    if not name.startswith(("MulLayer", "AddLayer", "SoftmaxWithLoss", "IdentityWithLoss"))
}


def relu_pool(rng: np.random.Generator) -> Case:
    """A ReluPool around one of the table's max Pooling cases (padding included)."""
    case = CASES["Pooling-max"](rng)
    return Case(ReluPool(case.layer), case.x)


LAYER_CASES["ReluPool"] = relu_pool

#: The loss layers' cases.
LOSS_CASES = {name: CASES[name] for name in
              ("SoftmaxWithLoss-labels", "SoftmaxWithLoss-onehot", "IdentityWithLoss")}


def _exact(size: int, k: int, s: int, p: int) -> bool:
    return size + 2 * p >= k and (size + 2 * p - k) % s == 0


def random_stack(rng: np.random.Generator, dtype: type = np.float32) -> tuple[lw.Sequential, np.ndarray]:
    """A random network of every exportable layer kind, in inference mode, and an input batch.

    Images first (Convolution, Pooling max/avg with padding, ReluPool, per-channel BatchNorm,
    Relu, Sigmoid, Dropout), then flat layers (Affine, per-feature BatchNorm...), ending in
    SoftmaxWithLoss or IdentityWithLoss. BatchNorm gets random running statistics, so that
    inference mode is not the identity.
    """
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10))
    first = shape = (c, h, w)
    layers: list[lw.Layer] = []
    bn_ok = False  # one BatchNorm per weight layer, after it (so that book-style keys are unique)

    def batchnorm(dim: int) -> lw.BatchNormalization:
        return lw.BatchNormalization(rng.uniform(0.5, 2.0, dim), rng.standard_normal(dim),
                                     eps=float(rng.choice([1e-6, 1e-3])), running_mean=rng.standard_normal(dim),
                                     running_var=rng.uniform(0.2, 3.0, dim))

    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(["conv", "max", "avg", "relupool", "bn", "relu", "sigmoid", "dropout"]))
        c, h, w = shape
        if kind in ("conv", "max", "avg", "relupool"):
            k, s = int(rng.integers(1, 4)), int(rng.integers(1, 3))
            p = int(rng.integers(0, k // 2 + 1)) if kind != "conv" else int(rng.integers(0, 3))
            if not (_exact(h, k, s, p) and _exact(w, k, s, p)):
                s = 1  # stride 1 always divides
            if not (_exact(h, k, s, p) and _exact(w, k, s, p)):
                continue
            oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            if kind == "conv":
                fn = int(rng.integers(1, 4))
                layers.append(lw.Convolution(rng.standard_normal((fn, c, k, k)), rng.standard_normal(fn),
                                             stride=s, pad=p))
                shape, bn_ok = (fn, oh, ow), True
            else:
                mode = "avg" if kind == "avg" else "max"
                pool = lw.Pooling(k, k, stride=s, pad=p, mode=mode)  # type: ignore[arg-type]
                layers.append(ReluPool(pool) if kind == "relupool" else pool)
                shape = (c, oh, ow)
        elif kind == "bn" and bn_ok:
            layers.append(batchnorm(c))
            bn_ok = False
        elif kind != "bn":
            layers.append({"relu": lw.Relu, "sigmoid": lw.Sigmoid, "dropout": lw.Dropout}[kind]())
    n_in = int(np.prod(shape))
    for _ in range(int(rng.integers(1, 3))):
        n_out = int(rng.integers(2, 7))
        layers.append(lw.Affine(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), rng.standard_normal(n_out)))
        extra = str(rng.choice(["bn", "relu", "sigmoid", "dropout", "none"]))
        if extra == "bn":
            layers.append(batchnorm(n_out))
        elif extra != "none":
            layers.append({"relu": lw.Relu, "sigmoid": lw.Sigmoid, "dropout": lw.Dropout}[extra]())
        n_in = n_out
    loss = lw.SoftmaxWithLoss() if rng.random() < 0.7 else lw.IdentityWithLoss()
    net = lw.Sequential(layers, loss).astype(dtype).eval()
    x = rng.standard_normal((int(rng.integers(1, 5)), *first)).astype(dtype)
    return net, x
