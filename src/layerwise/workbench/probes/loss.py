"""The probes of the Softmax-with-Loss layer (book §5.6.3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerwise.layers import SoftmaxWithLoss
from layerwise.workbench.probes.common import (
    Array,
    Finding,
    NotStarted,
    Probe,
    Stop,
    as_array,
    central_difference,
    check_float32,
    check_writes,
    close,
    describe,
    is_read_only_error,
    read_only_copy,
    worst,
)

# -- SoftmaxWithLoss ----------------------------------------------------------------------------------
LOSS_RTOL, LOSS_ATOL = 1e-5, 1e-6


def _softmax_reference(x: Array, t: Array, dout: float = 1.0) -> tuple[float, Array]:
    ref = SoftmaxWithLoss()
    loss = float(ref.forward(x, t))
    return loss, np.asarray(ref.backward(dout))


def _loss_forward(p: Probe, layer: Any, x: Array, t: Array, fed: str, on_error: str | None = "raised") -> Any:
    return p.call(layer.forward, x.copy(), t.copy(), fed=fed, on_error=on_error)


def probe_softmax_with_loss(p: Probe) -> None:
    rng = p.rng
    n, c = 4, 5
    x = rng.standard_normal((n, c)) * 2
    labels = np.array([0, 3, 1, 4])
    onehot = np.eye(c)[labels]
    ref_loss, ref_dx = _softmax_reference(x, labels)

    forms: dict[str, tuple[str, str, str]] = {}
    results: dict[str, tuple[Array, Array, str]] = {}
    for form, t in (("labels", labels), ("one-hot", onehot)):
        fed = describe(x=x, t=t)
        layer = p.new()
        gx, gt = x.copy(), t.copy()
        try:
            with np.errstate(all="ignore"):
                loss = layer.forward(gx, gt)
                if not np.isfinite(np.asarray(loss, dtype=np.float64)).all():
                    raise FloatingPointError(f"loss = {loss!r}")
                try:
                    dx = np.array(layer.backward())
                except TypeError:  # a dout without the book's default
                    dx = np.array(layer.backward(1.0))
        except NotImplementedError:
            raise NotStarted() from None
        except Exception as exc:
            forms[form] = ("raised", p.where(exc), fed)
            continue
        check_writes(p, {"x": gx, "t": gt}, {"x": x, "t": t})  # in forward or in backward
        forms[form] = ("ok", "", fed)
        results[form] = (np.asarray(loss, dtype=np.float64), dx, fed)
    working = [f for f, r in forms.items() if r[0] == "ok"]
    if not working:
        _, where, fed = forms["labels"]
        p.add(Finding("raised", where=where, fed=fed))
        raise Stop()

    right = {
        f: close(r[0], np.asarray(ref_loss), LOSS_RTOL, LOSS_ATOL) and close(r[1], ref_dx)
        for f, r in results.items()
    }
    if len(working) == 1 or (right.get("labels") != right.get("one-hot")):
        good = [f for f in working if right[f]]
        if good:
            bad = "one-hot" if good[0] == "labels" else "labels"
            p.add(
                Finding(
                    "label-form",
                    fed=forms[bad][2],
                    got="an exception" if bad not in results else "wrong",
                    expected=f"the same as with {good[0]}",
                    where=forms[bad][1] if forms[bad][0] == "raised" else "",
                )
            )
    form = "labels" if "labels" in results else working[0]
    loss_arr, dx, fed = results[form]
    if not close(loss_arr, np.asarray(ref_loss), LOSS_RTOL, LOSS_ATOL):
        if close(loss_arr, np.asarray(ref_loss * n), LOSS_RTOL, LOSS_ATOL):
            p.add(
                Finding(
                    "loss-not-mean",
                    fed=fed,
                    got=f"loss = {float(loss_arr):.6g}",
                    expected=f"loss = {ref_loss:.6g}",
                )
            )
        else:
            p.add(
                Finding(
                    "wrong-forward",
                    fed=fed,
                    got=f"loss = {np.ravel(loss_arr)[:1]}",
                    expected=f"loss = {ref_loss:.6g}",
                )
            )
    if not close(dx, ref_dx):
        g, e, idx = worst("dx", dx, ref_dx)
        t_form = labels if form == "labels" else onehot
        moved = x.copy()  # the slope of the learner's own loss there
        slope = central_difference(lambda: p.cls().forward(moved.copy(), t_form.copy()), moved, idx)
        if close(dx, ref_dx * n):
            p.add(Finding("missing-batch-mean", fed=fed, got=g, expected=e, index=idx))
        elif dx.shape == ref_dx.shape and close(dx, -ref_dx):
            p.add(Finding("wrong-gradient", where="backward: dx (sign)", fed=fed, got=g, expected=e,
                          index=idx, numerical=slope))
        else:
            p.add(Finding("wrong-gradient", where="backward: dx", fed=fed, got=g, expected=e, index=idx,
                          numerical=slope))
    if p.has("missing-batch-mean", "wrong-gradient", "wrong-forward", "loss-not-mean"):
        raise Stop()
    t_ok = labels if form == "labels" else onehot

    # dout other than 1
    layer = p.new()
    _loss_forward(p, layer, x, t_ok, fed)
    dx2 = as_array(p.call(layer.backward, 2.0, fed=describe(x=x, t=t_ok, dout=2.0)))
    if close(dx2, ref_dx):
        p.add(
            Finding(
                "dout-ignored",
                fed=describe(x=x, t=t_ok, dout=2.0),
                got=worst("dx", dx2, 2 * ref_dx)[0],
                expected=worst("dx", dx2, 2 * ref_dx)[1],
            )
        )
    elif not close(dx2, 2 * ref_dx):
        g, e, idx = worst("dx", dx2, 2 * ref_dx)
        p.add(
            Finding(
                "wrong-gradient",
                where="backward(dout=2)",
                fed=describe(x=x, t=t_ok, dout=2.0),
                got=g,
                expected=e,
                index=idx,
            )
        )

    # large scores: the right class far ahead, and far behind
    big = np.array([[1000.0, -1000.0, 0.0, 0.0, 0.0], [-1000.0, 1000.0, 0.0, 0.0, 0.0]])
    big_t = np.array([0, 1]) if form == "labels" else np.eye(c)[[0, 1]]
    fed_big = describe(x=big, t=big_t) + ", scores ±1000"
    layer = p.new()
    loss_big = _loss_forward(p, layer, big, big_t, fed_big, on_error="softmax-overflow")
    dx_big = as_array(p.call(layer.backward, 1.0, fed=fed_big, on_error="softmax-overflow"))
    exp_loss, exp_dx = _softmax_reference(big, np.array([0, 1]))
    if not (np.isfinite(np.asarray(loss_big, dtype=np.float64)).all() and np.isfinite(dx_big).all()):
        p.add(
            Finding(
                "softmax-overflow", fed=fed_big, got=f"loss = {loss_big!r}", expected=f"loss = {exp_loss:.6g}"
            )
        )
    zero = np.array([[0.0, 0.0, 0.0, 0.0, -800.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    zero_t = np.array([4, 0]) if form == "labels" else np.eye(c)[[4, 0]]
    fed_zero = describe(x=zero, t=zero_t) + ", the right class's probability 0 in float64"
    exp_zero, _ = _softmax_reference(zero, np.array([4, 0]))
    layer = p.new()
    loss_zero = np.asarray(_loss_forward(p, layer, zero, zero_t, fed_zero), dtype=np.float64)
    if not np.isfinite(loss_zero).all():
        p.add(
            Finding("log-of-zero", fed=fed_zero, got=f"loss = {loss_zero}", expected=f"loss = {exp_zero:.6g}")
        )
    elif not close(loss_zero, np.asarray(exp_zero), 1e-4, 1e-4):
        p.add(
            Finding(
                "log-delta",
                fed=fed_zero,
                got=f"loss = {float(loss_zero):.6g}",
                expected=f"loss = {exp_zero:.6g}",
            )
        )

    # two forward calls, then backward; backward twice
    x2 = rng.standard_normal((n, c)) * 2
    _, ref_dx2 = _softmax_reference(x2, labels)
    layer = p.new()
    _loss_forward(p, layer, x, t_ok, fed)
    _loss_forward(p, layer, x2, t_ok, fed)
    g1 = as_array(p.call(layer.backward, 1.0, fed="two forward calls, then backward"))
    if not close(g1, ref_dx2):
        if close(g1, ref_dx):
            g, e, idx = worst("dx", g1, ref_dx2)
            p.add(
                Finding(
                    "stale-cache",
                    fed="forward(x1, t), forward(x2, t), backward()",
                    got=g,
                    expected=e,
                    index=idx,
                )
            )
    else:
        g2 = as_array(p.call(layer.backward, 1.0, fed="backward called twice"))
        if not close(g2, g1, 1e-12, 0):
            g, e, idx = worst("dx", g2, g1)
            p.add(Finding("backward-not-repeatable", fed="backward() twice", got=g, expected=e, index=idx))

    # a batch of one
    fed1 = describe(x=x[:1], t=t_ok[:1])
    layer = p.new()
    loss1 = _loss_forward(p, layer, x[:1], t_ok[:1], fed1)
    dx1 = as_array(p.call(layer.backward, 1.0, fed=fed1))
    l1, r1 = _softmax_reference(x[:1], labels[:1])
    if not (
        close(np.asarray(loss1, dtype=np.float64), np.asarray(l1), LOSS_RTOL, LOSS_ATOL) and close(dx1, r1)
    ):
        g, e, idx = worst("dx", dx1, r1)
        p.add(Finding("wrong-gradient", where="a batch of one", fed=fed1, got=g, expected=e, index=idx))

    # read-only x and t
    layer = p.new()
    try:
        with np.errstate(all="ignore"):
            layer.forward(read_only_copy(x), read_only_copy(t_ok))
    except Exception as exc:
        if is_read_only_error(exc):
            p.add(Finding("input-mutated", where=p.where(exc), fed="x, t read-only"))

    x32 = x.astype(np.float32)
    fed32 = describe(x=x32, t=t_ok)
    layer = p.new()
    p.call(layer.forward, x32, t_ok.copy(), fed=fed32)
    dx32 = p.call(layer.backward, 1.0, fed=fed32)
    check_float32(p, {"dx": dx32}, fed32)


