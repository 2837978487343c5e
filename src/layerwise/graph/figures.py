"""The book's chapter-5 figures, computed by the graph (never typed in), and a registry.

Each function builds its graph, runs backward and returns it; ``figure(name)`` looks one up.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np

from layerwise.graph.core import Graph
from layerwise.graph.errors import UnknownFigureError
from layerwise.graph.fmt import format_value

__all__ = ["FIGURES", "figure", "apple", "apple_orange", "sigmoid", "affine", "softmax_loss"]


def apple(price: float = 100.0, num: float = 2.0, tax: float = 1.1) -> Graph:
    """Buying apples (figure 5-16): price·num·tax = 220; dApple 2.2, dApple_num 110, dTax 200."""
    g = Graph("apple")
    a, n, t = g.input("apple", price), g.input("apple_num", num), g.input("tax", tax)
    g.output(g.mul(g.mul(a, n), t), "price")
    g.backward()
    return g


def apple_orange(
    apple_price: float = 100.0,
    apple_num: float = 2.0,
    orange_price: float = 150.0,
    orange_num: float = 3.0,
    tax: float = 1.1,
) -> Graph:
    """Apples and oranges (figure 5-17): price 715; dApple 2.2, dApple_num 110, dOrange 3.3,
    dOrange_num 165, dTax 650."""
    g = Graph("apple-orange")
    apples = g.mul(g.input("apple", apple_price), g.input("apple_num", apple_num))
    oranges = g.mul(g.input("orange", orange_price), g.input("orange_num", orange_num))
    g.output(g.mul(g.add(apples, oranges), g.input("tax", tax)), "price")
    g.backward()
    return g


def _one_value(x: float | Sequence[float], figure: str) -> float:
    if isinstance(x, int | float | np.floating | np.integer):
        return float(x)
    values = list(x)
    if len(values) != 1:
        raise ValueError(f"figure {figure!r} takes one x value, got {len(values)}: {values}")
    return float(values[0])


def sigmoid(x: float | Sequence[float] = 0.5) -> Graph:
    """Sigmoid two ways (figures 5-20 and 5-21), side by side in one figure.

    Left: the decomposition x → ×(−1) → exp → +1 → / → y with the gradient at each step.
    Right: the one-node Sigmoid whose backward is dout·y(1 − y). Both give the same dL/dx.
    """
    xv = _one_value(x, "sigmoid")
    g = Graph("sigmoid")
    with g.group("Sigmoid as a computational graph"):
        x1 = g.input("x", xv, grad_tag="∂L/∂y·y²·exp(−x)")
        neg = g.mul(x1, g.const(-1.0), tag="−x", grad_tag="−∂L/∂y·y²·exp(−x)")
        ex = g.exp(neg, tag="exp(−x)", grad_tag="−∂L/∂y·y²")
        den = g.add(ex, g.const(1.0), tag="1+exp(−x)", grad_tag="−∂L/∂y·y²")
        y1 = g.reciprocal(den, tag="y", grad_tag="∂L/∂y")
        g.output(y1, "y")
    with g.group("Sigmoid layer: backward is dout·y(1 − y)"):
        x2 = g.input("x", xv, grad_tag="∂L/∂y·y(1−y)")
        y2 = g.sigmoid(x2, tag="y", grad_tag="∂L/∂y")
        g.output(y2, "y")
    g.backward()
    assert x1.grad is not None and x2.grad is not None  # both are inputs of an output
    g.note(f"x = {format_value(xv)}, y = {format_value(y2.value)}")
    g.note(
        f"step by step ∂L/∂x = {format_value(x1.grad)};  one node ∂L/∂y·y(1−y) = "
        f"{format_value(x2.grad)}  (∂L/∂y = 1)"
    )
    return g


def affine(seed: int = 0, n: int = 2, d_in: int = 2, d_out: int = 3) -> Graph:
    """The Affine layer on a batch (figure 5-27), edges labelled with matrix shapes.

    Forward Y = X·W + B with B repeated over the N rows; backward from a random dL/dY:
    dL/dX = dL/dY·Wᵀ, dL/dW = Xᵀ·dL/dY, dL/dB = dL/dY summed over the batch.
    X, W, B and dL/dY come from ``np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    x_val = rng.standard_normal((n, d_in))
    w_val = rng.standard_normal((d_in, d_out))
    b_val = rng.standard_normal(d_out)
    dy = rng.standard_normal((n, d_out))
    g = Graph("affine")
    g.shapes_only = True
    x = g.input("X", x_val, grad_tag="∂L/∂X = ∂L/∂Y·Wᵀ")
    w = g.input("W", w_val, grad_tag="∂L/∂W = Xᵀ·∂L/∂Y")
    xw = g.matmul(x, w, tag="X·W", grad_tag="∂L/∂Y")
    b = g.input("B", b_val, grad_tag="∂L/∂B = Σₙ ∂L/∂Y")
    bn = g.repeat(b, n, tag="B per row", grad_tag="∂L/∂Y")
    y = g.add(xw, bn, tag="Y", grad_tag="∂L/∂Y")
    g.output(y, "L")
    g.backward(dy)
    g.note(f"N = {n}; X, W, B and ∂L/∂Y drawn from np.random.default_rng({seed})")
    return g


def softmax_loss(x: Sequence[float] = (0.3, 2.9, 4.0), t: int = 2) -> Graph:
    """Softmax-with-Loss (figure 5-29): scores a, label t; backward at a is y − t.

    Softmax then Cross Entropy Error, each its own node; the gradient −t/y that leaves the
    loss turns into y − t after the softmax.
    """
    a_val = np.asarray(x, dtype=np.float64).reshape(-1)
    classes = a_val.size
    if classes < 2:
        raise ValueError(f"figure 'softmax-loss' needs at least 2 scores, got {classes}")
    if not 0 <= t < classes:
        raise ValueError(f"label t={t} is out of range for {classes} classes (0..{classes - 1})")
    onehot = np.zeros(classes)
    onehot[t] = 1.0
    g = Graph("softmax-loss")
    a = g.input("a", a_val, grad_tag="y − t")
    y = g.softmax(a, tag="y", grad_tag="−t/y")
    loss = g.cross_entropy(y, g.const(onehot, "t"))
    g.output(loss, "L")
    g.backward()
    g.note(f"y = softmax(a) = {format_value(y.value)},  t = {format_value(onehot)}")
    g.note(f"∂L/∂a = y − t = {format_value(a.grad if a.grad is not None else np.nan)}")
    return g


FIGURES: dict[str, Callable[..., Graph]] = {
    "apple": apple,
    "apple-orange": apple_orange,
    "sigmoid": sigmoid,
    "affine": affine,
    "softmax-loss": softmax_loss,
}


def figure(name: str, *, x: float | Sequence[float] | None = None, t: int | None = None) -> Graph:
    """The ready-made figure ``name`` (a key of :data:`FIGURES`), computed with backward run.

    ``x`` is the input of ``sigmoid`` (one value) or the scores of ``softmax-loss``; ``t`` the
    latter's label. Raises :class:`UnknownFigureError` naming the available figures.
    """
    try:
        func = FIGURES[name]
    except KeyError:
        raise UnknownFigureError(f"unknown figure {name!r}; available: {', '.join(FIGURES)}") from None
    params = inspect.signature(func).parameters
    kwargs: dict[str, object] = {}
    for key, value in (("x", x), ("t", t)):
        if value is None:
            continue
        if key not in params:
            takes = [k for k, f in FIGURES.items() if key in inspect.signature(f).parameters]
            raise ValueError(f"figure {name!r} takes no {key}; figures that do: {', '.join(takes)}")
        kwargs[key] = value
    return func(**kwargs)
