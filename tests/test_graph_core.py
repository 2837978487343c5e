"""The recording layer: every primitive's backward against numerical gradients, and backward's
bookkeeping (idempotent, iterative, fan-out sums, constants)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from layerwise.figures.graph import Graph
from layerwise.figures.graph.core import Node
from layerwise.figures.graph.ops import Mul

Build = Callable[[Graph, list[Node]], Node]

# (name, input arrays, how to build the op from input nodes)
rng = np.random.default_rng(1234)
_pos = rng.uniform(0.5, 2.0, (2, 3))
CASES: list[tuple[str, list[np.ndarray], Build]] = [
    ("mul", [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))], lambda g, a: g.mul(*a)),
    (
        "mul-broadcast",
        [rng.standard_normal((2, 3)), rng.standard_normal(3)],
        lambda g, a: g.mul(*a),
    ),
    ("add", [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))], lambda g, a: g.add(*a)),
    (
        "add-broadcast",
        [rng.standard_normal((2, 3)), rng.standard_normal((1, 3))],
        lambda g, a: g.add(*a),
    ),
    ("exp", [rng.standard_normal((2, 3))], lambda g, a: g.exp(a[0])),
    ("neg", [rng.standard_normal((2, 3))], lambda g, a: g.neg(a[0])),
    ("reciprocal", [_pos], lambda g, a: g.reciprocal(a[0])),
    (
        "matmul",
        [rng.standard_normal((2, 4)), rng.standard_normal((4, 3))],
        lambda g, a: g.matmul(*a),
    ),
    ("sum", [rng.standard_normal((4, 3))], lambda g, a: g.sum(a[0])),
    ("repeat", [rng.standard_normal(3)], lambda g, a: g.repeat(a[0], 4)),
    ("sigmoid", [rng.standard_normal((2, 3))], lambda g, a: g.sigmoid(a[0])),
    ("softmax", [rng.standard_normal((2, 3))], lambda g, a: g.softmax(a[0])),
    ("softmax-1d", [rng.standard_normal(4)], lambda g, a: g.softmax(a[0])),
    (
        "cross_entropy",
        [rng.dirichlet(np.ones(3), size=2), rng.dirichlet(np.ones(3), size=2)],
        lambda g, a: g.cross_entropy(*a),
    ),
]


def _run(inputs: list[np.ndarray], build: Build, dout: np.ndarray) -> tuple[float, Graph, list[Node]]:
    g = Graph("check")
    nodes = [g.input(f"x{i}", v) for i, v in enumerate(inputs)]
    out = build(g, nodes)
    g.output(out)
    g.backward(dout)
    return float(np.sum(out.value * dout)), g, nodes


@pytest.mark.parametrize(("name", "inputs", "build"), CASES, ids=[c[0] for c in CASES])
def test_primitive_backward_matches_numerical_gradient(
    name: str, inputs: list[np.ndarray], build: Build
) -> None:
    # The scalar checked is sum(out * dout), whose gradient is exactly what backward(dout) gives.
    out_shape = _run(inputs, build, np.ones(()))[1].outputs[0].value.shape
    dout = np.random.default_rng(7).standard_normal(out_shape)
    _, _, nodes = _run(inputs, build, dout)
    h = 1e-6
    for i, x in enumerate(inputs):
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus = [v.copy() for v in inputs]
            minus = [v.copy() for v in inputs]
            plus[i][idx] += h
            minus[i][idx] -= h
            numeric[idx] = (_run(plus, build, dout)[0] - _run(minus, build, dout)[0]) / (2 * h)
        grad = nodes[i].grad
        assert grad is not None and grad.shape == x.shape
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7, err_msg=f"{name} input {i}")


def test_backward_twice_gives_same_gradients_not_doubled() -> None:
    g = Graph()
    a, b = g.input("a", 3.0), g.input("b", 4.0)
    g.output(g.mul(a, b))
    g.backward()
    first = [None if e.grad is None else e.grad.copy() for e in g.edges]
    g.backward()
    assert [None if e.grad is None else e.grad.tolist() for e in g.edges] == [
        None if f is None else f.tolist() for f in first
    ]
    assert float(a.grad) == 4.0 and float(b.grad) == 3.0  # type: ignore[arg-type]


def test_backward_scales_with_dout() -> None:
    g = Graph()
    a = g.input("a", 3.0)
    g.output(g.mul(a, g.const(5.0)))
    g.backward(2.0)
    assert float(a.grad) == 10.0  # type: ignore[arg-type]


def test_deep_chain_has_no_recursion_limit() -> None:
    g = Graph()
    x = g.input("x", 0.0)
    one = g.const(1.0)
    node = x
    for _ in range(20_000):
        node = g.add(node, one)
    g.output(node)
    g.backward()
    assert float(node.value) == 20_000.0
    assert float(x.grad) == 1.0  # type: ignore[arg-type]


def test_fan_out_gradients_sum_at_the_node_and_stay_separate_on_edges() -> None:
    # y = x*x + x: dy/dx = 2x + 1; the three edges leaving x carry x, x and 1.
    g = Graph()
    x = g.input("x", 3.0)
    g.output(g.add(g.mul(x, x), x))
    g.backward()
    assert float(x.grad) == 7.0  # type: ignore[arg-type]
    assert sorted(float(e.grad) for e in x.outputs) == [1.0, 3.0, 3.0]  # type: ignore[arg-type]


def test_constants_get_no_gradient_and_unused_nodes_stay_untouched() -> None:
    g = Graph()
    x = g.input("x", 2.0)
    c = g.const(-1.0)
    unused = g.exp(x)
    g.output(g.mul(x, c))
    g.backward()
    assert c.grad is None and c.outputs[0].grad is None
    assert unused.grad is None
    assert float(x.grad) == -1.0  # type: ignore[arg-type]
    assert x.outputs[0].dst is unused and x.outputs[0].grad is None


def test_forward_recomputes_after_an_input_changes() -> None:
    g = Graph()
    a = g.input("a", 2.0)
    y = g.mul(a, g.const(10.0))
    g.output(y)
    a.value = np.array(3.0)
    g.forward()
    g.backward()
    assert float(y.value) == 30.0


def test_edge_value_is_its_source_value_and_graph_lists_edges() -> None:
    g = Graph("tiny")
    a, b = g.input("a", 2.0), g.input("b", 5.0)
    s = g.add(a, b)
    g.output(s, "s")
    assert [(e.src.label, e.dst.label, e.slot) for e in g.edges] == [
        ("a", "+", 0),
        ("b", "+", 1),
        ("+", "s", 0),
    ]
    assert float(g.edges[2].value) == 7.0
    assert repr(g) == "Graph('tiny', 4 nodes, 3 edges, outputs=['s'])"
    assert "Node(#2 add '+', value=7.0, grad=None)" == repr(s)
    assert "a" in repr(g.edges[0]) and "grad=None" in repr(g.edges[0])


def test_errors_name_the_problem() -> None:
    g = Graph("g")
    a = g.input("a", [1.0, 2.0])
    with pytest.raises(ValueError, match="has no output"):
        g.backward()
    with pytest.raises(ValueError, match="takes 2 input"):
        g.apply(Mul(), a)
    other = Graph("other")
    with pytest.raises(ValueError, match="another graph"):
        other.exp(a)
    g.output(a, "out")
    with pytest.raises(ValueError, match=r"dout of shape \(3,\) does not fit output 'out'"):
        g.backward(np.ones(3))
    with pytest.raises(KeyError, match="0 nodes labelled 'zz'"):
        g.node("zz")
    with pytest.raises(ValueError, match="n >= 1"):
        g.repeat(a, 0)
