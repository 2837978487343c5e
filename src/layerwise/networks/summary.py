"""A network's layers as a table in the Keras convention: layer, output shape, parameters.

>>> import numpy as np, layerwise as lw
>>> print(lw.TwoLayerNet(784, 50, 10, rng=np.random.default_rng(0)).summary())
TwoLayerNet
Layer (type)                  Output shape             Param #
==============================================================
Affine1 (Affine)              (None, 50)                39,250
Relu1 (Relu)                  (None, 50)                     0
Affine2 (Affine)              (None, 10)                   510
SoftmaxWithLoss               (None, 10)                     0
==============================================================
Total params: 39,760
Trainable params: 39,760
Non-trainable params: 0
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from layerwise.errors import ConfigError
from layerwise.layers.base import Layer


class Network(Protocol):
    """What the summary reads of a :class:`~layerwise.networks.Sequential` (a protocol, so
    that this module, which Sequential uses, does not import it back)."""

    @property
    def layers(self) -> Mapping[str, Layer]: ...
    @property
    def last_layer(self) -> Layer: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...

    def copy(self) -> Network: ...

    def eval(self) -> Network: ...

    def execution_order(self) -> list[tuple[str, Layer]]: ...

__all__ = ["Summary", "SummaryRow", "summarize", "input_shape_of"]


@dataclass(frozen=True)
class SummaryRow:
    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    params: int
    buffers: int


@dataclass(frozen=True)
class Summary:
    """The table of :meth:`~layerwise.networks.Sequential.summary`: ``str()`` as text,
    ``_repr_html_`` in Jupyter. Non-trainable parameters are the buffers (BatchNorm's running
    mean and variance), as Keras counts them."""

    network: str
    input_shape: tuple[int, ...]
    rows: tuple[SummaryRow, ...]

    @property
    def trainable(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def non_trainable(self) -> int:
        return sum(r.buffers for r in self.rows)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def _cells(self) -> list[tuple[str, str, str]]:
        return [(r.name if r.name == r.kind else f"{r.name} ({r.kind})", _shape(r.output_shape),
                 f"{r.params + r.buffers:,}") for r in self.rows]

    def _totals(self) -> list[str]:
        return [f"Total params: {self.total:,}", f"Trainable params: {self.trainable:,}",
                f"Non-trainable params: {self.non_trainable:,}"]

    def __str__(self) -> str:
        cells = self._cells()
        w0 = max([30, *(len(c[0]) + 1 for c in cells)])
        w1 = max([18, *(len(c[1]) + 1 for c in cells)])
        w2 = 14
        rule = "=" * (w0 + w1 + w2)
        lines = [self.network, f"{'Layer (type)':<{w0}}{'Output shape':<{w1}}{'Param #':>{w2}}", rule]
        lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in cells]
        return "\n".join([*lines, rule, *self._totals()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(a)}</td><td><code>{html.escape(b)}</code></td>"
            f"<td style='text-align:right'>{c}</td></tr>" for a, b, c in self._cells()
        )
        totals = "<br>".join(html.escape(t) for t in self._totals())
        return (f"<div><b>{html.escape(self.network)}</b><table><thead><tr><th>Layer (type)</th>"
                f"<th>Output shape</th><th>Param #</th></tr></thead><tbody>{body}</tbody></table>"
                f"<p>{totals}</p></div>")


def _shape(shape: tuple[int | None, ...]) -> str:
    inner = ", ".join("None" if n is None else str(n) for n in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def input_shape_of(net: Network) -> tuple[int, ...] | None:
    """The shape of one sample the network takes, when it can tell: its ``input_dim`` (conv
    nets) or the rows of its first layer's weight matrix (an Affine first)."""
    dim = getattr(net, "input_dim", None)
    if dim is not None:
        return tuple(int(n) for n in np.atleast_1d(dim))
    first = next(iter(net.layers.values()))
    weight = getattr(first, "W", None)
    if type(first).__name__ == "Affine" and weight is not None:
        return (int(np.shape(weight)[0]),)
    return None


def summarize(net: Network, input_shape: tuple[int, ...] | None = None) -> Summary:
    """Run one zero sample through a copy of ``net`` in inference mode and tabulate each
    layer's output shape and parameter count (the network itself is not touched)."""
    shape = input_shape if input_shape is not None else input_shape_of(net)
    if shape is None:
        raise ConfigError(f"{type(net).__name__}.summary(): cannot tell the input shape from the first "
                          "layer; pass input_shape=(C, H, W) or (features,)")
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ConfigError(f"summary: input_shape: expected a tuple of sizes, got {shape!r}") from None
    if not shape or min(shape) < 1:
        raise ConfigError(f"summary: input_shape: expected positive sizes, got {shape!r}")
    probe = net.copy().eval()
    out: Any = np.zeros((1, *shape), dtype=probe.dtype)
    rows: list[SummaryRow] = []
    for name, layer in probe.execution_order():
        out = layer.forward(out)
        rows.append(SummaryRow(name, type(layer).__name__, (None, *np.shape(out)[1:]),
                               sum(int(np.size(p)) for p in layer.params.values()),
                               sum(int(np.size(b)) for b in layer.buffers.values())))
    loss = probe.last_layer
    rows.append(SummaryRow(type(loss).__name__, type(loss).__name__, (None, *np.shape(out)[1:]), 0, 0))
    return Summary(type(net).__name__, shape, tuple(rows))
