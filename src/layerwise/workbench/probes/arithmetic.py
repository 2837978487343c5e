"""The probes of the multiplication and addition layers (book §5.4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerwise.layers import AddLayer, MulLayer
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


# -- MulLayer and AddLayer ---------------------------------------------------------------------------
def _two_gradients(p: Probe, back: Any, fed: str) -> tuple[Array, Array]:
    if not isinstance(back, (tuple, list)) or len(back) != 2:
        got = f"{type(back).__name__}" + (f" of {len(back)}" if isinstance(back, (tuple, list)) else "")
        p.add(Finding("backward-arity", fed=fed, got=got, expected="(dx, dy)"))
        raise Stop()
    return np.array(back[0]), np.array(back[1])


def probe_binary(p: Probe, kind: str) -> None:
    rng = p.rng
    x, y, d = (rng.standard_normal((3, 4)) for _ in range(3))
    fed = describe(x=x, y=y, dout=d)
    ref = MulLayer() if kind == "mul" else AddLayer()
    ref_out = ref.forward(x, y)
    ref_dx, ref_dy = ref.backward(d)

    layer = p.new()
    gx, gy, gd = x.copy(), y.copy(), d.copy()
    out = as_array(p.call(layer.forward, gx, gy, fed=fed))
    check_writes(p, {"x": gx, "y": gy}, {"x": x, "y": y})
    if not close(out, ref_out):
        got, exp, idx = worst("out", out, ref_out)
        p.add(Finding("wrong-forward", fed=fed, got=got, expected=exp, index=idx))
    back = p.call(layer.backward, gd, fed=fed)
    check_writes(p, {"x": gx, "y": gy}, {"x": x, "y": y})  # forward's inputs, written by backward
    shared = (
        isinstance(back, (tuple, list))
        and len(back) == 2
        and np.shares_memory(np.asarray(back[0]), np.asarray(back[1]))
    )
    dx, dy = _two_gradients(p, back, fed)
    dout_written = not np.array_equal(gd, d)
    right = close(dx, ref_dx) and close(dy, ref_dy)
    if not right:
        own = [(n, g, e) for n, g, e, mine in (("dx", dx, ref_dx, d * x), ("dy", dy, ref_dy, d * y))
               if kind == "mul" and not close(g, e) and close(g, mine)]
        if own:  # a gradient computed from its own input, not the other one
            name, got_a, exp_a = own[0]
            g, e, idx = worst(name, got_a, exp_a)
            p.add(Finding("mul-inputs-not-swapped", fed=fed, got=g, expected=e, index=idx))
        elif dout_written and shared:  # dx and dy are one array, written twice: the write is the bug
            g, e, idx = worst("dx", dx, ref_dx)
            p.add(Finding("dout-mutated", fed=fed, got=g, expected=e, index=idx, level="fail"))
        else:
            for name, got_a, exp_a in (("dx", dx, ref_dx), ("dy", dy, ref_dy)):
                if not close(got_a, exp_a):
                    g, e, idx = worst(name, got_a, exp_a)
                    slope = _slope(p, x, y, d, name, idx)
                    p.add(Finding("wrong-gradient", where=f"backward: {name}", fed=fed, got=g, expected=e,
                                  index=idx, numerical=slope))
                    break
    if dout_written and not (not right and shared):
        p.add(Finding("dout-mutated", fed=fed, got="dout changed", expected="dout unchanged"))
    if not right:
        raise Stop()

    # the book's apple: Python floats
    apple = p.new()
    price = p.call(apple.forward, 100.0, 2.0, fed="x = 100.0, y = 2.0")
    if not close(price, np.asarray(200.0 if kind == "mul" else 102.0)):
        p.add(
            Finding(
                "wrong-forward",
                fed="x = 100.0, y = 2.0",
                got=f"out = {price!r}",
                expected=f"out = {200.0 if kind == 'mul' else 102.0}",
            )
        )

    check_stale_and_repeat(p, [(x, y), (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))], d, kind)
    check_read_only(p, {"x": x, "y": y}, d)
    layer32 = p.new()
    x32, y32, d32 = x.astype(np.float32), y.astype(np.float32), d.astype(np.float32)
    fed32 = describe(x=x32, y=y32, dout=d32)
    out32 = p.call(layer32.forward, x32, y32, fed=fed32)
    b32 = p.call(layer32.backward, d32, fed=fed32)
    check_float32(p, {"out": out32, "dx": b32[0], "dy": b32[1]}, fed32)


def _slope(p: Probe, x: Array, y: Array, d: Array, name: str, idx: list[int] | None) -> str:
    """The central difference of the learner's own ``sum(forward(x, y) * dout)`` at ``idx``."""
    moved = {"dx": x.copy(), "dy": y.copy()}
    return central_difference(lambda: p.cls().forward(moved["dx"].copy(), moved["dy"].copy()) * d,
                              moved[name], idx)


def probe_mul(p: Probe) -> None:
    probe_binary(p, "mul")


def probe_add(p: Probe) -> None:
    probe_binary(p, "add")


