"""The figures and their ops are as stable as the layers and agree with them (issue 17, defect 3).

Hostile inputs (NaN, infinities, labels out of range, wrong counts) are refused up front with
the library's ConfigError, and on the command line with one line and exit code 2. No test here
may see a NumPy RuntimeWarning: the module turns every warning into an error.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from graphdot import edges_from
from hypothesis import given
from hypothesis import strategies as st

from layerwise import layers
from layerwise.cli import main
from layerwise.errors import ConfigError, LayerwiseError, NonFiniteError
from layerwise.figures.graph import Graph, UnknownFigureError, figure
from layerwise.figures.graph.figures import affine, apple, apple_orange, sigmoid, softmax_loss

pytestmark = pytest.mark.filterwarnings("error")

SRC = Path(__file__).resolve().parents[1] / "src"


def _layer_softmax_loss(x: list[float] | tuple[float, ...], t: int) -> tuple[float, np.ndarray]:
    layer = layers.SoftmaxWithLoss()
    loss = layer.forward(np.array([x], dtype=np.float64), np.array([t]))
    return loss, layer.backward(1.0)[0]


def _layer_sigmoid(x: float) -> tuple[float, float]:
    layer = layers.Sigmoid()
    y = layer.forward(np.array([x], dtype=np.float64))
    return float(y[0]), float(layer.backward(np.array([1.0]))[0])


def _no_nan_anywhere(g: Graph) -> None:
    for node in g.nodes:
        assert not np.any(np.isnan(node.value)), node
        assert node.grad is None or not np.any(np.isnan(node.grad)), node


# -- softmax-loss --------------------------------------------------------------------------


def test_softmax_loss_at_1000_0_0_agrees_with_the_layer() -> None:
    g = figure("softmax-loss", x=[1000.0, 0.0, 0.0], t=1)
    a = g.node("a")
    loss, dx = _layer_softmax_loss((1000.0, 0.0, 0.0), 1)
    assert (loss, dx.tolist()) == (1000.0, [1.0, -1.0, 0.0])
    assert float(g.outputs[0].value) == loss
    assert a.grad is not None and a.grad.tolist() == dx.tolist()
    _no_nan_anywhere(g)


def test_softmax_loss_shows_the_overflowing_intermediate_gradient_as_it_is() -> None:
    g = softmax_loss((1000.0, 0.0, 0.0), 1)
    [between] = g.node("Softmax").outputs
    assert between.value.tolist() == [1.0, 0.0, 0.0]  # y₁ = e^−1000 underflows to 0
    assert between.grad is not None and between.grad.tolist() == [0.0, -math.inf, 0.0]  # −t/y
    assert any("y[1] = exp(-1000) underflows to 0" in note for note in g.notes), g.notes
    dot = g.to_dot()
    [edge] = edges_from(dot, "Softmax")
    assert edge.grad == "−t/y  [0, -inf, 0]"
    [edge] = edges_from(dot, "a")
    assert edge.grad == "y − t  [1, -1, 0]"
    [edge] = edges_from(dot, "Cross Entropy Error")
    assert edge.forward == "1000"


def test_softmax_loss_without_underflow_has_no_extra_note() -> None:
    assert len(figure("softmax-loss").notes) == 2


@pytest.mark.parametrize(
    ("x", "t"),
    [
        ((1000.0, 0.0, 0.0), 1),
        ((0.0, -710.0), 1),  # y₁ = 4.5e-309 is not 0, but 1/y₁ overflows
        ((0.0, -745.0), 1),  # y₁ is the smallest subnormal
        ((-1e4, 1e4, 0.0, 3.0), 0),
        ((1e308, -1e308, 0.0), 0),  # the spread overflows, but not for this label
        ((5e307, -5e307), 1),  # loss 1e308: finite
    ],
)
def test_softmax_loss_agrees_with_the_layer_at_extreme_scores(x: tuple[float, ...], t: int) -> None:
    g = softmax_loss(x, t)
    loss, dx = _layer_softmax_loss(x, t)
    assert float(g.outputs[0].value) == pytest.approx(loss, rel=1e-15)
    np.testing.assert_allclose(g.node("a").grad, dx, rtol=1e-15, atol=0)  # type: ignore[arg-type]
    _no_nan_anywhere(g)


def test_a_loss_beyond_float64_is_refused_as_the_layer_refuses_it() -> None:
    x, t = (1e308, -1e308, 0.0), 1  # L = 2e308
    with pytest.raises(NonFiniteError):
        _layer_softmax_loss(x, t)
    with pytest.raises(ConfigError, match=r"^figure 'softmax-loss': the output 'L' is inf for x=\[1e\+308"):
        softmax_loss(x, t)


@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False), min_size=2, max_size=6),
    st.data(),
)
def test_softmax_loss_property_agrees_with_the_layer(x: list[float], data: st.DataObject) -> None:
    t = data.draw(st.integers(0, len(x) - 1), label="t")
    g = softmax_loss(x, t)
    loss, dx = _layer_softmax_loss(x, t)
    got_loss = float(g.outputs[0].value)
    got_dx = g.node("a").grad
    assert got_dx is not None
    assert math.isfinite(got_loss) and np.all(np.isfinite(got_dx))
    assert got_loss == pytest.approx(loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(got_dx, dx, rtol=1e-12, atol=1e-15)
    # backward through the two nodes is y − t, for any y, however small
    np.testing.assert_array_equal(got_dx, g.node("Softmax").value - np.eye(len(x))[t])


@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=4),
    st.data(),
)
def test_softmax_loss_property_any_finite_scores_agree_or_both_refuse(
    x: list[float], data: st.DataObject
) -> None:
    t = data.draw(st.integers(0, len(x) - 1), label="t")
    try:
        loss, dx = _layer_softmax_loss(x, t)
    except NonFiniteError:
        with pytest.raises(ConfigError, match="more than float64 can hold"):
            softmax_loss(x, t)
        return
    g = softmax_loss(x, t)
    assert float(g.outputs[0].value) == pytest.approx(loss, rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(g.node("a").grad, dx, rtol=1e-12, atol=1e-300)  # type: ignore[arg-type]


# -- sigmoid -------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1000.0, -1000.0, 709.0, -709.0, -710.0, -745.0, -800.0, 1e300, -1e300])
def test_sigmoid_at_large_inputs_agrees_with_the_layer(x: float) -> None:
    g = sigmoid(x)
    y, dx = _layer_sigmoid(x)
    steps, one_node = (n for n in g.nodes if n.op == "input")
    for out in g.outputs:
        np.testing.assert_allclose(out.value, y, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(one_node.grad, dx, rtol=1e-12, atol=1e-300)  # type: ignore[arg-type]
    np.testing.assert_allclose(steps.grad, dx, rtol=1e-9, atol=1e-300)  # type: ignore[arg-type]
    _no_nan_anywhere(g)


def test_sigmoid_at_minus_1000_draws_the_overflowing_exp_as_inf_with_a_note() -> None:
    g = sigmoid(-1000.0)
    [exp_edge] = g.node("exp").outputs
    assert math.isinf(float(exp_edge.value))
    assert float(exp_edge.grad) == 0.0  # type: ignore[arg-type]  # the exact product, not 0·inf
    assert any("exp(1000) is more than float64 can hold" in n for n in g.notes), g.notes


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_sigmoid_property_any_finite_x_agrees_with_the_layer(x: float) -> None:
    g = sigmoid(x)
    y, dx = _layer_sigmoid(x)
    steps, one_node = (n for n in g.nodes if n.op == "input")
    for out in g.outputs:
        np.testing.assert_allclose(out.value, y, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(one_node.grad, dx, rtol=1e-12, atol=1e-300)  # type: ignore[arg-type]
    # Absolute 1e-15: for x > 0 the layer's y·(1 − y) cancels in 1 − y (the steps' y²·exp(−x)
    # does not), and below x ≈ −354 the steps' y² leaves float64's normal range.
    np.testing.assert_allclose(steps.grad, dx, rtol=1e-9, atol=1e-15)  # type: ignore[arg-type]
    _no_nan_anywhere(g)


# -- hostile arguments in Python -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("softmax-loss", {"x": [math.nan, 0.0, 0.0]}, "x[0]: expected a finite number, got nan"),
        ("softmax-loss", {"x": [0.0, math.inf]}, "x[1]: expected a finite number, got inf"),
        ("softmax-loss", {"x": [0.0, -math.inf]}, "x[1]: expected a finite number, got -inf"),
        ("softmax-loss", {"x": np.array([1.0, np.nan])}, "x[1]: expected a finite number, got nan"),
        ("softmax-loss", {"x": [0.0, 10**400]}, "x[1]: expected a finite number, got 1000"),
        ("softmax-loss", {"x": ["1", "2"]}, "x[0]: expected a finite number, got '1'"),
        ("softmax-loss", {"x": [[1.0, 2.0], [3.0, 4.0]]}, "x[0]: expected a finite number, got [1.0, 2.0]"),
        ("softmax-loss", {"x": "123"}, "x: expected a number or a sequence of numbers, got '123'"),
        ("softmax-loss", {"x": [1.0]}, "needs at least 2 scores in x, got 1"),
        ("softmax-loss", {"x": []}, "needs at least 2 scores in x, got 0"),
        ("softmax-loss", {"t": 3}, "label t=3 is out of range for 3 classes (expected 0..2)"),
        ("softmax-loss", {"t": -1}, "label t=-1 is out of range for 3 classes (expected 0..2)"),
        ("softmax-loss", {"t": 10**30}, "label t=1000000000000000000000000000000 is out of range"),
        ("softmax-loss", {"t": 1.5}, "label t: expected an integer, got 1.5"),
        ("softmax-loss", {"t": True}, "label t: expected an integer, got True"),
        ("softmax-loss", {"t": "1"}, "label t: expected an integer, got '1'"),
        ("sigmoid", {"x": math.nan}, "x: expected a finite number, got nan"),
        ("sigmoid", {"x": [math.inf]}, "x: expected a finite number, got inf"),
        ("sigmoid", {"x": np.float64(-np.inf)}, "x: expected a finite number, got -inf"),
        ("sigmoid", {"x": [1.0, 2.0]}, "takes one x value, got 2"),
        ("sigmoid", {"x": []}, "takes one x value, got 0"),
        ("sigmoid", {"x": "0.5"}, "x: expected a finite number, got '0.5'"),
        ("apple", {"x": [1.0]}, "takes no x; figures that do: relu, sigmoid, softmax-loss"),
        ("affine", {"t": 1}, "takes no t; figures that do: softmax-loss"),
    ],
)
def test_figure_refuses_hostile_arguments_with_one_line(name: str, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        figure(name, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"figure {name!r}")
    assert message in text


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: apple(price=math.nan), "figure 'apple': apple: expected a finite number, got nan"),
        (lambda: apple(price=1e200, num=1e200), "figure 'apple': the output 'price' is inf"),
        (lambda: apple_orange(orange_num=math.inf), "orange_num: expected a finite number, got inf"),
        (lambda: apple_orange(apple_price=1e308, apple_num=10, orange_price=-1e308, orange_num=10),
         "figure 'apple-orange': the output 'price' is nan"),
        (lambda: affine(n=0), "figure 'affine': n: expected an integer in 1..1000, got 0"),
        (lambda: affine(d_in=10**9), "d_in: expected an integer in 1..1000, got 1000000000"),
        (lambda: affine(seed=-1), "seed: expected an integer >= 0, got -1"),
        (lambda: affine(d_out=2.5), "d_out: expected an integer in 1..1000, got 2.5"),
    ],
)
def test_other_figures_refuse_hostile_arguments(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        build()
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", [None, 5, ["apple"]])
def test_an_unknown_figure_of_any_type_is_the_librarys_error(name: object) -> None:
    with pytest.raises(UnknownFigureError, match="available: apple"):
        figure(name)  # type: ignore[arg-type]
    assert issubclass(UnknownFigureError, LayerwiseError)


# -- the ops and the graph themselves --------------------------------------------------------


def test_graph_inputs_and_constants_must_be_finite() -> None:
    g = Graph("g")
    with pytest.raises(ConfigError, match=r"^graph 'g': input 'x': expected finite numbers, got nan at index \(1,\)$"):
        g.input("x", [1.0, math.nan])
    with pytest.raises(ConfigError, match=r"^graph 'g': constant 't': expected finite numbers, got inf$"):
        g.const(math.inf, "t")
    with pytest.raises(ConfigError, match="expected finite real numbers, got 'abc'"):
        g.input("x", "abc")


def test_reciprocal_of_zero_is_refused() -> None:
    g = Graph()
    with pytest.raises(ConfigError, match=r"reciprocal: expected a non-zero input, got 0 at index \(1,\)"):
        g.reciprocal(g.input("x", [1.0, 0.0]))


def test_exp_backward_is_the_exact_product_where_exp_overflows() -> None:
    g = Graph()
    x = g.input("x", [1000.0, 710.0, 1.0])
    e = g.exp(x)
    g.output(e)
    g.backward(np.array([0.0, 1e-300, 2.0]))
    assert np.isinf(e.value[:2]).all()
    assert x.grad is not None
    assert x.grad[0] == 0.0  # 0·exp(1000) is 0, not nan
    assert x.grad[1] == pytest.approx(1e-300 * math.exp(710.0 - 700.0) * math.exp(700.0), rel=1e-12)
    assert x.grad[2] == pytest.approx(2 * math.e, rel=1e-15)


def test_fused_softmax_cross_entropy_with_a_second_consumer_of_y() -> None:
    # L = CE(softmax(a), t) + Σ w·softmax(a): the softmax's gradient has two parts, one fused
    a_val = np.array([2.0, -1.0, 0.5])
    w_val = np.array([0.3, -0.7, 1.1])
    t = np.eye(3)[0]
    g = Graph()
    a = g.input("a", a_val)
    y = g.softmax(a)
    g.output(g.cross_entropy(y, g.const(t, "t")), "L1")
    g.output(g.mul(y, g.const(w_val, "w")), "L2")
    g.backward()
    probs = np.exp(a_val) / np.exp(a_val).sum()
    expected = (probs - t) + probs * (w_val - (w_val * probs).sum())
    np.testing.assert_allclose(a.grad, expected, rtol=1e-12)  # type: ignore[arg-type]
    assert "fused=SoftmaxCrossEntropy()" in repr(g.outputs[0].inputs[0].src)


def test_forward_recomputes_a_fused_node_from_the_scores() -> None:
    g = Graph()
    a = g.input("a", [0.0, 0.0, 0.0])
    loss = g.cross_entropy(g.softmax(a), g.const(np.eye(3)[1], "t"))
    g.output(loss)
    a.value = np.array([1000.0, 0.0, 0.0])
    g.forward()
    g.backward()
    assert float(loss.value) == 1000.0
    assert a.grad is not None and a.grad.tolist() == [1.0, -1.0, 0.0]


def test_the_books_eps_is_not_fused() -> None:
    g = Graph()
    y = g.softmax(g.input("a", [1000.0, 0.0, 0.0]))
    loss = g.cross_entropy(y, g.const(np.eye(3)[1], "t"), eps=1e-7)
    assert loss.fused is None
    assert float(loss.value) == pytest.approx(-math.log(1e-7))  # the book's clipped loss


def test_cross_entropy_of_a_zero_probability_is_inf_without_warnings() -> None:
    g = Graph()
    y = g.input("y", [1.0, 0.0])
    loss = g.cross_entropy(y, g.const([0.0, 1.0], "t"))
    g.output(loss)
    g.backward()
    assert float(loss.value) == math.inf
    assert y.grad is not None and y.grad.tolist() == [0.0, -math.inf]


# -- the command line ------------------------------------------------------------------------


def test_cli_softmax_loss_at_1000_0_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "softmax-loss", "--x", "1000", "0", "0", "--t", "1"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    [edge] = edges_from(out, "a")
    assert edge.grad == "y − t  [1, -1, 0]"
    [edge] = edges_from(out, "Cross Entropy Error")
    assert edge.forward == "1000"
    assert "nan" not in out


def test_cli_sigmoid_at_plus_and_minus_1000(capsys: pytest.CaptureFixture[str]) -> None:
    for x in ("1000", "-1000"):
        assert main(["graph", "sigmoid", "--x", x]) == 0
        out, err = capsys.readouterr()
        assert err == "" and "nan" not in out
        assert {e.grad.split()[-1] for e in edges_from(out, "x")} == {"0"}  # type: ignore[union-attr]


def test_cli_takes_negative_numbers_in_scientific_notation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "softmax-loss", "--x", "0", "-1e3", "--t", "1"]) == 0
    [edge] = edges_from(capsys.readouterr().out, "a")
    assert edge.grad == "y − t  [1, -1]"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["softmax-loss", "--x", "nan"], "figure 'softmax-loss': x[0]: expected a finite number, got nan"),
        (["softmax-loss", "--x", "nan", "nan", "nan"], "x[0]: expected a finite number, got nan"),
        (["softmax-loss", "--x", "0", "inf"], "x[1]: expected a finite number, got inf"),
        (["softmax-loss", "--x", "0", "-inf"], "x[1]: expected a finite number, got -inf"),
        (["softmax-loss", "--x", "0", "1e999"], "x[1]: expected a finite number, got inf"),
        (["softmax-loss", "--x", "1e308", "-1e308", "0", "--t", "1"], "the output 'L' is inf"),
        (["softmax-loss", "--x", "1", "2", "--t", "2"], "label t=2 is out of range for 2 classes"),
        (["softmax-loss", "--t", "-1"], "label t=-1 is out of range for 3 classes"),
        (["softmax-loss", "--t", "1.5"], "--t: expected an integer label, got '1.5'"),
        (["softmax-loss", "--x", "abc"], "--x: expected numbers, got 'abc'"),
        (["softmax-loss", "--x", "1"], "needs at least 2 scores in x, got 1"),
        (["sigmoid", "--x", "nan"], "figure 'sigmoid': x: expected a finite number, got nan"),
        (["sigmoid", "--x", "1", "2"], "takes one x value, got 2"),
        (["apple", "--t", "1"], "figure 'apple' takes no t"),
    ],
)
def test_cli_hostile_values_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("layerwise: error: ")
    assert message in err


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "layerwise", "graph", *args],
        capture_output=True, text=True, env=env, check=False,
    )


def test_python_dash_m_prints_no_warnings_and_no_traceback() -> None:
    ok = _python_m("softmax-loss", "--x", "1000", "0", "0", "--t", "1")
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    assert "y − t  [1, -1, 0]" in ok.stdout
    bad = _python_m("softmax-loss", "--x", "nan", "0")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "layerwise: error: figure 'softmax-loss': x[0]: expected a finite number, got nan\n"
