"""The book's chapter-5 figures, computed by the graph (never typed in), and a registry.

Each function builds its graph, runs backward and returns it; ``figure(name)`` looks one up.

Arguments are checked before anything is computed: a NaN, an infinity, a label out of range or
a wrong count of values raises :class:`~layerwise.errors.ConfigError` with a one-line message
naming the argument, what was expected and what was given. The figures agree with the
library's layers for any finite input (``softmax-loss`` at x = (1000, 0, 0), t = 1 gives
L = 1000 and ∂L/∂a = (1, −1, 0), as ``SoftmaxWithLoss``); where a result is more than float64
can hold (a loss of 2e308), the figure raises ``ConfigError`` rather than draw ``inf``.
"""

from __future__ import annotations

import inspect
import math
import numbers
import reprlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from layerwise.errors import ConfigError
from layerwise.figures.graph.drawable import Graph
from layerwise.figures.graph.errors import UnknownFigureError
from layerwise.figures.graph.fmt import format_number, format_value
from layerwise.figures.graph.ops import Array, SoftmaxWithLossOfOutputs

__all__ = ["FIGURES", "figure", "apple", "apple_orange", "relu", "sigmoid", "affine", "softmax_loss"]


#: The largest batch or layer size the ``affine`` figure draws (it shows shapes, not values).
MAX_AFFINE_SIZE = 1000


def _number(figure: str, name: str, value: object) -> float:
    """``value`` as a float; :class:`ConfigError` unless it is a finite real number."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"figure {figure!r}: {name}: expected a finite number, got {reprlib.repr(value)}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        shown = v if isinstance(value, float) else reprlib.repr(value)
        raise ConfigError(f"figure {figure!r}: {name}: expected a finite number, got {shown}")
    return v


def _numbers(figure: str, x: object) -> list[float]:
    """``x`` as finite floats: one number, or a flat sequence of them (list, tuple, 1-D array)."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return [_number(figure, "x", x)]
    if isinstance(x, str | bytes) or not isinstance(x, Iterable):
        raise ConfigError(
            f"figure {figure!r}: x: expected a number or a sequence of numbers, got {reprlib.repr(x)}"
        )
    return [_number(figure, f"x[{i}]", v) for i, v in enumerate(x)]


def _integer(figure: str, name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``low..high``; :class:`ConfigError` otherwise."""
    wanted = f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"figure {figure!r}: {name}: expected {wanted}, got {reprlib.repr(value)}")
    v = int(value)
    if v < low or (high is not None and v > high):
        raise ConfigError(f"figure {figure!r}: {name}: expected {wanted}, got {v}")
    return v


def _require_finite(g: Graph, given: str) -> None:
    """:class:`ConfigError` if an output or an input's gradient is beyond float64 (inf, nan).

    The figures compute with NumPy's floating-point warnings off, so a value float64 cannot
    hold ends here as one message, not as warnings and a drawing of ``inf``. Inner edges may
    still show ``inf`` where that is the true float64 value (``exp(1000)``); each figure says
    so in a note.
    """
    checks: list[tuple[str, Array | None]] = [(f"the output {n.label!r}", n.value) for n in g.outputs]
    checks += [(f"the gradient at {n.label!r}", n.grad) for n in g.nodes if n.op == "input"]
    for what, value in checks:
        if value is not None and not np.all(np.isfinite(value)):
            raise ConfigError(
                f"figure {g.name!r}: {what} is {format_value(value)} for {given}: more than float64 can hold"
            )


def _given(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={format_number(v)}" for k, v in values.items())


@contextmanager
def _quiet() -> Iterator[None]:
    """NumPy's overflow warnings off: inside a figure, _require_finite names the inputs."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        yield


def apple(price: float = 100.0, num: float = 2.0, tax: float = 1.1) -> Graph:
    """Buying apples (figure 5-16): price·num·tax = 220; dApple 2.2, dApple_num 110, dTax 200."""
    values = {"apple": price, "apple_num": num, "tax": tax}
    checked = {k: _number("apple", k, v) for k, v in values.items()}
    with _quiet():
        g = Graph("apple")
        a, n, t = (g.input(k, v) for k, v in checked.items())
        g.output(g.mul(g.mul(a, n), t), "price")
        g.backward()
    _require_finite(g, _given(checked))
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
    values = {
        "apple": apple_price,
        "apple_num": apple_num,
        "orange": orange_price,
        "orange_num": orange_num,
        "tax": tax,
    }
    v = {k: _number("apple-orange", k, x) for k, x in values.items()}
    with _quiet():
        g = Graph("apple-orange")
        apples = g.mul(g.input("apple", v["apple"]), g.input("apple_num", v["apple_num"]))
        oranges = g.mul(g.input("orange", v["orange"]), g.input("orange_num", v["orange_num"]))
        g.output(g.mul(g.add(apples, oranges), g.input("tax", v["tax"])), "price")
        g.backward()
    _require_finite(g, _given(v))
    return g


def relu(x: float | Sequence[float] = (-1.0, 2.0)) -> Graph:
    """ReLU (figure 5-18): where x > 0 the value passes forward and ∂L/∂y passes back; where
    x ≤ 0 the layer sends 0 forward and 0 back. ``x`` is one value or several (each its own
    entry of one array); backward starts from ∂L/∂y = 1 for every entry."""
    xs = np.array(_numbers("relu", x), dtype=np.float64)
    g = Graph("relu")
    a = g.input("x", xs if xs.size > 1 else xs[0], grad_tag="∂L/∂y where x > 0, else 0")
    y = g.relu(a, tag="y", grad_tag="∂L/∂y")
    g.output(y, "y")
    g.backward()
    assert a.grad is not None
    g.note(f"x > 0: {format_value(xs > 0) if xs.size > 1 else bool(xs[0] > 0)} (the layer's mask is x <= 0)")
    g.note(f"forward y = {format_value(y.value)};  backward ∂L/∂x = {format_value(a.grad)}  (∂L/∂y = 1)")
    return g


def _one_value(x: float | Sequence[float], figure: str) -> float:
    """``x`` as one finite float: a number, or a sequence of exactly one."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, Iterable) and not isinstance(x, str | bytes):
        values = list(x)
        if len(values) != 1:
            raise ConfigError(
                f"figure {figure!r} takes one x value, got {len(values)}: {reprlib.repr(values)}"
            )
        x = values[0]
    return _number(figure, "x", x)


def sigmoid(x: float | Sequence[float] = 0.5) -> Graph:
    """Sigmoid two ways (figures 5-20 and 5-21), side by side in one figure.

    Left: the decomposition x → ×(−1) → exp → +1 → / → y with the gradient at each step.
    Right: the one-node Sigmoid whose backward is dout·y(1 − y). Both give the same dL/dx.

    For x below about −709.78, exp(−x) is more than float64 can hold: that edge shows ``inf``,
    1/inf = 0 and the steps' gradients are 0, never NaN (the one-node y(1 − y) is below 1e-308
    there). Below x ≈ −354, y² is below float64's normal range and the steps' ∂L/∂x loses its
    digits. A note under the figure says when either happens: float64 as it is, not a bug.
    """
    xv = _one_value(x, "sigmoid")
    with _quiet():
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
    _require_finite(g, f"x={format_number(xv)}")
    assert x1.grad is not None and x2.grad is not None  # both are inputs of an output
    g.note(f"x = {format_value(xv)}, y = {format_value(y2.value)}")
    g.note(
        f"step by step ∂L/∂x = {format_value(x1.grad)};  one node ∂L/∂y·y(1−y) = "
        f"{format_value(x2.grad)}  (∂L/∂y = 1)"
    )
    if np.isinf(ex.value):
        g.note(
            f"exp(−x) = exp({format_number(-xv)}) is more than float64 can hold, drawn as inf, "
            "so the steps give y = 1/inf = 0"
        )
    if not np.isclose(x1.grad, x2.grad, rtol=1e-6, atol=0.0):
        # y² is below float64's normal range (x < −354): the steps' product loses its digits
        log_y2 = -2.0 * float(np.logaddexp(0.0, -xv))
        g.note(
            f"−∂L/∂y·y² = −exp({format_number(log_y2)}) is below what float64 holds exactly, "
            f"so the steps give ∂L/∂x = {format_value(x1.grad)} where y(1−y) = {format_value(x2.grad)}"
        )
    return g


def affine(seed: int = 0, n: int = 2, d_in: int = 2, d_out: int = 3) -> Graph:
    """The Affine layer on a batch (figure 5-27), edges labelled with matrix shapes.

    Forward Y = X·W + B with B repeated over the N rows; backward from a random dL/dY:
    dL/dX = dL/dY·Wᵀ, dL/dW = Xᵀ·dL/dY, dL/dB = dL/dY summed over the batch.
    X, W, B and dL/dY come from ``np.random.default_rng(seed)``.
    """
    seed = _integer("affine", "seed", seed, 0)
    n = _integer("affine", "n", n, 1, MAX_AFFINE_SIZE)
    d_in = _integer("affine", "d_in", d_in, 1, MAX_AFFINE_SIZE)
    d_out = _integer("affine", "d_out", d_out, 1, MAX_AFFINE_SIZE)
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


def softmax_loss(x: Sequence[float] | None = None, t: int = 2, y: Sequence[float] | None = None) -> Graph:
    """Softmax-with-Loss (figure 5-29): scores a, label t; backward at a is y − t.

    Softmax then Cross Entropy Error, each its own node; the gradient −t/y that leaves the
    loss turns into y − t after the softmax. The loss and y − t are computed from the scores,
    L = log Σ exp(a) − a_t, as :class:`~layerwise.layers.SoftmaxWithLoss` does
    (:class:`~layerwise.figures.graph.ops.SoftmaxCrossEntropy`), so they stay exact when y_t underflows
    to 0 (x = (1000, 0, 0), t = 1: L = 1000, y − t = (1, −1, 0)). The edge between the two nodes
    then shows −t/y as float64 has it, ``-inf``, and a note says why.

    With ``y`` (softmax outputs, instead of the scores ``x``) the layer is drawn as one box from
    y, the simplified figure 5-30 with the chapter's worked examples: for t = 1,
    y = (0.3, 0.2, 0.5) sends back (0.3, −0.8, 0.5) and y = (0.01, 0.99, 0) sends back
    (0.01, −0.01, 0).
    """
    if y is not None:
        if x is not None:
            raise ConfigError("figure 'softmax-loss' takes the scores x or the softmax outputs y, not both")
        return _softmax_loss_of_outputs(y, t)
    a_val = np.array(_numbers("softmax-loss", (0.3, 2.9, 4.0) if x is None else x), dtype=np.float64)
    classes = a_val.size
    if classes < 2:
        raise ConfigError(f"figure 'softmax-loss' needs at least 2 scores in x, got {classes}")
    if isinstance(t, bool) or not isinstance(t, numbers.Integral):
        raise ConfigError(f"figure 'softmax-loss': label t: expected an integer, got {reprlib.repr(t)}")
    onehot = _one_hot(t, classes)
    t = int(t)
    with _quiet():
        g = Graph("softmax-loss")
        a = g.input("a", a_val, grad_tag="y − t")
        y = g.softmax(a, tag="y", grad_tag="−t/y")
        loss = g.cross_entropy(y, g.const(onehot, "t"))
        g.output(loss, "L")
        g.backward()
    _require_finite(g, f"x={reprlib.repr(a_val.tolist())}, t={t}")
    g.note(f"y = softmax(a) = {format_value(y.value)},  t = {format_value(onehot)}")
    g.note(f"∂L/∂a = y − t = {format_value(a.grad if a.grad is not None else np.nan)}")
    [between] = y.outputs
    if between.grad is not None and not np.all(np.isfinite(between.grad)):
        # y[t] = exp(−L) exactly, L being computed from the scores
        how = "underflows to 0" if y.value[t] == 0 else "is so small that 1/y overflows"
        g.note(
            f"y[{t}] = exp({format_number(-float(loss.value))}) {how} in float64, so −t/y shows "
            "-inf; L = log Σ exp(a) − a[t] and y − t come from a, as in SoftmaxWithLoss"
        )
    return g


def _one_hot(t: object, classes: int) -> np.ndarray:
    """Label ``t`` as a one-hot vector; :class:`ConfigError` unless an integer in range."""
    if isinstance(t, bool) or not isinstance(t, numbers.Integral):
        raise ConfigError(f"figure 'softmax-loss': label t: expected an integer, got {reprlib.repr(t)}")
    label = int(t)
    if not 0 <= label < classes:
        raise ConfigError(
            f"figure 'softmax-loss': label t={label} is out of range for {classes} classes "
            f"(expected 0..{classes - 1})"
        )
    onehot = np.zeros(classes)
    onehot[label] = 1.0
    return onehot


#: How far the given softmax outputs may sum from 1.
Y_SUM_TOLERANCE = 1e-6


def _softmax_loss_of_outputs(y: Sequence[float], t: int) -> Graph:
    """The Softmax-with-Loss layer as one box fed by its softmax outputs y (figure 5-30)."""
    y_val = np.array(_numbers("softmax-loss", y), dtype=np.float64)
    for i, v in enumerate(y_val):
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"figure 'softmax-loss': y[{i}] = {format_number(v)} is not a probability "
                              "(expected 0 <= y <= 1)")
    if y_val.size < 2:
        raise ConfigError(f"figure 'softmax-loss' needs at least 2 outputs in y, got {y_val.size}")
    if abs(float(np.sum(y_val)) - 1.0) > Y_SUM_TOLERANCE:
        raise ConfigError(f"figure 'softmax-loss': y sums to {format_number(float(np.sum(y_val)), 8)}; "
                          f"softmax outputs sum to 1 (within {Y_SUM_TOLERANCE:g})")
    onehot = _one_hot(t, y_val.size)
    if y_val[int(t)] == 0:
        raise ConfigError(f"figure 'softmax-loss': y[{int(t)}] = 0 for the label t={int(t)}: the loss "
                          "−log y[t] is infinite")
    g = Graph("softmax-loss")
    y_node = g.input("y", y_val, tag="y = softmax(a)", grad_tag="to the scores a: y − t")
    loss = g.apply(SoftmaxWithLossOfOutputs(), y_node, g.const(onehot, "t"))
    g.output(loss, "L")
    g.backward()
    assert y_node.grad is not None
    g.note(f"y = {format_value(y_val)},  t = {format_value(onehot)},  L = −log y[{int(t)}] = "
           f"{format_number(float(loss.value))}")
    g.note(f"the layer sends back y − t = {format_value(y_node.grad)} to the scores a "
           "(a large error when y is far from t, a small one when close)")
    return g


FIGURES: dict[str, Callable[..., Graph]] = {
    "apple": apple,
    "apple-orange": apple_orange,
    "relu": relu,
    "sigmoid": sigmoid,
    "affine": affine,
    "softmax-loss": softmax_loss,
}


def figure(name: str, *, x: float | Sequence[float] | None = None, t: int | None = None,
           y: Sequence[float] | None = None) -> Graph:
    """The ready-made figure ``name`` (a key of :data:`FIGURES`), computed with backward run.

    ``x`` is the input of ``sigmoid`` (one value), of ``relu`` (one or more values) or the
    scores of ``softmax-loss``; ``t`` the latter's label and ``y`` its softmax outputs, given
    instead of the scores. Raises :class:`UnknownFigureError` naming the available figures, and
    :class:`~layerwise.errors.ConfigError` for an ``x`` or ``t`` the figure does not take or
    cannot use (NaN, infinite, out of range).
    """
    func = FIGURES.get(name) if isinstance(name, str) else None
    if func is None:
        raise UnknownFigureError(f"unknown figure {name!r}; available: {', '.join(FIGURES)}")
    params = inspect.signature(func).parameters
    kwargs: dict[str, object] = {}
    for key, value in (("x", x), ("t", t), ("y", y)):
        if value is None:
            continue
        if key not in params:
            takes = [k for k, f in FIGURES.items() if key in inspect.signature(f).parameters]
            raise ConfigError(f"figure {name!r} takes no {key}; figures that do: {', '.join(takes)}")
        kwargs[key] = value
    return func(**kwargs)
