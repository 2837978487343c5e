"""The ready-made figures carry the book's numbers on the right edges of their DOT text."""

from __future__ import annotations

import math

import numpy as np
import pytest
from graphdot import edges_from, last_number, parse_edges
from hypothesis import given
from hypothesis import strategies as st

from layerwise.figures.graph import FIGURES, Graph, UnknownFigureError, figure
from layerwise.figures.graph.figures import affine, sigmoid, softmax_loss


def _inputs(g: Graph, group_word: str | None = None) -> list:  # type: ignore[type-arg]
    return [
        n
        for n in g.nodes
        if n.op == "input" and (group_word is None or group_word in g.groups.get(n.group or "", ""))
    ]


def test_apple_edges() -> None:
    dot = figure("apple").to_dot()
    got = {(e.src, e.forward, e.grad) for e in parse_edges(dot)}
    assert got == {
        ("apple", "100", "2.2"),
        ("apple_num", "2", "110"),
        ("×", "200", "1.1"),
        ("tax", "1.1", "200"),
        ("×", "220", "1"),
    }


def test_apple_orange_edges_carry_the_books_numbers() -> None:
    dot = figure("apple-orange").to_dot()
    for src, forward, grad in [
        ("apple", "100", "2.2"),
        ("apple_num", "2", "110"),
        ("orange", "150", "3.3"),
        ("orange_num", "3", "165"),
        ("tax", "1.1", "650"),
    ]:
        [edge] = edges_from(dot, src)
        assert (edge.dst, edge.forward, edge.grad) == ("×", forward, grad), src
    edges = parse_edges(dot)
    [out] = [e for e in edges if e.dst == "price"]
    assert (out.src, out.forward, out.grad) == ("×", "715", "1")
    assert {(e.forward, e.grad) for e in edges if e.dst == "+"} == {("200", "1.1"), ("450", "1.1")}
    [total] = [e for e in edges if e.src == "+"]
    assert (total.forward, total.grad) == ("650", "1.1")


def test_apple_orange_graph_object_gradients() -> None:
    g = figure("apple-orange")
    grads = {n.label: float(n.grad) for n in _inputs(g)}  # type: ignore[arg-type]
    assert grads == pytest.approx(
        {"apple": 2.2, "apple_num": 110, "orange": 3.3, "orange_num": 165, "tax": 650}
    )
    assert float(g.outputs[0].value) == pytest.approx(715)


def test_sigmoid_decomposition_steps_at_half() -> None:
    x = 0.5
    y = 1 / (1 + math.exp(-x))
    g = figure("sigmoid", x=x)
    [x_steps] = _inputs(g, "computational graph")
    [x_layer] = _inputs(g, "layer")
    assert float(x_steps.grad) == pytest.approx(y * (1 - y), rel=1e-12)  # type: ignore[arg-type]
    assert float(x_layer.grad) == pytest.approx(0.2350037122015945, rel=1e-12)  # type: ignore[arg-type]
    # Each step of the chain x → ×(−1) → exp → +1 → / → y, gradient on the edge leaving it.
    chain = {n.op: n for n in g.nodes if n.group == x_steps.group}
    expected = {
        "reciprocal": (y, 1.0),
        "add": (1 + math.exp(-x), -(y**2)),
        "exp": (math.exp(-x), -(y**2)),
        "mul": (-x, -(y**2) * math.exp(-x)),
    }
    for op, (value, grad) in expected.items():
        [edge] = chain[op].outputs
        assert float(edge.value) == pytest.approx(value, rel=1e-12), op
        assert float(edge.grad) == pytest.approx(grad, rel=1e-12), op  # type: ignore[arg-type]
    # The constants −1 and 1 carry no gradient.
    assert all(e.grad is None for n in g.nodes if n.op == "const" for e in n.outputs)


def test_sigmoid_dot_text_shows_the_steps_and_the_note() -> None:
    dot = figure("sigmoid", x=0.5).to_dot()
    grads = {e.dst: last_number(e.grad) for e in edges_from(dot, "x")}
    assert grads["×"] == pytest.approx(0.235, abs=5e-4)
    assert grads["sigmoid"] == pytest.approx(0.235, abs=5e-4)
    assert "subgraph cluster_0" in dot and "subgraph cluster_1" in dot
    assert "0.235" in dot.split("label=<", 1)[1].split(">;", 1)[0]  # in the note at the bottom


@given(st.floats(-20, 20, allow_nan=False))
def test_sigmoid_both_ways_agree(x: float) -> None:
    g = sigmoid(x)
    a, b = _inputs(g)
    y = 1 / (1 + math.exp(-x))
    assert float(a.grad) == pytest.approx(float(b.grad), rel=1e-9, abs=1e-15)  # type: ignore[arg-type]
    assert float(b.grad) == pytest.approx(y * (1 - y), rel=1e-9, abs=1e-15)  # type: ignore[arg-type]


def test_sigmoid_takes_one_value() -> None:
    assert float(_inputs(figure("sigmoid", x=[2.0]))[0].value) == 2.0
    with pytest.raises(ValueError, match="takes one x value, got 2"):
        figure("sigmoid", x=[1.0, 2.0])


def test_affine_shapes_and_values() -> None:
    g = affine(seed=0)
    x, w, b = g.node("X"), g.node("W"), g.node("B")
    [y_edge] = g.outputs[0].inputs
    dy = y_edge.grad
    assert dy is not None
    assert (x.shape, w.shape, b.shape, dy.shape) == ((2, 2), (2, 3), (3,), (2, 3))
    np.testing.assert_allclose(y_edge.value, x.value @ w.value + b.value)
    np.testing.assert_allclose(x.grad, dy @ w.value.T)  # type: ignore[arg-type]
    np.testing.assert_allclose(w.grad, x.value.T @ dy)  # type: ignore[arg-type]
    np.testing.assert_allclose(b.grad, dy.sum(axis=0))  # type: ignore[arg-type]

    dot = g.to_dot()
    on = {e.src: e for e in parse_edges(dot)}
    assert on["X"].forward == "(2,2)" and on["X"].grad == "∂L/∂X = ∂L/∂Y·Wᵀ  (2,2)"
    assert on["W"].forward == "(2,3)" and on["W"].grad == "∂L/∂W = Xᵀ·∂L/∂Y  (2,3)"
    assert on["B"].forward == "(3,)" and on["B"].grad == "∂L/∂B = Σₙ ∂L/∂Y  (3,)"
    assert on["dot"].forward == "X·W  (2,3)"
    assert on["+"].forward == "Y  (2,3)" and on["+"].grad == "∂L/∂Y  (2,3)"


def test_affine_is_seeded() -> None:
    np.testing.assert_array_equal(affine(seed=3).node("W").value, affine(seed=3).node("W").value)
    assert not np.array_equal(affine(seed=3).node("W").value, affine(seed=4).node("W").value)


def test_softmax_loss_backward_is_y_minus_t() -> None:
    g = figure("softmax-loss", x=[0.3, 2.9, 4.0], t=2)
    a = g.node("a")
    y = a.outputs[0].dst.value
    np.testing.assert_allclose(y, np.exp(a.value) / np.exp(a.value).sum())
    np.testing.assert_allclose(a.grad, y - np.array([0, 0, 1]), rtol=1e-12, atol=1e-15)  # type: ignore[arg-type]
    assert float(g.outputs[0].value) == pytest.approx(-math.log(y[2]), rel=1e-12)
    [edge] = edges_from(g.to_dot(), "a")
    assert edge.grad == "y − t  [0.01821, 0.2452, -0.2634]"


@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=4),
    st.integers(0, 3),
)
def test_softmax_loss_property(x: list[float], t: int) -> None:
    t = t % len(x)
    g = softmax_loss(x, t)
    a = g.node("a")
    y = a.outputs[0].dst.value
    onehot = np.eye(len(x))[t]
    np.testing.assert_allclose(a.grad, y - onehot, rtol=1e-9, atol=1e-12)  # type: ignore[arg-type]


def test_softmax_loss_rejects_bad_label() -> None:
    with pytest.raises(ValueError, match="t=3 is out of range for 3 classes"):
        figure("softmax-loss", t=3)


def test_unknown_figure_lists_available_ones() -> None:
    with pytest.raises(UnknownFigureError, match="available: apple, apple-orange, relu, sigmoid"):
        figure("pear")


def test_x_on_a_figure_without_inputs_is_an_error() -> None:
    with pytest.raises(ValueError, match="figure 'apple' takes no x; figures that do: relu, sigmoid"):
        figure("apple", x=[1.0])


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_has_backward_run_and_an_edge_per_input(name: str) -> None:
    g = figure(name)
    assert g.outputs
    for node in g.nodes:
        if node.op == "input":
            assert node.grad is not None, node
    assert len(parse_edges(g.to_dot())) == len(g.edges)


# -- ReLU and Softmax-with-Loss from its outputs (the chapter's worked examples) ----------------
def test_relu_figure_passes_where_x_positive_as_the_relu_layer() -> None:
    from layerwise.layers import Relu

    x = np.array([-1.0, 2.0, 0.0, 3.5])
    g = figure("relu", x=x.tolist())
    layer = Relu()
    y = layer.forward(x[None, :])[0]
    dx = layer.backward(np.ones((1, 4)))[0]
    [edge] = edges_from(g.to_dot(), "x")
    assert edge.forward == "[-1, 2, 0, 3.5]"
    np.testing.assert_array_equal(g.node("x").grad, dx)
    np.testing.assert_array_equal(g.outputs[0].value, y)
    assert any("backward ∂L/∂x = [0, 1, 0, 1]" in note for note in g.notes)
    assert g.node("x").grad.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_relu_figure_default_has_one_blocked_and_one_passing_value() -> None:
    [edge] = edges_from(figure("relu").to_dot(), "x")
    assert (edge.forward, edge.grad) == ("[-1, 2]", "∂L/∂y where x > 0, else 0  [0, 1]")


@pytest.mark.parametrize(("y", "sent_back"), [((0.3, 0.2, 0.5), (0.3, -0.8, 0.5)),
                                              ((0.01, 0.99, 0.0), (0.01, -0.01, 0.0))])
def test_softmax_loss_from_outputs_sends_back_y_minus_t_as_the_layer(y: tuple[float, ...],
                                                                     sent_back: tuple[float, ...]) -> None:
    from layerwise.layers import SoftmaxWithLoss

    g = figure("softmax-loss", y=list(y), t=1)
    np.testing.assert_allclose(g.node("y").grad, sent_back, atol=1e-15)
    # the layer, fed scores whose softmax is y (−1000 for the 0), sends back the same
    scores = np.array([np.log(v) if v > 0 else -1000.0 for v in y])[None, :]
    layer = SoftmaxWithLoss()
    loss = layer.forward(scores, np.array([1]))
    np.testing.assert_allclose(layer.backward(1.0)[0], sent_back, atol=1e-12)
    assert float(g.outputs[0].value) == pytest.approx(loss, rel=1e-12)
    [edge] = edges_from(g.to_dot(), "y")
    assert edge.grad == "to the scores a: y − t  [" + ", ".join(
        ("0" if v == 0 else f"{v:g}") for v in sent_back) + "]"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"y": [0.5, 0.6], "t": 0}, "y sums to 1.1"),
    ({"y": [1.5, -0.5], "t": 0}, r"y\[0\] = 1.5 is not a probability"),
    ({"y": [1.0, 0.0], "t": 1}, r"y\[1\] = 0 for the label t=1"),
    ({"y": [0.5, 0.5], "t": 2}, "t=2 is out of range for 2 classes"),
    ({"y": [0.5, 0.5], "x": [1.0, 2.0]}, "not both"),
    ({"y": [1.0]}, "at least 2 outputs"),
])
def test_softmax_loss_from_outputs_refuses_what_is_not_a_softmax(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        figure("softmax-loss", **kwargs)


def test_y_is_refused_by_figures_that_take_none() -> None:
    with pytest.raises(ValueError, match="takes no y; figures that do: softmax-loss"):
        figure("relu", y=[0.5, 0.5])


# -- Jupyter display ------------------------------------------------------------------------------
def test_graph_displays_inline_and_falls_back_to_dot_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    g = figure("apple")
    if shutil.which("dot") is not None:
        svg = g._repr_svg_()
        assert svg is not None and "<svg" in svg
        assert g._repr_html_().lstrip().startswith("<svg")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert g._repr_svg_() is None
    fallback = g._repr_html_()
    assert "needs Graphviz" in fallback and "digraph &quot;apple&quot;" in fallback
