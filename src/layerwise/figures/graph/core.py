"""Record an expression as a graph of primitive nodes, run backward, keep every edge's values.

Building the graph runs the forward pass (each node computes its value when it is added);
:meth:`Graph.backward` then walks the nodes in reverse topological order and stores, on every
edge, the gradient that flows back along it (book sections 5.1-5.4).

Inputs and constants must be finite real numbers (:class:`~layerwise.errors.ConfigError`
otherwise): a NaN would silently spread to every edge.

This module is the data and the arithmetic only; drawing sits on top of it, one way:
:func:`layerwise.figures.graph.dot.to_dot` and :func:`layerwise.figures.graph.rendering.render` read a
:class:`Graph`, and :class:`layerwise.figures.graph.drawable.Graph` (the ``layerwise.figures.graph.Graph``
users get) adds the ``to_dot()`` and ``render()`` methods that call them.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError
from layerwise.figures.graph import ops
from layerwise.figures.graph.fmt import format_value
from layerwise.figures.graph.ops import Array, Op

__all__ = ["Graph", "Node", "Edge"]

INPUT = "input"
CONST = "const"


def _as_array(value: ArrayLike) -> Array:
    return np.array(value, dtype=np.float64)


def _finite_array(value: ArrayLike, what: str) -> Array:
    """``value`` as a float64 array; :class:`ConfigError` naming ``what`` unless finite and real."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "biuf":
            raise TypeError
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{what}: expected finite real numbers, got {reprlib.repr(value)}") from None
    bad = ~np.isfinite(arr)
    if np.any(bad):
        at = f" at index {tuple(int(i) for i in np.argwhere(bad)[0])}" if arr.ndim else ""
        raise ConfigError(f"{what}: expected finite numbers, got {arr[bad].flat[0]}{at}")
    return arr


@dataclass(eq=False, repr=False)
class Edge:
    """The connection from ``src``'s output into input number ``slot`` of ``dst``.

    ``value`` is the forward value on the edge (drawn above it), ``grad`` the gradient that
    flowed back along it (drawn below it), ``None`` until :meth:`Graph.backward` ran, and always
    ``None`` for edges leaving a constant.
    """

    src: Node
    dst: Node
    slot: int
    grad: Array | None = None

    @property
    def value(self) -> Array:
        return self.src.value

    def __repr__(self) -> str:
        grad = None if self.grad is None else self.grad.tolist()
        return (
            f"Edge(#{self.src.id} {self.src.label!r} -> #{self.dst.id} {self.dst.label!r}"
            f"[{self.slot}], value={self.value.tolist()}, grad={grad})"
        )


@dataclass(eq=False, repr=False)
class Node:
    """One node: an input, a constant, a primitive op or the graph's output.

    ``op`` is the op's name (``"input"``, ``"const"``, ``"mul"``, ...), ``label`` the text drawn
    in the node, ``value`` its output, ``grad`` the total gradient of the output with respect to
    that value (the sum over its outgoing edges). ``tag`` and ``grad_tag`` are optional texts
    drawn before the value and the gradient on every outgoing edge (e.g. ``"X·W"``).
    ``fused`` is the op that computes this node from its first input's inputs in one stable
    step (:meth:`layerwise.figures.graph.ops.Op.fused`), or ``None``.
    """

    id: int
    op: str
    label: str
    value: Array
    inputs: tuple[Edge, ...] = ()
    outputs: list[Edge] = field(default_factory=list)
    grad: Array | None = None
    tag: str | None = None
    grad_tag: str | None = None
    group: str | None = None
    impl: Op | None = None
    fused: Op | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    def __repr__(self) -> str:
        grad = None if self.grad is None else self.grad.tolist()
        value = self.value.tolist()
        fused = "" if self.fused is None else f", fused={self.fused!r}"
        return f"Node(#{self.id} {self.op} {self.label!r}, value={value}, grad={grad}{fused})"

    def fused_inputs(self) -> tuple[Node, ...]:
        """The nodes :attr:`fused` reads: the first input's own inputs, then the other inputs."""
        return (*(e.src for e in self.inputs[0].src.inputs), *(e.src for e in self.inputs[1:]))

    def compute(self) -> Array:
        """This node's value from its inputs' values, through :attr:`fused` where it is set."""
        assert self.impl is not None
        if self.fused is not None:
            return _as_array(self.fused.forward(*(n.value for n in self.fused_inputs())))
        return _as_array(self.impl.forward(*(e.value for e in self.inputs)))


class Graph:
    """A computational graph recorded node by node, forward on construction.

    Example (book figure 5-16)::

        g = Graph("apple")
        apple, num, tax = g.input("apple", 100), g.input("apple_num", 2), g.input("tax", 1.1)
        g.output(g.mul(g.mul(apple, num), tax), "price")
        g.backward()              # dout = 1 at the output
        apple.grad                # array(2.2)

    Nodes are kept in creation order, which is a topological order, so forward and backward
    are plain loops: no recursion, any depth.

    Where an op has a fused form with the op feeding its first input (Cross Entropy Error
    after Softmax, see :meth:`layerwise.figures.graph.ops.Op.fused`), the node's value and the
    gradients into the producer's inputs come from the fused op, as in the library's
    ``SoftmaxWithLoss``; every edge still shows what its own op gives (−t/y between the two).
    """

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self.nodes: list[Node] = []
        self.outputs: list[Node] = []
        self.groups: dict[str, str] = {}
        self.notes: list[str] = []
        # Draw every array as its shape, e.g. (3,), even short vectors (the Affine figure).
        self.shapes_only = False
        self._group: str | None = None

    def __repr__(self) -> str:
        outs = [n.label for n in self.outputs]
        size = f"{len(self.nodes)} nodes, {len(self.edges)} edges"
        return f"Graph({self.name!r}, {size}, outputs={outs})"

    @property
    def edges(self) -> list[Edge]:
        """All edges, in the order of their destination nodes."""
        return [e for n in self.nodes for e in n.inputs]

    # -- building -------------------------------------------------------------------------

    @contextmanager
    def group(self, title: str) -> Iterator[str]:
        """Nodes added inside ``with g.group("title"):`` are drawn together in a titled box."""
        key = f"cluster_{len(self.groups)}"
        self.groups[key] = title
        previous, self._group = self._group, key
        try:
            yield key
        finally:
            self._group = previous

    def note(self, text: str) -> None:
        """Add a line of text drawn under the figure."""
        self.notes.append(text)

    def _add(
        self,
        op: str,
        label: str,
        value: Array,
        inputs: Sequence[Node] = (),
        *,
        impl: Op | None = None,
        tag: str | None = None,
        grad_tag: str | None = None,
    ) -> Node:
        for x in inputs:
            if not (x.id < len(self.nodes) and self.nodes[x.id] is x):
                raise ConfigError(f"node {x!r} belongs to another graph than {self.name!r}")
        node = Node(
            id=len(self.nodes),
            op=op,
            label=label,
            value=value,
            impl=impl,
            tag=tag,
            grad_tag=grad_tag,
            group=self._group,
        )
        edges = tuple(Edge(src=x, dst=node, slot=i) for i, x in enumerate(inputs))
        node.inputs = edges
        for e in edges:
            e.src.outputs.append(e)
        self.nodes.append(node)
        return node

    def input(
        self, label: str, value: ArrayLike, *, tag: str | None = None, grad_tag: str | None = None
    ) -> Node:
        """A variable whose gradient we want (``apple``, ``x``, ``W``); finite numbers only."""
        arr = _finite_array(value, f"graph {self.name!r}: input {label!r}")
        return self._add(INPUT, label, arr, tag=tag, grad_tag=grad_tag)

    def const(self, value: ArrayLike, label: str | None = None, *, tag: str | None = None) -> Node:
        """A fixed operand (the −1 and 1 of the sigmoid, a label t): no gradient is drawn."""
        what = f"graph {self.name!r}: constant" + ("" if label is None else f" {label!r}")
        arr = _finite_array(value, what)
        text = label if label is not None else _const_label(arr)
        return self._add(CONST, text, arr, tag=tag)

    def apply(self, op: Op, *inputs: Node, tag: str | None = None, grad_tag: str | None = None) -> Node:
        """Add a node computing ``op`` of ``inputs`` (runs ``op.forward`` now)."""
        if len(inputs) != op.arity:
            raise ConfigError(f"{op!r} takes {op.arity} input(s), got {len(inputs)}")
        producer = inputs[0].impl if inputs else None
        fused = op.fused(producer) if producer is not None else None
        if fused is None:
            value = _as_array(op.forward(*(x.value for x in inputs)))
        else:  # from the producer's inputs: Cross Entropy Error from the scores, not from y
            args = (*(e.src.value for e in inputs[0].inputs), *(x.value for x in inputs[1:]))
            value = _as_array(fused.forward(*args))
        node = self._add(op.name, op.label, value, inputs, impl=op, tag=tag, grad_tag=grad_tag)
        node.fused = fused
        return node

    def mul(self, a: Node, b: Node, **kw: str | None) -> Node:
        """a × b, elementwise."""
        return self.apply(ops.Mul(), a, b, **kw)

    def add(self, a: Node, b: Node, **kw: str | None) -> Node:
        """a + b, elementwise."""
        return self.apply(ops.Add(), a, b, **kw)

    def exp(self, a: Node, **kw: str | None) -> Node:
        """exp(a)."""
        return self.apply(ops.Exp(), a, **kw)

    def neg(self, a: Node, **kw: str | None) -> Node:
        """−a."""
        return self.apply(ops.Neg(), a, **kw)

    def reciprocal(self, a: Node, **kw: str | None) -> Node:
        """1/a, the book's "/" node."""
        return self.apply(ops.Reciprocal(), a, **kw)

    def matmul(self, a: Node, b: Node, **kw: str | None) -> Node:
        """a·b, matrix product (the book's "dot" node)."""
        return self.apply(ops.MatMul(), a, b, **kw)

    def sum(self, a: Node, **kw: str | None) -> Node:
        """Sum over the batch axis 0."""
        return self.apply(ops.SumBatch(), a, **kw)

    def repeat(self, a: Node, n: int, **kw: str | None) -> Node:
        """Copy a of shape (D,) into n rows, shape (n, D)."""
        return self.apply(ops.Repeat(n), a, **kw)

    def sigmoid(self, a: Node, **kw: str | None) -> Node:
        """The one-node sigmoid, backward dout·y(1 − y)."""
        return self.apply(ops.Sigmoid(), a, **kw)

    def relu(self, a: Node, **kw: str | None) -> Node:
        """max(a, 0) as one node: the ReLU layer."""
        return self.apply(ops.Relu(), a, **kw)

    def softmax(self, a: Node, **kw: str | None) -> Node:
        """softmax over the last axis."""
        return self.apply(ops.Softmax(), a, **kw)

    def cross_entropy(self, y: Node, t: Node, *, eps: float = 0.0, **kw: str | None) -> Node:
        """Cross-entropy error of probabilities y against one-hot t (eps=1e-7: the book's)."""
        return self.apply(ops.CrossEntropy(eps), y, t, **kw)

    def output(self, a: Node, label: str = "L", **kw: str | None) -> Node:
        """Mark ``a`` as an output; :meth:`backward` starts here. Returns the output node."""
        node = self.apply(ops.Identity(), a, **kw)
        node.op, node.label = "output", label
        self.outputs.append(node)
        return node

    # -- running --------------------------------------------------------------------------

    def forward(self) -> None:
        """Recompute every node's value in creation order (after editing an input's value)."""
        for node in self.nodes:
            if node.impl is not None:
                node.value = node.compute()

    def backward(self, dout: ArrayLike = 1.0) -> None:
        """Backpropagate ``dout`` from every output and store each edge's gradient.

        ``dout`` is broadcast to each output's shape (a scalar 1 on a matrix output means the
        gradient of its sum). With several outputs this is the gradient of their sum; disjoint
        subgraphs (the sigmoid figure) are therefore independent. Gradients are reset first,
        so calling ``backward`` twice gives the same values, never doubled ones.

        At a fused node (Cross Entropy Error after Softmax) the edge from the producer gets
        the node's own gradient (−t/y, ``-inf`` where y underflowed to 0) for display, and the
        producer's input edges get the fused op's gradient (y − t) instead of the producer's
        rule applied to it.
        """
        if not self.outputs:
            raise ConfigError(f"graph {self.name!r} has no output: call graph.output(node) first")
        seed = _as_array(dout)
        for node in self.nodes:
            node.grad = None
            for e in node.inputs:
                e.grad = None

        needed = self._ancestors(self.outputs)
        # edges whose gradient the fused op already carried past their destination, and the
        # gradients it left for the producer's input edges
        carried: set[Edge] = set()
        pending: dict[Edge, Array] = {}
        for node in reversed(self.nodes):
            if node.id not in needed:
                continue
            if node.op == "output":
                try:
                    grad = np.broadcast_to(seed, node.value.shape).copy()
                except ValueError:
                    raise ConfigError(
                        f"dout of shape {seed.shape} does not fit output {node.label!r} "
                        f"of shape {node.value.shape}"
                    ) from None
            else:
                flowing = [e.grad for e in node.outputs if e.grad is not None]
                if not flowing or node.op == CONST:
                    continue
                grad = _total(flowing)
                if any(e in carried for e in node.outputs):
                    node.grad = grad  # ∂L/∂y as it is, −t/y; what flows on is computed apart
                    self._backward_fused_producer(node, carried, pending)
                    continue
            node.grad = grad
            if node.impl is None:
                continue
            xs = [e.value for e in node.inputs]
            own = list(node.impl.backward(grad, xs, node.value))
            if node.fused is not None:
                producer = node.inputs[0].src
                through = node.fused.backward(grad, [n.value for n in node.fused_inputs()], node.value)
                k = len(producer.inputs)
                for e, g in zip(producer.inputs, through[:k], strict=True):
                    pending[e] = pending[e] + g if e in pending else _as_array(g)
                own[1:] = through[k:]  # the fused op's gradients of the other inputs are exact
                carried.add(node.inputs[0])
            for e, g in zip(node.inputs, own, strict=True):
                if e.src.op != CONST:
                    e.grad = _as_array(g)

    def _backward_fused_producer(self, node: Node, carried: set[Edge], pending: dict[Edge, Array]) -> None:
        """Input edges of a producer (Softmax) whose consumer was fused: the fused gradient,
        plus this node's own rule applied to what reached it along the other edges."""
        assert node.impl is not None
        rest = [e.grad for e in node.outputs if e.grad is not None and e not in carried]
        own: Sequence[Array | None] = [None] * len(node.inputs)
        if rest:
            own = node.impl.backward(_total(rest), [e.value for e in node.inputs], node.value)
        for e, g in zip(node.inputs, own, strict=True):
            if e.src.op == CONST:
                continue
            parts = [p for p in (pending.get(e), g) if p is not None]
            if parts:
                e.grad = _as_array(_total(parts))

    def _ancestors(self, roots: Sequence[Node]) -> set[int]:
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if node.id in seen:
                continue
            seen.add(node.id)
            stack.extend(e.src for e in node.inputs)
        return seen

    # -- looking up ------------------------------------------------------------------------

    def node(self, label: str) -> Node:
        """The unique node drawn with ``label`` (``g.node("apple")``)."""
        found = [n for n in self.nodes if n.label == label]
        if len(found) != 1:
            labels = sorted({n.label for n in self.nodes})
            raise KeyError(f"{len(found)} nodes labelled {label!r} in {self.name!r}; labels: {labels}")
        return found[0]


def _const_label(arr: Array) -> str:
    return format_value(arr)


def _total(grads: Sequence[Array]) -> Array:
    total = grads[0].copy()
    for g in grads[1:]:
        total = total + g
    return total
