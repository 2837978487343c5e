"""The probes of the activation layers, ReLU and Sigmoid (book §5.5)."""

from __future__ import annotations

import numpy as np

from layerwise.layers import Relu, Sigmoid
from layerwise.workbench.probes.common import (
    Array,
    Finding,
    Probe,
    Stop,
    as_array,
    central_difference,
    check_float32,
    check_read_only,
    check_stale_and_repeat,
    check_writes,
    close,
    describe,
    worst,
)


# -- Relu and Sigmoid ----------------------------------------------------------------------------------
def _unary_input(p: Probe, kind: str) -> Array:
    x = p.rng.standard_normal((2, 3, 4))
    if kind == "relu":
        x.flat[::5] = 0.0  # exact zeros: the kink
    else:
        x.flat[0], x.flat[1] = 1000.0, -1000.0  # saturated, exactly 0 and 1
    return x


def probe_unary(p: Probe, kind: str) -> None:
    x = _unary_input(p, kind)
    d = np.asarray(p.rng.standard_normal(x.shape))
    fed = describe(x=x, dout=d)
    ref = Relu() if kind == "relu" else Sigmoid()
    ref_out = ref.forward(x)
    ref_dx = ref.backward(d)

    layer = p.new()
    gx, gd = x.copy(), d.copy()
    out = as_array(p.call(layer.forward, gx, fed=fed))
    check_writes(p, {"x": gx}, {"x": x})
    forward_ok = close(out, ref_out)
    if not forward_ok:
        if kind == "relu" and close(out, np.where(x < 0, x, 0.0)):
            p.add(
                Finding(
                    "relu-mask-inverted",
                    where="forward",
                    fed=fed,
                    got=worst("out", out, ref_out)[0],
                    expected=worst("out", out, ref_out)[1],
                )
            )
            raise Stop()
        got, exp, idx = worst("out", out, ref_out)
        p.add(Finding("wrong-forward", fed=fed, got=got, expected=exp, index=idx))
    dx = np.array(p.call(layer.backward, gd, fed=fed))
    check_writes(p, {"x": gx}, {"x": x})
    dout_written = not np.array_equal(gd, d)
    # at ReLU's kink (x == 0) either side's slope is right
    if kind == "relu":
        other = np.where(x == 0, d, ref_dx)
        right = (
            close(dx, ref_dx)
            or close(dx, other)
            or (dx.shape == x.shape and bool(np.all(np.isclose(dx, ref_dx) | np.isclose(dx, other))))
        )
    else:
        right = close(dx, ref_dx)
    if not right:
        if kind == "relu" and _inverted(dx, x, d):
            g, e, idx = worst("dx", dx, ref_dx)
            p.add(Finding("relu-mask-inverted", where="backward", fed=fed, got=g, expected=e, index=idx))
        elif kind == "sigmoid" and close(dx, d * (1.0 - x) * x):
            g, e, idx = worst("dx", dx, ref_dx)
            p.add(Finding("sigmoid-grad-from-input", fed=fed, got=g, expected=e, index=idx))
        elif forward_ok:
            g, e, idx = worst("dx", dx, ref_dx)
            p.add(
                Finding(
                    "wrong-gradient",
                    where="backward: dx",
                    fed=fed,
                    got=g,
                    expected=e,
                    index=idx,
                    numerical=_numerical(p, x, d, idx),
                )
            )
        raise Stop()
    if dout_written:
        p.add(Finding("dout-mutated", fed=fed, got="dout changed", expected="dout unchanged"))
    if not forward_ok:
        raise Stop()

    check_stale_and_repeat(p, [(x,), (np.asarray(p.rng.standard_normal(x.shape)),)], d, kind)
    check_read_only(p, {"x": x}, d)
    x32, d32 = x.astype(np.float32), d.astype(np.float32)
    fed32 = describe(x=x32, dout=d32)
    layer32 = p.new()
    out32 = p.call(layer32.forward, x32, fed=fed32)
    dx32 = p.call(layer32.backward, d32, fed=fed32)
    check_float32(p, {"out": out32, "dx": dx32}, fed32)


def _inverted(dx: Array, x: Array, d: Array) -> bool:
    """ReLU's backward with the mask the wrong way round (either slope at x == 0)."""
    away = x != 0
    return dx.shape == x.shape and close(dx[away], np.where(x < 0, d, 0.0)[away])


def _numerical(p: Probe, x: Array, d: Array, idx: list[int] | None) -> str:
    """The slope of ``sum(forward(x) * dout)`` at ``idx``, from the learner's own forward."""
    moved = x.copy()
    return central_difference(lambda: p.cls().forward(moved.copy()) * d, moved, idx)


def probe_relu(p: Probe) -> None:
    probe_unary(p, "relu")


def probe_sigmoid(p: Probe) -> None:
    probe_unary(p, "sigmoid")


