"""Watch backpropagation run through a network, layer by layer (book §5.7).

:func:`trace` runs one forward and one backward pass through the network's own layers, as
:meth:`~layerwise.networks.Sequential.gradient` does, and keeps a copy of what passes each layer:

>>> import numpy as np, layerwise as lw
>>> net = lw.TwoLayerNet(4, 3, 2, rng=np.random.default_rng(0))
>>> tr = lw.trace(net, np.ones((1, 4), dtype=np.float32), np.array([1]))
>>> [step.name for step in tr.steps]
['Affine1', 'Relu1', 'Affine2', 'SoftmaxWithLoss']
>>> bool(np.array_equal(tr.steps[1].dx, tr.steps[0].dout))   # what Relu1 sends back, Affine1 gets
True

Forward, step ``k`` receives ``steps[k].x`` and returns ``steps[k].out`` (the next step's
``x``); backward, it receives ``steps[k].dout`` (the dx of step ``k + 1``) and returns
``steps[k].dx``. The last step is the loss layer: its ``out`` is the loss, its ``dout`` is 1
and its ``dx`` is, for Softmax-with-Loss, ``(y − t) / N``. ``steps[0].dx`` is the gradient of
the loss with respect to the input. Figures of a trace: :mod:`layerwise.figures.trace_figure`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError
from layerwise.gradient_check import GradientCheckReport, check_gradients
from layerwise.layers.base import Array, Layer, LossLayer

if TYPE_CHECKING:
    from layerwise.networks.sequential import Sequential

__all__ = ["trace", "Trace", "TraceStep"]


def _kept(value: Any) -> Array:
    """A copy of what a layer returned: layers may hand out views of buffers they reuse."""
    return np.array(value, copy=True, order="C")


@dataclass
class TraceStep:
    """What passed one layer, forward and backward.

    ``x`` and ``out`` are the forward input and output; ``dout`` the gradient the layer
    received from the next one and ``dx`` the gradient it sent back; ``grads`` its parameter
    gradients keyed as the network's ``params`` (``W1``, ``b1``), weight decay included, as in
    :meth:`~layerwise.networks.Sequential.gradient`; ``check`` the per-layer gradient check
    (:func:`~layerwise.gradient_check.check_gradients` in float64 on a slice of the batch),
    when asked for. ``layer`` is the network's own layer object.
    """

    index: int
    name: str
    layer: Layer
    x: Array
    out: Array
    dout: Array = field(default_factory=lambda: np.zeros(0))
    dx: Array = field(default_factory=lambda: np.zeros(0))
    grads: dict[str, Array] = field(default_factory=dict)
    check: GradientCheckReport | None = None

    @property
    def kind(self) -> str:
        """The layer's class name: ``Affine``, ``Relu``, ``SoftmaxWithLoss``..."""
        return type(self.layer).__name__

    @property
    def is_loss(self) -> bool:
        return isinstance(self.layer, LossLayer)

    def __repr__(self) -> str:
        return (f"TraceStep({self.index}: {self.name} ({self.kind}), x {self.x.shape} -> out "
                f"{self.out.shape}, dout {self.dout.shape} -> dx {self.dx.shape}"
                + (f", grads {sorted(self.grads)}" if self.grads else "") + ")")


@dataclass
class Trace:
    """One forward and backward pass of a network, recorded layer by layer.

    ``steps`` are in execution order, the loss layer last; the backward pass visits them in
    reverse. ``loss`` is the network's loss (weight decay included, as :meth:`loss`),
    ``t`` the targets, ``network`` the network's class name.
    """

    network: str
    steps: list[TraceStep]
    loss: float
    t: Array

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, key: int | str) -> TraceStep:
        if isinstance(key, str):
            for step in self.steps:
                if step.name == key:
                    return step
            raise KeyError(f"no layer named {key!r} in the trace; have {[s.name for s in self.steps]}")
        return self.steps[key]

    @property
    def grads(self) -> dict[str, Array]:
        """Every parameter gradient, keyed as the network's ``params``: ``net.gradient``'s result."""
        return {key: value for step in self.steps for key, value in step.grads.items()}

    @property
    def input_gradient(self) -> Array:
        """∂L/∂x: the gradient of the loss with respect to the network's input."""
        return self.steps[0].dx

    def backward_order(self) -> list[TraceStep]:
        """The steps in the order the backward pass visits them: the loss layer first."""
        return self.steps[::-1]

    @property
    def checked(self) -> bool:
        """True when every step carries a gradient check and every check passed."""
        return all(step.check is not None and step.check.passed for step in self.steps)

    def to_svg(self, reached: int | None = None, *, sample: int = 0) -> str:
        """The figure as SVG text, drawn without Graphviz (see :mod:`layerwise.figures.trace_figure`).

        ``reached`` is how many backward steps have run, ``0`` (forward only) to
        ``len(steps)`` (the default: the whole backward pass); ``sample`` the batch row shown.
        """
        from layerwise.figures.trace_figure import trace_svg

        return trace_svg(self, reached, sample=sample)

    def frames(self, *, sample: int = 0) -> list[str]:
        """One SVG per backward step: frame ``k`` has the backward pass through ``k`` layers."""
        return [self.to_svg(k, sample=sample) for k in range(len(self.steps) + 1)]

    def to_html(self, *, sample: int = 0) -> str:
        """A self-contained HTML page: the frames with a slider to step through backward."""
        from layerwise.figures.trace_figure import trace_html

        return trace_html(self, sample=sample)

    def to_png(self, reached: int | None = None, *, sample: int = 0, scale: float = 1.0) -> bytes:
        """Frame ``reached`` as PNG file bytes: the SVG's layout drawn with Pillow, ``scale``
        pixels a unit (needs the ``plot`` extra: ``pip install 'layerwise[plot]'``)."""
        from layerwise.figures.trace_figure import trace_png

        return trace_png(self, reached, sample=sample, scale=scale)

    def to_gif(self, *, sample: int = 0, seconds_per_step: float = 1.0, scale: float = 1.0) -> bytes:
        """The frames as an animated GIF (file bytes), one a ``seconds_per_step`` (``plot`` extra)."""
        from layerwise.figures.trace_figure import trace_gif

        return trace_gif(self, sample=sample, seconds_per_step=seconds_per_step, scale=scale)

    def save(self, path: Any, *, sample: int = 0, animate: bool = False) -> Any:
        """Write the figure to ``path``, atomically, in the format its suffix names: ``.svg``
        (animated with ``animate``), ``.html`` (a slider), ``.gif`` (the animation) or
        ``.png`` (the whole backward pass); GIF and PNG need the ``plot`` extra."""
        from layerwise.figures.trace_figure import save_trace

        return save_trace(self, path, sample=sample, animate=animate)

    def _repr_html_(self) -> str:
        from layerwise.figures.trace_figure import trace_widget

        return trace_widget(self)

    def __repr__(self) -> str:
        names = " -> ".join(step.name for step in self.steps)
        return f"Trace({self.network}: {names}; loss {self.loss:.6g})"


def trace(net: Sequential, x: ArrayLike, t: ArrayLike, *, check: bool = False, check_samples: int = 2,
          check_entries: int | None = 64, rng: np.random.Generator | int | None = 0) -> Trace:
    """Run one forward and one backward pass of ``net`` on ``(x, t)`` and record every layer.

    The pass is the one :meth:`~layerwise.networks.Sequential.gradient` makes, through the
    network's own layers in their order and mode (train or eval: set it first), one batch at a
    time: the layers' caches and gradients are left as ``gradient`` leaves them, ``last_loss``
    is set, and the gradients equal ``net.gradient(x, t)`` (a Dropout layer in training mode
    draws a new mask, as any pass does). Every value recorded is a copy.

    With ``check=True`` each layer's backward is compared with float64 central differences
    (:func:`~layerwise.gradient_check.check_gradients`) on the first ``check_samples`` rows of
    what it received, with the ``dout`` it received, checking at most ``check_entries`` entries
    of each array (``None``: all) and leaving out the entries at a kink (a ReLU input at 0, a
    tie in a pooling window; ``check_gradients(..., kinks=True)``). A Dropout layer is checked
    with the mask it drew.
    """
    if not hasattr(net, "execution_order") or not hasattr(net, "last_layer"):
        raise ConfigError(f"trace: expected a network (Sequential, TwoLayerNet...), got {type(net).__name__}")
    if isinstance(check_samples, bool) or not isinstance(check_samples, int) or check_samples < 1:
        raise ConfigError(f"trace: check_samples: expected an integer >= 1, got {check_samples!r}")
    xs = np.asarray(x)
    ts = np.asarray(t)
    if xs.ndim == 0 or xs.shape[0] == 0:
        raise ConfigError(f"trace: expected a batch of inputs (N, ...), got shape {xs.shape}")
    if ts.ndim == 0 or ts.shape[0] != xs.shape[0]:
        raise ConfigError(f"trace: {xs.shape[0]} inputs but targets of shape {ts.shape}")

    steps: list[TraceStep] = []
    out: Any = xs
    for index, (name, layer) in enumerate(net.execution_order()):
        given = out
        out = layer.forward(given)
        steps.append(TraceStep(index, name, layer, x=_kept(given), out=_kept(out)))
    loss_layer = net.last_layer
    data_loss = loss_layer.forward(out, ts)
    loss_step = TraceStep(len(steps), loss_layer.name, loss_layer, x=_kept(out),
                          out=np.asarray(data_loss, dtype=np.float64))
    steps.append(loss_step)

    grad: Any = loss_layer.backward(1.0)
    loss_step.dout, loss_step.dx = np.asarray(1.0, dtype=np.float64), _kept(grad)
    for step in reversed(steps[:-1]):
        step.dout = _kept(grad)
        grad = step.layer.backward(grad)
        step.dx = _kept(grad)
    loss, grads = net.apply_weight_decay(data_loss)  # weight decay's part of dW, as gradient()

    by_layer: dict[int, TraceStep] = {id(step.layer): step for step in steps}
    for key, (layer, _name) in net._index.items():
        owner = by_layer.get(id(layer))
        if owner is not None:
            owner.grads[key] = _kept(grads[key])
    if check:
        for step in steps:
            step.check = _check_step(step, ts, check_samples, check_entries, rng)
    return Trace(type(net).__name__, steps, float(loss), _kept(ts))


def _check_step(step: TraceStep, t: Array, samples: int, entries: int | None,
                rng: np.random.Generator | int | None) -> GradientCheckReport:
    """Backward against central differences for one layer, on the first rows it received.

    BatchNorm in training mode normalises over the batch, so its rows are not independent:
    the check then takes the whole batch it received, as the layer saw it.
    """
    layer = copy.deepcopy(step.layer)
    rows = slice(None) if _batch_coupled(layer) else slice(0, samples)
    x = step.x[rows]
    mask = getattr(layer, "mask", None)
    if hasattr(layer, "fix_mask") and layer.training and mask is not None:
        layer.fix_mask(mask[rows])  # Dropout: the rows of the mask it drew
    if isinstance(layer, LossLayer):
        # the mean over the batch: the slice's loss is a mean over fewer rows, dout stays 1
        return check_gradients(layer, x, t[rows], rng=rng, entries=entries, kinks=True)
    dout = step.dout[rows]
    return check_gradients(layer, x, dout=dout, rng=rng, entries=entries, kinks=True)


def _batch_coupled(layer: Layer) -> bool:
    """A layer whose output for one row depends on the other rows (BatchNorm when training)."""
    return type(layer).__name__ == "BatchNormalization" and layer.training
