"""The probes of the Affine layer (book §5.6.1-5.6.2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerwise.layers import Affine
from layerwise.workbench.probes.common import (
    Array,
    Finding,
    NotStarted,
    Probe,
    Stop,
    as_array,
    central_difference,
    check_float32,
    check_read_only,
    check_writes,
    close,
    describe,
    worst,
)


# -- Affine -----------------------------------------------------------------------------------------
def _affine_reference(W: Array, b: Array, x: Array, d: Array) -> tuple[Array, Array, Array, Array]:
    ref = Affine(W, b)
    out = ref.forward(x)
    dx = ref.backward(d)
    return out, dx, ref.dW.copy(), ref.db.copy()


def _affine_grads(p: Probe, layer: Any, fed: str) -> tuple[Array, Array]:
    dW, db = getattr(layer, "dW", None), getattr(layer, "db", None)
    if dW is None or db is None:
        missing = "dW" if dW is None else "db"
        p.add(Finding("grad-not-stored", fed=fed, got=f"self.{missing} missing", expected=f"self.{missing}"))
        raise Stop()
    return np.array(dW), np.array(db)


def _check_affine_grads(
    p: Probe,
    fed: str,
    x: Array,
    d: Array,
    dx: Array,
    dW: Array,
    db: Array,
    ref: tuple[Array, Array, Array, Array],
    params: tuple[Array, Array] | None = None,
) -> bool:
    """Name the mistake in ``dx``, ``dW``, ``db`` if there is one; True when all are right.
    With ``params`` (the ``W`` and ``b`` the layer was built with), a wrong gradient also shows
    the central difference of the learner's own forward pass there."""
    _, ref_dx, ref_dW, ref_db = ref

    def numerical(which: str, idx: list[int] | None) -> str:
        if params is None:
            return ""
        moved = {"dx": x.copy(), "dW": params[0].copy(), "db": params[1].copy()}
        return central_difference(
            lambda: p.cls(moved["dW"].copy(), moved["db"].copy()).forward(moved["dx"].copy()) * d,
            moved[which], idx)

    right = True
    if dx.shape != x.shape and dx.size == x.size:
        p.add(Finding("dx-shape", fed=fed, got=f"dx shape {tuple(dx.shape)}", expected=f"dx shape {x.shape}"))
        right = False
    elif not close(dx, ref_dx):
        g, e, idx = worst("dx", dx, ref_dx)
        p.add(Finding("wrong-gradient", where="backward: dx", fed=fed, got=g, expected=e, index=idx,
                      numerical=numerical("dx", idx)))
        right = False
    if not close(dW, ref_dW):
        if close(dW, ref_dW.T):
            g, e, idx = worst("dW", dW, ref_dW)
            p.add(Finding("weight-grad-transposed", fed=fed, got=g, expected=e, index=idx))
        else:
            g, e, idx = worst("dW", dW, ref_dW)
            p.add(Finding("wrong-gradient", where="backward: dW", fed=fed, got=g, expected=e, index=idx,
                          numerical=numerical("dW", idx)))
        right = False
    if not close(db, ref_db):
        n = d.shape[0]
        summed_wrong = (
            db.shape != ref_db.shape
            or close(db, d.mean(axis=0))
            or close(db, ref_db / n)
            or close(np.ravel(db), d.sum(axis=1))
        )
        g, e, idx = worst("db", db, ref_db)
        p.add(
            Finding(
                "bias-grad-not-summed" if summed_wrong else "wrong-gradient",
                where="backward: db",
                fed=fed,
                got=g,
                expected=e,
                index=idx,
                numerical="" if summed_wrong else numerical("db", idx),
            )
        )
        right = False
    return right


def probe_affine(p: Probe) -> None:
    rng = p.rng
    n, dim, m = 3, 4, 5
    W, b = rng.standard_normal((dim, m)), rng.standard_normal(m)
    x, d = rng.standard_normal((n, dim)), rng.standard_normal((n, m))
    fed = describe(W=W, b=b, x=x, dout=d)
    ref = _affine_reference(W, b, x, d)

    layer = p.new(W.copy(), b.copy())
    gx, gd = x.copy(), d.copy()
    out = as_array(p.call(layer.forward, gx, fed=fed))
    check_writes(p, {"x": gx}, {"x": x})
    if not close(out, ref[0]):
        g, e, idx = worst("out", out, ref[0])
        p.add(Finding("wrong-forward", fed=fed, got=g, expected=e, index=idx))
        raise Stop()
    dx = np.array(p.call(layer.backward, gd, fed=fed))
    check_writes(p, {"x": gx}, {"x": x})
    dW, db = _affine_grads(p, layer, fed)
    if not np.array_equal(gd, d):
        p.add(Finding("dout-mutated", fed=fed, got="dout changed", expected="dout unchanged"))
    if not _check_affine_grads(p, fed, x, d, dx, dW, db, ref, (W, b)):
        raise Stop()

    # a square W: a transposed dW has the right shape and wrong values
    Ws, xs, ds = rng.standard_normal((4, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    fed_sq = describe(W=Ws, b=b[:4], x=xs, dout=ds)
    square = p.new(Ws.copy(), b[:4].copy())
    p.call(square.forward, xs.copy(), fed=fed_sq)
    dxs = as_array(p.call(square.backward, ds.copy(), fed=fed_sq))
    if not _check_affine_grads(
        p, fed_sq, xs, ds, dxs, *_affine_grads(p, square, fed_sq), _affine_reference(Ws, b[:4], xs, ds),
        (Ws, b[:4]),
    ):
        raise Stop()

    # a batch of one
    x1, d1 = x[:1].copy(), d[:1].copy()
    fed1 = describe(W=W, b=b, x=x1, dout=d1)
    one = p.new(W.copy(), b.copy())
    p.call(one.forward, x1.copy(), fed=fed1)
    dx1 = as_array(p.call(one.backward, d1.copy(), fed=fed1))
    if not _check_affine_grads(
        p, fed1, x1, d1, dx1, *_affine_grads(p, one, fed1), _affine_reference(W, b, x1, d1), (W, b)
    ):
        raise Stop()

    # images: (N, C, H, W) into an Affine of C*H*W inputs
    x4 = rng.standard_normal((2, 2, 3, 3))
    W4 = rng.standard_normal((18, m))
    d4 = rng.standard_normal((2, m))
    fed4 = describe(W=W4, b=b, x=x4, dout=d4)
    ref4 = _affine_reference(W4, b, x4, d4)
    four = p.new(W4.copy(), b.copy())
    try:
        with np.errstate(all="ignore"):
            out4 = np.asarray(four.forward(x4.copy()))
    except NotImplementedError:
        raise NotStarted() from None
    except Exception as exc:
        p.add(
            Finding(
                "input-not-flattened", where=p.where(exc), fed=fed4, expected=f"out shape {ref4[0].shape}"
            )
        )
        out4 = None
    if out4 is not None and not close(out4, ref4[0]):
        g, e, idx = worst("out", out4, ref4[0])
        p.add(Finding("input-not-flattened", fed=fed4, got=g, expected=e, index=idx))
    elif out4 is not None:
        dx4 = as_array(p.call(four.backward, d4.copy(), fed=fed4))
        _check_affine_grads(p, fed4, x4, d4, dx4, *_affine_grads(p, four, fed4), ref4, (W4, b))

    # two forward calls, then backward; then backward again
    x2 = rng.standard_normal((n, dim))
    twice = p.new(W.copy(), b.copy())
    p.call(twice.forward, x.copy(), fed="two forward calls")
    p.call(twice.forward, x2.copy(), fed="two forward calls")
    p.call(twice.backward, d.copy(), fed="two forward calls, then backward")
    dW2 = _affine_grads(p, twice, fed)[0]
    ref2 = _affine_reference(W, b, x2, d)
    if not close(dW2, ref2[2]):
        if close(dW2, ref[2]):
            g, e, idx = worst("dW", dW2, ref2[2])
            p.add(
                Finding(
                    "stale-cache",
                    fed="forward(x1), forward(x2), backward(dout)",
                    got=g,
                    expected=e,
                    index=idx,
                )
            )
    else:
        dx_a = as_array(p.call(twice.backward, d.copy(), fed="backward called twice"))
        dW_a = _affine_grads(p, twice, fed)[0]
        dx_b = as_array(p.call(twice.backward, d.copy(), fed="backward called twice"))
        dW_b = _affine_grads(p, twice, fed)[0]
        if not (close(dx_b, dx_a, 1e-12, 0) and close(dW_b, dW_a, 1e-12, 0)):
            g, e, idx = worst("dW", dW_b, dW_a)
            p.add(
                Finding("backward-not-repeatable", fed="backward(dout) twice", got=g, expected=e, index=idx)
            )

    check_read_only(p, {"x": x}, d, W.copy(), b.copy())

    W32, b32, x32, d32 = (a.astype(np.float32) for a in (W, b, x, d))
    fed32 = describe(W=W32, b=b32, x=x32, dout=d32)
    layer32 = p.new(W32, b32)
    out32 = p.call(layer32.forward, x32, fed=fed32)
    dx32 = p.call(layer32.backward, d32, fed=fed32)
    check_float32(
        p,
        {"out": out32, "dx": dx32, "dW": getattr(layer32, "dW", None), "db": getattr(layer32, "db", None)},
        fed32,
    )


