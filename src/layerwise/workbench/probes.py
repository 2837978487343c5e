"""The probes ``layerwise check`` runs on a learner's layer class, and what they conclude.

Every conclusion comes from behaviour, never from the learner's source text or names: each
probe feeds the class small arrays (float64, so that float32 rounding hides nothing), compares
what comes back with layerwise's own layer of the same name run on the same input, and, where
the values differ, tries the mistakes learners make (a transposed ``dW``, a ``db`` that keeps
the batch axis, a ReLU mask the wrong way round...) to name the one that explains them. Other
probes hand the layer copies of its inputs and look for writes into them, call ``forward``
twice before ``backward``, call ``backward`` twice, feed scores of ±1000, exact zeros at
ReLU's kink, 4-D input to ``Affine``, both label forms to ``SoftmaxWithLoss``, and float32.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerwise.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss
from layerwise.workbench.catalogue import CATALOGUE

__all__ = ["Finding", "PROBES", "BOOK_NAMES", "probe_class", "NotStarted"]

#: The classes of chapter 5, in the book's order.
BOOK_NAMES = ("MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss")

Array = np.ndarray[Any, Any]


@dataclass
class Finding:
    """One thing a probe found: ``id`` from the catalogue; ``fed``, ``got``, ``expected`` say what
    went in and came out (the worst entry, with ``index``); ``where`` the learner's file and
    line for an exception."""

    id: str
    where: str = ""
    fed: str = ""
    got: str = ""
    expected: str = ""
    index: list[int] | None = None
    numerical: str = ""
    #: ``"fail"`` where a finding that is usually a note broke a result (``dout-mutated``)
    level: str = ""

    @property
    def severity(self) -> str:
        return self.level or CATALOGUE[self.id].severity

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "where": self.where,
            "fed": self.fed,
            "got": self.got,
            "expected": self.expected,
            "index": self.index,
            "numerical": self.numerical,
        }


class NotStarted(Exception):
    """The class still raises NotImplementedError: an untouched starter file."""


class _Stop(Exception):
    """A probe found a failure after which the class's other probes say nothing more."""


# -- describing arrays -----------------------------------------------------------------------------
def describe(**arrays: Any) -> str:
    parts = []
    for name, a in arrays.items():
        if isinstance(a, np.ndarray):
            parts.append(f"{name} {tuple(a.shape)} {a.dtype}")
        else:
            parts.append(f"{name} = {a!r}")
    return ", ".join(parts)


def _value(v: Any) -> str:
    return f"{float(v):.6g}"


def worst(name: str, got: Array, expected: Array) -> tuple[str, str, list[int] | None]:
    """``got`` and ``expected`` at the entry where they differ most, as text, and its index."""
    if got.shape != expected.shape:
        return f"{name} shape {tuple(got.shape)}", f"{name} shape {tuple(expected.shape)}", None
    if got.ndim == 0:
        return f"{name} = {_value(got)}", f"{name} = {_value(expected)}", None
    diff = np.abs(got.astype(np.float64) - expected)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), got.shape))
    label = f"{name}[{', '.join(map(str, idx))}]"
    return f"{label} = {_value(got[idx])}", f"{label} = {_value(expected[idx])}", list(idx)


def close(got: Any, expected: Array, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    g = np.asarray(got)
    if g.shape != expected.shape or g.dtype.kind not in "biuf":
        return False
    return bool(np.allclose(g.astype(np.float64), expected, rtol=rtol, atol=atol))


# -- calling the learner's code ----------------------------------------------------------------------
class Probe:
    """The state of one class's check: its findings, the learner's file, the random inputs."""

    def __init__(self, cls: type, learner_file: str | None) -> None:
        self.cls = cls
        self.learner_file = learner_file
        self.findings: list[Finding] = []
        self.rng = np.random.default_rng(20_240_505)

    def add(self, finding: Finding) -> None:
        if not any(f.id == finding.id for f in self.findings):
            self.findings.append(finding)

    def has(self, *ids: str) -> bool:
        return any(f.id in ids for f in self.findings)

    def where(self, exc: BaseException) -> str:
        """The learner's file and line where ``exc`` was raised (the deepest frame in their file)."""
        frames = traceback.extract_tb(exc.__traceback__)
        theirs = [f for f in frames if self.learner_file and _same_file(f.filename, self.learner_file)]
        frame = theirs[-1] if theirs else (frames[-1] if frames else None)
        head = f"{type(exc).__name__}: {exc}".strip()
        if frame is None:
            return head
        return f"{frame.filename}:{frame.lineno}: {head}" + (f" ({frame.line})" if frame.line else "")

    def call(
        self, fn: Callable[..., Any], *args: Any, fed: str, on_error: str | None = "raised", **kwargs: Any
    ) -> Any:
        """``fn(*args)``; an exception becomes a finding (``on_error``) and stops the probe."""
        try:
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
        except NotImplementedError:
            raise NotStarted() from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the learner's exception, shown in their file
            if on_error is None:
                raise
            self.add(Finding(on_error, where=self.where(exc), fed=fed))
            raise _Stop() from None

    def new(self, *args: Any) -> Any:
        return self.call(self.cls, *args, fed=describe(**{f"arg{i}": a for i, a in enumerate(args)}))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _ro(a: Array) -> Array:
    c = np.array(a, copy=True)
    c.flags.writeable = False
    return c


def _is_read_only_error(exc: BaseException) -> bool:
    return isinstance(exc, ValueError) and "read-only" in str(exc)


def _arr(v: Any) -> Array:
    return np.asarray(v)


# -- shared probes --------------------------------------------------------------------------------------
def _writes(
    p: Probe, given: dict[str, Array], kept: dict[str, Array], id_: str = "input-mutated"
) -> list[str]:
    written = [name for name, g in given.items() if not np.array_equal(g, kept[name], equal_nan=True)]
    if written:
        p.add(
            Finding(
                id_, fed=", ".join(written), got=f"{written[0]} changed", expected=f"{written[0]} unchanged"
            )
        )
    return written


def _float32(p: Probe, outputs: dict[str, Any], fed: str) -> None:
    promoted = [name for name, v in outputs.items() if isinstance(v, np.ndarray) and v.dtype == np.float64]
    if promoted:
        p.add(
            Finding(
                "float64-promotion", fed=fed, got=f"{promoted[0]} float64", expected=f"{promoted[0]} float32"
            )
        )


# -- MulLayer and AddLayer ---------------------------------------------------------------------------
def _two_gradients(p: Probe, back: Any, fed: str) -> tuple[Array, Array]:
    if not isinstance(back, (tuple, list)) or len(back) != 2:
        got = f"{type(back).__name__}" + (f" of {len(back)}" if isinstance(back, (tuple, list)) else "")
        p.add(Finding("backward-arity", fed=fed, got=got, expected="(dx, dy)"))
        raise _Stop()
    return np.array(back[0]), np.array(back[1])


def _probe_binary(p: Probe, kind: str) -> None:
    rng = p.rng
    x, y, d = (rng.standard_normal((3, 4)) for _ in range(3))
    fed = describe(x=x, y=y, dout=d)
    ref = MulLayer() if kind == "mul" else AddLayer()
    ref_out = ref.forward(x, y)
    ref_dx, ref_dy = ref.backward(d)

    layer = p.new()
    gx, gy, gd = x.copy(), y.copy(), d.copy()
    out = _arr(p.call(layer.forward, gx, gy, fed=fed))
    _writes(p, {"x": gx, "y": gy}, {"x": x, "y": y})
    if not close(out, ref_out):
        got, exp, idx = worst("out", out, ref_out)
        p.add(Finding("wrong-forward", fed=fed, got=got, expected=exp, index=idx))
    back = p.call(layer.backward, gd, fed=fed)
    _writes(p, {"x": gx, "y": gy}, {"x": x, "y": y})  # forward's inputs, written by backward
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
                    p.add(
                        Finding(
                            "wrong-gradient", where=f"backward: {name}", fed=fed, got=g, expected=e, index=idx
                        )
                    )
                    break
    if dout_written and not (not right and shared):
        p.add(Finding("dout-mutated", fed=fed, got="dout changed", expected="dout unchanged"))
    if not right:
        raise _Stop()

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

    _stale_and_repeat(p, [(x, y), (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))], d, kind)
    _read_only(p, {"x": x, "y": y}, d)
    layer32 = p.new()
    x32, y32, d32 = x.astype(np.float32), y.astype(np.float32), d.astype(np.float32)
    fed32 = describe(x=x32, y=y32, dout=d32)
    out32 = p.call(layer32.forward, x32, y32, fed=fed32)
    b32 = p.call(layer32.backward, d32, fed=fed32)
    _float32(p, {"out": out32, "dx": b32[0], "dy": b32[1]}, fed32)


def _read_only(p: Probe, inputs: dict[str, Array], d: Array, *args: Any) -> None:
    """Forward on read-only copies of ``inputs`` (named), then backward on a read-only ``dout``:
    NumPy refuses a write into either, in the learner's own line. ``args`` build the layer."""
    layer = p.new(*args)
    names = " or ".join(inputs)
    try:
        with np.errstate(all="ignore"):
            layer.forward(*(_ro(a) for a in inputs.values()))
    except Exception as exc:
        if _is_read_only_error(exc):
            p.add(Finding("input-mutated", where=p.where(exc), fed=f"{', '.join(inputs)} read-only",
                          got=f"a write into {names}"))
        return
    try:
        with np.errstate(all="ignore"):
            layer.backward(_ro(d))
    except Exception as exc:
        if _is_read_only_error(exc):
            p.add(Finding("dout-mutated", where=p.where(exc), fed="dout read-only", got="a write into dout"))


def _stale_and_repeat(p: Probe, inputs: list[tuple[Array, ...]], d: Array, kind: str) -> None:
    """Two forwards then one backward must use the second's values; two backwards must agree."""
    first, second = inputs
    expected_1 = _reference_backward(kind, first, d)
    expected_2 = _reference_backward(kind, second, d)
    layer = p.new()
    p.call(layer.forward, *(a.copy() for a in first), fed="two forward calls")
    p.call(layer.forward, *(a.copy() for a in second), fed="two forward calls")
    g1 = _flat_grads(p.call(layer.backward, d.copy(), fed="two forward calls, then backward"))
    if not all(close(a, b) for a, b in zip(g1, expected_2, strict=False)):
        if all(close(a, b) for a, b in zip(g1, expected_1, strict=False)):
            got, exp, idx = worst("dx", g1[0], expected_2[0])
            p.add(
                Finding(
                    "stale-cache",
                    fed="forward(x1), forward(x2), backward(dout)",
                    got=got,
                    expected=exp,
                    index=idx,
                )
            )
        return
    g2 = _flat_grads(p.call(layer.backward, d.copy(), fed="backward called twice"))
    if not all(close(a, b, rtol=1e-12, atol=0) for a, b in zip(g2, g1, strict=False)):
        got, exp, idx = worst("dx", g2[0], g1[0])
        p.add(
            Finding("backward-not-repeatable", fed="backward(dout) twice", got=got, expected=exp, index=idx)
        )


def _flat_grads(back: Any) -> list[Array]:
    if isinstance(back, (tuple, list)):
        return [np.array(b) for b in back]
    return [np.array(back)]


def _reference_backward(kind: str, inputs: Any, d: Array) -> list[Array]:
    ref: Any = {"mul": MulLayer, "add": AddLayer, "relu": Relu, "sigmoid": Sigmoid}[kind]()
    ref.forward(*inputs)
    return _flat_grads(ref.backward(d))


def _probe_mul(p: Probe) -> None:
    _probe_binary(p, "mul")


def _probe_add(p: Probe) -> None:
    _probe_binary(p, "add")


# -- Relu and Sigmoid ----------------------------------------------------------------------------------
def _unary_input(p: Probe, kind: str) -> Array:
    x = p.rng.standard_normal((2, 3, 4))
    if kind == "relu":
        x.flat[::5] = 0.0  # exact zeros: the kink
    else:
        x.flat[0], x.flat[1] = 1000.0, -1000.0  # saturated, exactly 0 and 1
    return x


def _probe_unary(p: Probe, kind: str) -> None:
    x = _unary_input(p, kind)
    d = np.asarray(p.rng.standard_normal(x.shape))
    fed = describe(x=x, dout=d)
    ref = Relu() if kind == "relu" else Sigmoid()
    ref_out = ref.forward(x)
    ref_dx = ref.backward(d)

    layer = p.new()
    gx, gd = x.copy(), d.copy()
    out = _arr(p.call(layer.forward, gx, fed=fed))
    _writes(p, {"x": gx}, {"x": x})
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
            raise _Stop()
        got, exp, idx = worst("out", out, ref_out)
        p.add(Finding("wrong-forward", fed=fed, got=got, expected=exp, index=idx))
    dx = np.array(p.call(layer.backward, gd, fed=fed))
    _writes(p, {"x": gx}, {"x": x})
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
                    numerical=_numerical_text(p, layer, x, d, idx),
                )
            )
        raise _Stop()
    if dout_written:
        p.add(Finding("dout-mutated", fed=fed, got="dout changed", expected="dout unchanged"))
    if not forward_ok:
        raise _Stop()

    _stale_and_repeat(p, [(x,), (np.asarray(p.rng.standard_normal(x.shape)),)], d, kind)
    _read_only(p, {"x": x}, d)
    x32, d32 = x.astype(np.float32), d.astype(np.float32)
    fed32 = describe(x=x32, dout=d32)
    layer32 = p.new()
    out32 = p.call(layer32.forward, x32, fed=fed32)
    dx32 = p.call(layer32.backward, d32, fed=fed32)
    _float32(p, {"out": out32, "dx": dx32}, fed32)


def _inverted(dx: Array, x: Array, d: Array) -> bool:
    """ReLU's backward with the mask the wrong way round (either slope at x == 0)."""
    away = x != 0
    return dx.shape == x.shape and close(dx[away], np.where(x < 0, d, 0.0)[away])


def _numerical_text(p: Probe, layer: Any, x: Array, d: Array, idx: list[int] | None) -> str:
    """The central difference of the learner's own forward at ``idx`` (float64)."""
    if idx is None:
        return ""
    h = 1e-5
    t = tuple(idx)
    try:
        with np.errstate(all="ignore"):
            xp, xm = x.copy(), x.copy()
            xp[t] += h
            xm[t] -= h
            fresh = p.cls()
            fp = float(np.sum(np.asarray(fresh.forward(xp)) * d))
            fm = float(np.sum(np.asarray(fresh.forward(xm)) * d))
    except Exception:
        return ""
    return f"{(fp - fm) / (2 * h):.6g}"


def _probe_relu(p: Probe) -> None:
    _probe_unary(p, "relu")


def _probe_sigmoid(p: Probe) -> None:
    _probe_unary(p, "sigmoid")


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
        raise _Stop()
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
) -> bool:
    """Name the mistake in ``dx``, ``dW``, ``db`` if there is one; True when all are right."""
    _, ref_dx, ref_dW, ref_db = ref
    right = True
    if dx.shape != x.shape and dx.size == x.size:
        p.add(Finding("dx-shape", fed=fed, got=f"dx shape {tuple(dx.shape)}", expected=f"dx shape {x.shape}"))
        right = False
    elif not close(dx, ref_dx):
        g, e, idx = worst("dx", dx, ref_dx)
        p.add(Finding("wrong-gradient", where="backward: dx", fed=fed, got=g, expected=e, index=idx))
        right = False
    if not close(dW, ref_dW):
        if close(dW, ref_dW.T):
            g, e, idx = worst("dW", dW, ref_dW)
            p.add(Finding("weight-grad-transposed", fed=fed, got=g, expected=e, index=idx))
        else:
            g, e, idx = worst("dW", dW, ref_dW)
            p.add(Finding("wrong-gradient", where="backward: dW", fed=fed, got=g, expected=e, index=idx))
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
            )
        )
        right = False
    return right


def _probe_affine(p: Probe) -> None:
    rng = p.rng
    n, dim, m = 3, 4, 5
    W, b = rng.standard_normal((dim, m)), rng.standard_normal(m)
    x, d = rng.standard_normal((n, dim)), rng.standard_normal((n, m))
    fed = describe(W=W, b=b, x=x, dout=d)
    ref = _affine_reference(W, b, x, d)

    layer = p.new(W.copy(), b.copy())
    gx, gd = x.copy(), d.copy()
    out = _arr(p.call(layer.forward, gx, fed=fed))
    _writes(p, {"x": gx}, {"x": x})
    if not close(out, ref[0]):
        g, e, idx = worst("out", out, ref[0])
        p.add(Finding("wrong-forward", fed=fed, got=g, expected=e, index=idx))
        raise _Stop()
    dx = np.array(p.call(layer.backward, gd, fed=fed))
    _writes(p, {"x": gx}, {"x": x})
    dW, db = _affine_grads(p, layer, fed)
    if not np.array_equal(gd, d):
        p.add(Finding("dout-mutated", fed=fed, got="dout changed", expected="dout unchanged"))
    if not _check_affine_grads(p, fed, x, d, dx, dW, db, ref):
        raise _Stop()

    # a square W: a transposed dW has the right shape and wrong values
    Ws, xs, ds = rng.standard_normal((4, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    fed_sq = describe(W=Ws, b=b[:4], x=xs, dout=ds)
    square = p.new(Ws.copy(), b[:4].copy())
    p.call(square.forward, xs.copy(), fed=fed_sq)
    dxs = _arr(p.call(square.backward, ds.copy(), fed=fed_sq))
    if not _check_affine_grads(
        p, fed_sq, xs, ds, dxs, *_affine_grads(p, square, fed_sq), _affine_reference(Ws, b[:4], xs, ds)
    ):
        raise _Stop()

    # a batch of one
    x1, d1 = x[:1].copy(), d[:1].copy()
    fed1 = describe(W=W, b=b, x=x1, dout=d1)
    one = p.new(W.copy(), b.copy())
    p.call(one.forward, x1.copy(), fed=fed1)
    dx1 = _arr(p.call(one.backward, d1.copy(), fed=fed1))
    if not _check_affine_grads(
        p, fed1, x1, d1, dx1, *_affine_grads(p, one, fed1), _affine_reference(W, b, x1, d1)
    ):
        raise _Stop()

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
        dx4 = _arr(p.call(four.backward, d4.copy(), fed=fed4))
        _check_affine_grads(p, fed4, x4, d4, dx4, *_affine_grads(p, four, fed4), ref4)

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
        dx_a = _arr(p.call(twice.backward, d.copy(), fed="backward called twice"))
        dW_a = _affine_grads(p, twice, fed)[0]
        dx_b = _arr(p.call(twice.backward, d.copy(), fed="backward called twice"))
        dW_b = _affine_grads(p, twice, fed)[0]
        if not (close(dx_b, dx_a, 1e-12, 0) and close(dW_b, dW_a, 1e-12, 0)):
            g, e, idx = worst("dW", dW_b, dW_a)
            p.add(
                Finding("backward-not-repeatable", fed="backward(dout) twice", got=g, expected=e, index=idx)
            )

    _read_only(p, {"x": x}, d, W.copy(), b.copy())

    W32, b32, x32, d32 = (a.astype(np.float32) for a in (W, b, x, d))
    fed32 = describe(W=W32, b=b32, x=x32, dout=d32)
    layer32 = p.new(W32, b32)
    out32 = p.call(layer32.forward, x32, fed=fed32)
    dx32 = p.call(layer32.backward, d32, fed=fed32)
    _float32(
        p,
        {"out": out32, "dx": dx32, "dW": getattr(layer32, "dW", None), "db": getattr(layer32, "db", None)},
        fed32,
    )


# -- SoftmaxWithLoss ----------------------------------------------------------------------------------
LOSS_RTOL, LOSS_ATOL = 1e-5, 1e-6


def _softmax_reference(x: Array, t: Array, dout: float = 1.0) -> tuple[float, Array]:
    ref = SoftmaxWithLoss()
    loss = float(ref.forward(x, t))
    return loss, np.asarray(ref.backward(dout))


def _loss_forward(p: Probe, layer: Any, x: Array, t: Array, fed: str, on_error: str | None = "raised") -> Any:
    return p.call(layer.forward, x.copy(), t.copy(), fed=fed, on_error=on_error)


def _probe_softmax_with_loss(p: Probe) -> None:
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
        _writes(p, {"x": gx, "t": gt}, {"x": x, "t": t})  # in forward or in backward
        forms[form] = ("ok", "", fed)
        results[form] = (np.asarray(loss, dtype=np.float64), dx, fed)
    working = [f for f, r in forms.items() if r[0] == "ok"]
    if not working:
        _, where, fed = forms["labels"]
        p.add(Finding("raised", where=where, fed=fed))
        raise _Stop()

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
        if close(dx, ref_dx * n):
            p.add(Finding("missing-batch-mean", fed=fed, got=g, expected=e, index=idx))
        elif dx.shape == ref_dx.shape and close(dx, -ref_dx):
            p.add(
                Finding("wrong-gradient", where="backward: dx (sign)", fed=fed, got=g, expected=e, index=idx)
            )
        else:
            p.add(Finding("wrong-gradient", where="backward: dx", fed=fed, got=g, expected=e, index=idx))
    if p.has("missing-batch-mean", "wrong-gradient", "wrong-forward", "loss-not-mean"):
        raise _Stop()
    t_ok = labels if form == "labels" else onehot

    # dout other than 1
    layer = p.new()
    _loss_forward(p, layer, x, t_ok, fed)
    dx2 = _arr(p.call(layer.backward, 2.0, fed=describe(x=x, t=t_ok, dout=2.0)))
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
    dx_big = _arr(p.call(layer.backward, 1.0, fed=fed_big, on_error="softmax-overflow"))
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
    g1 = _arr(p.call(layer.backward, 1.0, fed="two forward calls, then backward"))
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
        g2 = _arr(p.call(layer.backward, 1.0, fed="backward called twice"))
        if not close(g2, g1, 1e-12, 0):
            g, e, idx = worst("dx", g2, g1)
            p.add(Finding("backward-not-repeatable", fed="backward() twice", got=g, expected=e, index=idx))

    # a batch of one
    fed1 = describe(x=x[:1], t=t_ok[:1])
    layer = p.new()
    loss1 = _loss_forward(p, layer, x[:1], t_ok[:1], fed1)
    dx1 = _arr(p.call(layer.backward, 1.0, fed=fed1))
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
            layer.forward(_ro(x), _ro(t_ok))
    except Exception as exc:
        if _is_read_only_error(exc):
            p.add(Finding("input-mutated", where=p.where(exc), fed="x, t read-only"))

    x32 = x.astype(np.float32)
    fed32 = describe(x=x32, t=t_ok)
    layer = p.new()
    p.call(layer.forward, x32, t_ok.copy(), fed=fed32)
    dx32 = p.call(layer.backward, 1.0, fed=fed32)
    _float32(p, {"dx": dx32}, fed32)


PROBES: dict[str, Callable[[Probe], None]] = {
    "MulLayer": _probe_mul,
    "AddLayer": _probe_add,
    "Relu": _probe_relu,
    "Sigmoid": _probe_sigmoid,
    "Affine": _probe_affine,
    "SoftmaxWithLoss": _probe_softmax_with_loss,
}


def probe_class(name: str, cls: type, learner_file: str | None) -> tuple[str, list[Finding]]:
    """Run the probes for the book's class ``name`` on ``cls``: ``(status, findings)`` with status
    ``"pass"``, ``"note"``, ``"fail"`` or ``"not-started"``."""
    p = Probe(cls, learner_file)
    try:
        PROBES[name](p)
    except _Stop:
        pass
    except NotStarted:
        return "not-started", [Finding("not-started")]
    except RecursionError as exc:
        p.add(Finding("raised", where=p.where(exc)))
    if any(f.severity == "fail" for f in p.findings):
        return "fail", p.findings
    return ("note" if p.findings else "pass"), p.findings
