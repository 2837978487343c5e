"""Numerical gradients and gradient checking (book §4.4, §5.7.3).

:func:`numerical_gradient` is the book's central difference. :func:`check_gradients` compares
backpropagation against it, in float64, for a network or for a single layer, and returns a
:class:`GradientCheckReport` with one row per parameter (and per input, for layers).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from layerwise.errors import ConfigError
from layerwise.layers.base import Array, Layer, LossLayer

__all__ = [
    "numerical_gradient",
    "check_gradients",
    "GradientCheckReport",
    "GradientError",
    "DEFAULT_RTOL",
    "DEFAULT_ATOL",
]

#: Relative tolerance: a row's worst error may be this fraction of its gradient's scale.
DEFAULT_RTOL = 1e-6

#: Absolute tolerance, the noise floor of float64 central differences with ``h = 1e-5``.
#: The estimate ``(f(x+h) − f(x−h)) / 2h`` is off by a truncation error of about
#: ``h²/6·|f‴|`` ≈ 2e-11·|f‴| and a rounding error of about ``δ/h``, ``δ`` being the rounding
#: error of one evaluation of the loss: a few units of 2.2e-16 times the loss and its terms, so
#: 1e-15 to 1e-13 for losses of order 1 to 100, hence δ/h ≈ 1e-10 to 1e-8. Correct layers in
#: the test table reach 6e-10. A gradient whose entries are all below ~1e-8 cannot be told
#: from 0 by this method, so ``1e-8`` is the default: an error below it is noise, not a bug.
DEFAULT_ATOL = 1e-8


def numerical_gradient(f: Callable[[Array], Any], x: Array, h: float | None = None,
                       indices: Iterable[tuple[int, ...]] | None = None) -> NDArray[np.float64]:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (book §4.4).

    ``f`` is called as ``f(x)`` while one element of ``x`` is moved by ``±h`` in place; each
    element is restored to its exact old value afterwards. For an accurate result pass a
    float64 ``x`` (the default ``h`` is 1e-5 then; 1e-2 for lower precisions). The result is
    float64, shaped like ``x``. With ``indices`` only those elements are computed (the others
    stay 0): a sample of a large array.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"numerical_gradient: x must be a floating NumPy array, got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    if h is None:
        h = 1e-5 if x.dtype == np.float64 else 1e-2
    elif isinstance(h, bool) or not isinstance(h, int | float) or not (h > 0 and math.isfinite(h)):
        raise ConfigError(f"numerical_gradient: h must be a small positive number, got {h!r}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in (np.ndindex(*x.shape) if indices is None else indices):
        old = x[idx].copy()
        x[idx] = old + h
        fxh1 = float(f(x))
        x[idx] = old - h
        fxh2 = float(f(x))
        x[idx] = old
        grad[idx] = (fxh1 - fxh2) / (2 * h)
    return grad


def network_numerical_gradient(net: Any, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray[np.float64]]:
    """Every parameter's gradient of ``net.loss(x, t)`` by central differences (book §4.4).

    Computed on a float64 copy of the network, so the result does not suffer from float32
    round-off and ``net`` is left untouched. Dropout masks are frozen after a first forward
    pass (to compare with ``net.gradient``, call ``net.freeze_randomness()`` after it, so that
    the copy reuses the same masks).
    """
    copied = net.copy().astype(np.float64)
    x64 = np.asarray(x, dtype=np.float64)
    copied.loss(x64, t)
    copied.freeze_randomness()
    return {key: numerical_gradient(lambda _: copied.loss(x64, t), copied.params[key])
            for key in copied.params}


@dataclass(frozen=True)
class GradientError:
    """Backprop against numerical gradient for one array.

    ``max_abs_error`` is ``max|backprop − numerical|``, ``scale`` the gradient's scale (see
    :class:`GradientCheckReport`), ``max_rel_error = max_abs_error / scale``, ``tolerance`` the
    largest error allowed, ``atol + rtol·scale``; ``passed`` is ``max_abs_error <= tolerance``.
    ``kinks`` counts the entries left out because the function has a kink there (see
    :func:`check_gradients`'s ``kinks``).
    """

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool
    scale: float = 0.0
    tolerance: float = 0.0
    kinks: int = 0


@dataclass
class GradientCheckReport:
    """The result of :func:`check_gradients`.

    A row's scale is ``max(max|backprop|, max|numerical|, 1e-3 * G)`` with ``G`` the largest
    such maximum of any row, and ``max_rel_error = max|backprop - numerical| / scale``: the worst
    error relative to the gradient's scale, which does not blow up on entries that are zero up
    to round-off. A row passes when ``max_abs_error <= atol + rtol * scale`` (as in
    ``numpy.isclose``): relative for gradients of a fair size, absolute for gradients near 0,
    whose numerical estimate is round-off only (a ReLU with all inputs negative, a bias
    feeding BatchNorm, a saturated sigmoid). See :data:`DEFAULT_ATOL` for the default ``atol``.
    """

    rows: list[GradientError] = field(default_factory=list)
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    #: The arrays handed to the layer that it wrote into (``"x"``, ``"y"``, ``"t"``,
    #: ``"dout"``). The check hands the layer its own copies and judges the gradient it
    #: returned against the unchanged values, so a write does not fail the check by itself
    #: (the book's ``Relu.backward`` writes into ``dout`` and returns it); it is reported,
    #: since a caller who reuses the array would see it changed.
    wrote_into: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def __getitem__(self, name: str) -> GradientError:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no gradient named {name!r}; have {[r.name for r in self.rows]}")

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        width = max([4, *(len(r.name) for r in self.rows)])
        lines = [f"{'name':<{width}}  {'shape':<14} {'max abs err':>12} {'max rel err':>12} "
                 f"{'allowed abs':>12}  result"]
        for r in self.rows:
            lines.append(
                f"{r.name:<{width}}  {str(r.shape):<14} {r.max_abs_error:12.3e} "
                f"{r.max_rel_error:12.3e} {r.tolerance:12.3e}  {'ok' if r.passed else 'FAIL'}"
            )
        skipped = sum(r.kinks for r in self.rows)
        if skipped:
            lines.append(f"{skipped} entries at a kink (ReLU at 0, a tie in a max) left out")
        if self.wrote_into:
            written = ", ".join(self.wrote_into)
            lines.append(f"note: the layer wrote into the array(s) it was given: {written} "
                         "(checked against the values before the write)")
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(f"{verdict}: a row passes when max abs err <= atol + rtol * scale "
                     f"(rtol={self.rtol:g}, atol={self.atol:g})")
        return "\n".join(lines)


#: A row's error is taken relative to at least this fraction of the largest gradient in the
#: report, so a gradient that is exactly zero (a bias feeding BatchNorm) is not failed for the
#: round-off of its numerical estimate.
SCALE_FLOOR = 1e-3


def _compare_all(pairs: list[tuple[str, ArrayLike, ArrayLike]], rtol: float,
                 atol: float) -> list[GradientError]:
    arrays = []
    for name, analytic, numeric in pairs:
        a = np.asarray(analytic, dtype=np.float64)
        n = np.asarray(numeric, dtype=np.float64)
        if a.shape != n.shape:
            raise ConfigError(f"{name}: backprop gradient has shape {a.shape}, numerical {n.shape}")
        arrays.append((name, a, n))
    scales = [max(float(np.max(np.abs(a))), float(np.max(np.abs(n)))) if a.size else 0.0
              for _, a, n in arrays]
    floor = SCALE_FLOOR * max(scales, default=0.0)
    rows = []
    for (name, a, n), scale in zip(arrays, scales, strict=True):
        abs_err = float(np.max(np.abs(a - n))) if a.size else 0.0
        denom = max(scale, floor)
        if denom > 0:
            rel_err = abs_err / denom
        else:  # both gradients exactly 0 (or NaN, whose error is NaN too)
            rel_err = 0.0 if abs_err == 0 else math.inf
        tolerance = atol + rtol * denom
        passed = bool(abs_err <= tolerance)  # False for a NaN error
        rows.append(GradientError(name, a.shape, abs_err, rel_err, passed, denom, tolerance))
    return rows


def _tolerance(name: str, value: float, positive: bool = False) -> float:
    """``value`` as a float; :class:`ConfigError` unless finite and >= 0 (> 0 if ``positive``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        wanted = "a finite number > 0" if positive else "a finite number >= 0"
        raise ConfigError(f"check_gradients: {name}: expected {wanted}, got {value!r}")
    return v


def _copy(value: Any) -> Any:
    return None if value is None else np.array(value)


def _freeze_randomness(obj: Any) -> None:
    freeze = getattr(obj, "freeze_randomness", None)
    if callable(freeze):
        freeze()


def check_gradients(
    target: Any,
    x: ArrayLike | tuple[ArrayLike, ...],
    t: ArrayLike | None = None,
    *,
    dout: ArrayLike | None = None,
    rng: np.random.Generator | int | None = 0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    h: float = 1e-5,
    entries: int | None = None,
    kinks: bool = False,
) -> GradientCheckReport:
    """Check backpropagation against float64 central differences.

    Parameters
    ----------
    target : network or Layer
        A network (anything with ``params``, ``loss(x, t)`` and ``gradient(x, t)``, such as
        :class:`~layerwise.networks.Sequential`), a :class:`~layerwise.layers.LossLayer`
        (``t`` required), or any other layer.
    x : ndarray, or a tuple of two arrays for ``MulLayer`` / ``AddLayer``
    t : targets, for networks and loss layers
    dout : upstream gradient. For a plain layer the checked scalar is ``sum(forward(x) *
        dout)`` (random ``dout`` from ``rng`` when omitted); for a loss layer it is
        ``dout * loss`` (1.0 when omitted).
    rtol, atol : a row passes when ``max|backprop − numerical| <= atol + rtol * scale``, the
        scale being the gradient's largest entry (see :class:`GradientCheckReport`). The
        default ``atol = 1e-8`` is the noise floor of central differences in float64 with the
        default ``h``: truncation ``h²/6·|f‴|`` ≈ 2e-11·|f‴| and rounding ``δ/h`` ≈ 1e-10 to
        1e-8 for a loss of order 1 to 100 (:data:`DEFAULT_ATOL`), so a correct network whose
        gradients are near 0 passes; pass ``atol=0`` for a purely relative check.
    h : the central-difference step, > 0.
    entries : for a layer, check at most this many entries of each array (input and
        parameters), drawn from ``rng`` without replacement; ``None`` checks them all. A
        sample keeps the check of a large layer (a 4320×100 Affine) to a fraction of a second.
    kinks : for a layer, leave out the entries where the function is not differentiable: a
        ReLU's input at (or within ``h/10`` of) 0, a tie between two maxima of a pooling window.
        Backprop takes one side there and central differences the average, so they differ
        although both are right. Found as forward and backward differences that disagree
        beyond the tolerance, at ``h`` and again at ``h/10`` (see :func:`_slopes`). Each row
        counts what it left out (``kinks``). Off by default.

    The check runs on a float64 deep copy, so ``target`` is not modified. Rows are named by
    parameter key for a network, and ``x`` / ``W`` / ``b`` ... for a layer. Stochastic layers
    (Dropout) are frozen after the first forward pass (``freeze_randomness``), so every
    evaluation of the loss uses the same mask; the mode (train/eval) is the target's own.
    """
    rtol, atol = _tolerance("rtol", rtol), _tolerance("atol", atol)
    h = _tolerance("h", h, positive=True)
    report = GradientCheckReport(rtol=rtol, atol=atol)
    pairs: list[tuple[str, ArrayLike, ArrayLike]] = []
    obj = copy.deepcopy(target)
    if hasattr(obj, "astype"):
        obj.astype(np.float64)

    if not isinstance(obj, Layer):  # a network
        x64 = np.array(x, dtype=np.float64)  # copies: the network gets its own arrays
        t_own = None if t is None else np.array(t)
        grads = {k: np.array(v, dtype=np.float64) for k, v in obj.gradient(x64.copy(), _copy(t_own)).items()}
        _freeze_randomness(obj)
        for key in obj.params:
            num = numerical_gradient(lambda _: obj.loss(x64.copy(), _copy(t_own)), obj.params[key], h)
            pairs.append((key, grads[key], num))
        report.rows = _compare_all(pairs, rtol, atol)
        return report

    # dout from its own stream: the same seed as the caller's x would make them equal
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        None if rng is None else [rng, 0x6C77])
    if isinstance(x, tuple):
        inputs = [np.array(v, dtype=np.float64) for v in x]
    else:
        inputs = [np.array(x, dtype=np.float64)]

    wrote: list[str] = []
    names = ["x", "y"] if len(inputs) == 2 else ["x"]

    def handed(values: list[Array]) -> list[Array]:
        """The layer's own copies of ``values``; the originals stay as they were."""
        return [v.copy() for v in values]

    def note_writes(given: list[Any], kept: list[Any], labels: list[str]) -> None:
        for label, g, k in zip(labels, given, kept, strict=True):
            if label not in wrote and not np.array_equal(g, k, equal_nan=True):
                wrote.append(label)

    if isinstance(obj, LossLayer):
        if t is None:
            raise ConfigError(f"check_gradients: {obj.name} is a loss layer and needs targets t")
        scale = 1.0 if dout is None else float(np.asarray(dout))
        t_kept = np.array(t)

        def scalar() -> float:
            return scale * obj.forward(inputs[0].copy(), t_kept.copy())

        given_x, given_t = handed(inputs), t_kept.copy()
        obj.forward(given_x[0], given_t)
        note_writes([*given_x, given_t], [*inputs, t_kept], [*names, "t"])
        obj.freeze_randomness()
        analytic_in: list[Any] = [np.array(obj.backward(scale), dtype=np.float64)]
        note_writes([*given_x, given_t], [*inputs, t_kept], [*names, "t"])
    else:
        given = handed(inputs)
        out = obj.forward(*given)
        note_writes(given, inputs, names)
        obj.freeze_randomness()
        d = (gen.standard_normal(np.shape(out)) if dout is None
             else np.array(dout, dtype=np.float64))

        def scalar() -> float:
            return float(np.sum(np.asarray(obj.forward(*handed(inputs)), dtype=np.float64) * d))

        d_given = d.copy()
        back = obj.backward(d_given)
        # kept as returned, before anything else can touch the arrays it may share with d_given
        analytic_in = [np.array(b, dtype=np.float64) for b in (back if isinstance(back, tuple) else [back])]
        note_writes([d_given, *given], [d, *inputs], ["dout", *names])

    report.wrote_into = wrote
    analytic_params = {k: np.array(v, dtype=np.float64) for k, v in obj.grads.items()}
    if entries is not None and (isinstance(entries, bool) or not isinstance(entries, int) or entries < 1):
        raise ConfigError(f"check_gradients: entries: expected an integer >= 1 or None, got {entries!r}")
    arrays = [*zip(names, inputs, analytic_in, strict=True),
              *((key, getattr(obj, key), analytic_params[key]) for key in obj.param_names)]
    kink_counts: list[int] = []
    for name, arr, analytic in arrays:
        chosen: tuple[Any, ...] = np.unravel_index(np.arange(arr.size), arr.shape)
        if entries is not None and arr.size > entries:
            chosen = np.unravel_index(gen.choice(arr.size, size=entries, replace=False), arr.shape)
        a = np.asarray(analytic, dtype=np.float64)[chosen]
        if kinks:
            largest = float(np.max(np.abs(a), initial=0.0))
            num, smooth = _slopes(scalar, arr, h, chosen, atol + rtol * largest)
            kink_counts.append(int(np.sum(~smooth)))
            pairs.append((name, a[smooth], num[smooth]))
        else:
            num = numerical_gradient(lambda _: scalar(), arr, h, indices=zip(*chosen, strict=True))
            kink_counts.append(0)
            pairs.append((name, a, num[chosen]))
    report.rows = [dataclasses.replace(row, shape=tuple(np.shape(arr)), kinks=k)
                   for row, (_, arr, _), k in zip(_compare_all(pairs, rtol, atol), arrays, kink_counts,
                                                   strict=True)]
    return report


def _slopes(f: Callable[[], float], x: Array, h: float, chosen: tuple[Any, ...],
            tolerance: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Central differences of ``f`` at the ``chosen`` entries of ``x``, and where ``f`` is
    smooth enough to compare.

    Where the forward and backward differences disagree by more than ``tolerance``, both are
    taken again with a step ten times smaller. A smooth function's disagreement (``h·f''``)
    shrinks tenfold, and the finer central difference is kept; a kink's does not (a ReLU at
    exactly 0: the slopes are ``dout`` and 0 at any step), and the entry is marked not smooth.
    A kink just beyond the finer step is passed by it: its finer slopes agree.
    """
    f0 = float(f())

    def one_sided(idx: tuple[int, ...], step: float) -> tuple[float, float]:
        old = x[idx].copy()
        x[idx] = old + step
        ahead = (float(f()) - f0) / step
        x[idx] = old - step
        behind = (f0 - float(f())) / step
        x[idx] = old
        return ahead, behind

    count = len(chosen[0])
    central = np.empty(count)
    smooth = np.ones(count, dtype=bool)
    for i, idx in enumerate(zip(*chosen, strict=True)):
        ahead, behind = one_sided(idx, h)
        central[i] = (ahead + behind) / 2
        gap = abs(ahead - behind)
        if not gap > tolerance:
            continue
        fine_ahead, fine_behind = one_sided(idx, h / 10)
        fine_gap = abs(fine_ahead - fine_behind)
        central[i] = (fine_ahead + fine_behind) / 2
        smooth[i] = fine_gap <= tolerance or fine_gap < gap / 5
    return central, smooth
