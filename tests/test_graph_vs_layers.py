"""The graph's figures against the library's layers: a figure that disagrees is a bug.

Each check runs the same inputs through ``layerwise.layers`` (the book's layer classes) and
through ``layerwise.figures.graph`` (primitive nodes), and compares forward values and gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerwise import functions, layers
from layerwise.figures.graph import Graph, figure
from layerwise.figures.graph.figures import affine, sigmoid, softmax_loss


def _grads(g: Graph) -> dict[str, float]:
    return {n.label: float(n.grad) for n in g.nodes if n.op == "input" and n.grad is not None}


def test_apple_matches_mul_layers() -> None:
    # examples/buy_apple.py, book §5.4.1
    mul_apple, mul_tax = layers.MulLayer(), layers.MulLayer()
    price = mul_tax.forward(mul_apple.forward(100.0, 2.0), 1.1)
    d_apple_price, d_tax = mul_tax.backward(1.0)
    d_apple, d_num = mul_apple.backward(d_apple_price)

    g = figure("apple")
    assert float(g.outputs[0].value) == price
    assert _grads(g) == {"apple": d_apple, "apple_num": d_num, "tax": d_tax}


def test_apple_orange_matches_mul_and_add_layers() -> None:
    # examples/buy_apple_orange.py, book §5.4.2
    mul_apple, mul_orange = layers.MulLayer(), layers.MulLayer()
    add, mul_tax = layers.AddLayer(), layers.MulLayer()
    total = add.forward(mul_apple.forward(100.0, 2.0), mul_orange.forward(150.0, 3.0))
    price = mul_tax.forward(total, 1.1)
    d_total, d_tax = mul_tax.backward(1.0)
    d_apple_price, d_orange_price = add.backward(d_total)
    d_apple, d_apple_num = mul_apple.backward(d_apple_price)
    d_orange, d_orange_num = mul_orange.backward(d_orange_price)

    g = figure("apple-orange")
    assert float(g.outputs[0].value) == price
    assert _grads(g) == {
        "apple": d_apple,
        "apple_num": d_apple_num,
        "orange": d_orange,
        "orange_num": d_orange_num,
        "tax": d_tax,
    }


@given(st.floats(-30, 30, allow_nan=False))
def test_sigmoid_figure_matches_sigmoid_layer(x: float) -> None:
    layer = layers.Sigmoid()
    y = layer.forward(np.array([x]))
    dx = layer.backward(np.array([1.0]))
    g = sigmoid(x)
    steps, one_node = (n for n in g.nodes if n.op == "input")
    for out in g.outputs:
        np.testing.assert_allclose(out.value, y[0], rtol=1e-12)
    np.testing.assert_allclose(one_node.grad, dx[0], rtol=1e-12, atol=1e-300)  # type: ignore[arg-type]
    np.testing.assert_allclose(steps.grad, dx[0], rtol=1e-9, atol=1e-15)  # type: ignore[arg-type]


def test_sigmoid_node_matches_library_on_arrays(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4)) * 5
    dout = rng.standard_normal((3, 4))
    g = Graph()
    xin = g.input("x", x)
    g.output(g.sigmoid(xin))
    g.backward(dout)
    layer = layers.Sigmoid()
    np.testing.assert_allclose(g.outputs[0].value, layer.forward(x), rtol=1e-15)
    np.testing.assert_allclose(xin.grad, layer.backward(dout), rtol=1e-15)  # type: ignore[arg-type]
    np.testing.assert_allclose(g.outputs[0].value, functions.sigmoid(x), rtol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_affine_figure_matches_affine_layer(seed: int) -> None:
    g = affine(seed=seed)
    x, w, b = g.node("X"), g.node("W"), g.node("B")
    [y_edge] = g.outputs[0].inputs
    layer = layers.Affine(w.value, b.value)
    out = layer.forward(x.value)
    dx = layer.backward(y_edge.grad)
    np.testing.assert_allclose(y_edge.value, out, rtol=1e-12)
    np.testing.assert_allclose(x.grad, dx, rtol=1e-12)  # type: ignore[arg-type]
    np.testing.assert_allclose(w.grad, layer.dW, rtol=1e-12)  # type: ignore[arg-type]
    np.testing.assert_allclose(b.grad, layer.db, rtol=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x", "t"), [((0.3, 2.9, 4.0), 2), ((1.0, -2.0, 0.5), 0), ((0, 0, 0, 0), 3), ((10, 0, 0), 1)]
)
def test_softmax_loss_figure_matches_softmax_with_loss(x: tuple[float, ...], t: int) -> None:
    g = softmax_loss(x, t)
    a = g.node("a")
    layer = layers.SoftmaxWithLoss()
    loss = layer.forward(np.array([x], dtype=np.float64), np.array([t]))
    dx = layer.backward(1.0)
    assert float(g.outputs[0].value) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(a.grad, dx[0], rtol=1e-12, atol=1e-15)  # type: ignore[arg-type]
    np.testing.assert_allclose(a.outputs[0].dst.value, layer.y[0], rtol=1e-12)


def test_softmax_and_cross_entropy_nodes_match_library_functions(rng: np.random.Generator) -> None:
    scores = rng.standard_normal((4, 3)) * 3
    labels = np.array([0, 2, 1, 2])
    onehot = np.eye(3)[labels]
    g = Graph()
    y = g.softmax(g.input("a", scores))
    loss = g.cross_entropy(y, g.const(onehot, "t"), eps=1e-7)  # the book's guard, as the library
    np.testing.assert_allclose(y.value, functions.softmax(scores), rtol=1e-15)
    assert float(loss.value) == pytest.approx(functions.cross_entropy_error(y.value, onehot), rel=1e-15)
    assert float(loss.value) == pytest.approx(functions.cross_entropy_error(y.value, labels), rel=1e-15)


def test_batched_softmax_loss_graph_matches_layer(rng: np.random.Generator) -> None:
    scores = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, size=5)
    g = Graph()
    a = g.input("a", scores)
    g.output(g.cross_entropy(g.softmax(a), g.const(np.eye(4)[labels], "t")))
    g.backward(2.0)
    layer = layers.SoftmaxWithLoss()
    layer.forward(scores, labels)
    np.testing.assert_allclose(a.grad, layer.backward(2.0), rtol=1e-12, atol=1e-15)  # type: ignore[arg-type]
