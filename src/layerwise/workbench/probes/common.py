"""What every probe shares: the finding, the learner's calls under watch, and the checks that
apply to any class (writes into what it was given, float32, two forwards, two backwards)."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerwise.layers import AddLayer, MulLayer, Relu, Sigmoid
from layerwise.workbench.catalogue import CATALOGUE

__all__ = [
    "BOOK_NAMES",
    "Array",
    "Finding",
    "NotStarted",
    "Stop",
    "describe",
    "worst",
    "close",
    "Probe",
    "read_only_copy",
    "is_read_only_error",
    "as_array",
    "check_writes",
    "check_float32",
    "check_read_only",
    "check_stale_and_repeat",
    "flat_grads",
    "reference_backward",
    "same_file",
    "value_text",
    "central_difference",
]

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


class Stop(Exception):
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


def value_text(v: Any) -> str:
    return f"{float(v):.6g}"


def worst(name: str, got: Array, expected: Array) -> tuple[str, str, list[int] | None]:
    """``got`` and ``expected`` at the entry where they differ most, as text, and its index."""
    if got.shape != expected.shape:
        return f"{name} shape {tuple(got.shape)}", f"{name} shape {tuple(expected.shape)}", None
    if got.ndim == 0:
        return f"{name} = {value_text(got)}", f"{name} = {value_text(expected)}", None
    diff = np.abs(got.astype(np.float64) - expected)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), got.shape))
    label = f"{name}[{', '.join(map(str, idx))}]"
    return f"{label} = {value_text(got[idx])}", f"{label} = {value_text(expected[idx])}", list(idx)


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
        theirs = [f for f in frames if self.learner_file and same_file(f.filename, self.learner_file)]
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
            raise Stop() from None

    def new(self, *args: Any) -> Any:
        return self.call(self.cls, *args, fed=describe(**{f"arg{i}": a for i, a in enumerate(args)}))


def same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def read_only_copy(a: Array) -> Array:
    c = np.array(a, copy=True)
    c.flags.writeable = False
    return c


def is_read_only_error(exc: BaseException) -> bool:
    return isinstance(exc, ValueError) and "read-only" in str(exc)


def as_array(v: Any) -> Array:
    return np.asarray(v)


# -- shared probes --------------------------------------------------------------------------------------
def check_writes(
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


def check_float32(p: Probe, outputs: dict[str, Any], fed: str) -> None:
    promoted = [name for name, v in outputs.items() if isinstance(v, np.ndarray) and v.dtype == np.float64]
    if promoted:
        p.add(
            Finding(
                "float64-promotion", fed=fed, got=f"{promoted[0]} float64", expected=f"{promoted[0]} float32"
            )
        )


def check_read_only(p: Probe, inputs: dict[str, Array], d: Array, *args: Any) -> None:
    """Forward on read-only copies of ``inputs`` (named), then backward on a read-only ``dout``:
    NumPy refuses a write into either, in the learner's own line. ``args`` build the layer."""
    layer = p.new(*args)
    names = " or ".join(inputs)
    try:
        with np.errstate(all="ignore"):
            layer.forward(*(read_only_copy(a) for a in inputs.values()))
    except Exception as exc:
        if is_read_only_error(exc):
            p.add(Finding("input-mutated", where=p.where(exc), fed=f"{', '.join(inputs)} read-only",
                          got=f"a write into {names}"))
        return
    try:
        with np.errstate(all="ignore"):
            layer.backward(read_only_copy(d))
    except Exception as exc:
        if is_read_only_error(exc):
            p.add(Finding("dout-mutated", where=p.where(exc), fed="dout read-only", got="a write into dout"))


def check_stale_and_repeat(p: Probe, inputs: list[tuple[Array, ...]], d: Array, kind: str) -> None:
    """Two forwards then one backward must use the second's values; two backwards must agree."""
    first, second = inputs
    expected_1 = reference_backward(kind, first, d)
    expected_2 = reference_backward(kind, second, d)
    layer = p.new()
    p.call(layer.forward, *(a.copy() for a in first), fed="two forward calls")
    p.call(layer.forward, *(a.copy() for a in second), fed="two forward calls")
    g1 = flat_grads(p.call(layer.backward, d.copy(), fed="two forward calls, then backward"))
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
    g2 = flat_grads(p.call(layer.backward, d.copy(), fed="backward called twice"))
    if not all(close(a, b, rtol=1e-12, atol=0) for a, b in zip(g2, g1, strict=False)):
        got, exp, idx = worst("dx", g2[0], g1[0])
        p.add(
            Finding("backward-not-repeatable", fed="backward(dout) twice", got=got, expected=exp, index=idx)
        )


def flat_grads(back: Any) -> list[Array]:
    if isinstance(back, (tuple, list)):
        return [np.array(b) for b in back]
    return [np.array(back)]


def reference_backward(kind: str, inputs: Any, d: Array) -> list[Array]:
    ref: Any = {"mul": MulLayer, "add": AddLayer, "relu": Relu, "sigmoid": Sigmoid}[kind]()
    ref.forward(*inputs)
    return flat_grads(ref.backward(d))


def central_difference(scalar: Callable[[], Any], arr: Array, idx: list[int] | None, h: float = 1e-5) -> str:
    """``d scalar() / d arr[idx]`` by float64 central differences, as text (empty if it cannot
    be had): ``scalar`` runs the learner's own forward pass on ``arr``, which is moved by
    ``±h`` at ``idx`` in place and restored exactly. A wrong-gradient finding shows it beside
    the reference's value, so the learner sees what their own forward implies."""
    if idx is None:
        return ""
    at = tuple(idx)
    old = arr[at].copy()
    try:
        with np.errstate(all="ignore"):
            arr[at] = old + h
            up = float(np.sum(np.asarray(scalar(), dtype=np.float64)))
            arr[at] = old - h
            down = float(np.sum(np.asarray(scalar(), dtype=np.float64)))
    except Exception:
        return ""
    finally:
        arr[at] = old
    return f"{(up - down) / (2 * h):.6g}"
