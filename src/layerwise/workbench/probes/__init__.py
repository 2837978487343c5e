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

from collections.abc import Callable

from layerwise.workbench.probes.activation import probe_relu, probe_sigmoid
from layerwise.workbench.probes.affine import probe_affine
from layerwise.workbench.probes.arithmetic import probe_add, probe_mul
from layerwise.workbench.probes.common import BOOK_NAMES, Finding, NotStarted, Probe, Stop
from layerwise.workbench.probes.loss import probe_softmax_with_loss

__all__ = ["Finding", "PROBES", "BOOK_NAMES", "probe_class", "NotStarted"]


PROBES: dict[str, Callable[[Probe], None]] = {
    "MulLayer": probe_mul,
    "AddLayer": probe_add,
    "Relu": probe_relu,
    "Sigmoid": probe_sigmoid,
    "Affine": probe_affine,
    "SoftmaxWithLoss": probe_softmax_with_loss,
}


def probe_class(name: str, cls: type, learner_file: str | None) -> tuple[str, list[Finding]]:
    """Run the probes for the book's class ``name`` on ``cls``: ``(status, findings)`` with status
    ``"pass"``, ``"note"``, ``"fail"`` or ``"not-started"``."""
    p = Probe(cls, learner_file)
    try:
        PROBES[name](p)
    except Stop:
        pass
    except NotStarted:
        return "not-started", [Finding("not-started")]
    except RecursionError as exc:
        p.add(Finding("raised", where=p.where(exc)))
    if any(f.severity == "fail" for f in p.findings):
        return "fail", p.findings
    return ("note" if p.findings else "pass"), p.findings

