"""Every layer's backward against float64 central differences, over a seeded sweep of shapes."""

from __future__ import annotations

import numpy as np
import pytest
from layer_cases import CASES

import layerwise as lw

SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_layer_gradients_match_numerical(case_name: str, seed: int) -> None:
    case = CASES[case_name](np.random.default_rng(seed))
    report = lw.check_gradients(case.layer, case.x, case.t, dout=case.dout, rng=seed)
    assert report.passed, f"{case_name}\n{report}"
    for row in report.rows:
        assert row.max_rel_error < 1e-6, str(report)


def test_check_gradients_catches_a_wrong_backward() -> None:
    class BrokenSigmoid(lw.Sigmoid):
        def backward(self, dout):  # type: ignore[no-untyped-def]
            return super().backward(dout) * 1.01

    x = np.random.default_rng(0).standard_normal((3, 4))
    report = lw.check_gradients(BrokenSigmoid(), x)
    assert not report.passed
    assert "FAIL" in str(report)
    assert report["x"].max_rel_error > 1e-3


def test_check_gradients_catches_a_wrong_parameter_gradient() -> None:
    class BrokenAffine(lw.Affine):
        def backward(self, dout):  # type: ignore[no-untyped-def]
            dx = super().backward(dout)
            self.db = self.db * 0.5
            return dx

    rng = np.random.default_rng(1)
    layer = BrokenAffine(rng.standard_normal((4, 3)), rng.standard_normal(3))
    report = lw.check_gradients(layer, rng.standard_normal((5, 4)))
    assert report["W"].passed and report["x"].passed
    assert not report["b"].passed


def test_softmax_backward_uses_dout() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    t = np.array([0, 2, 1, 1])
    layer = lw.SoftmaxWithLoss()
    layer.forward(x, t)
    dx1 = layer.backward()
    dx3 = layer.backward(3.0)
    np.testing.assert_allclose(dx3, 3.0 * dx1)
    y = lw.softmax(x)
    np.testing.assert_allclose(dx1, (y - np.eye(3)[t]) / 4, rtol=1e-12)


def test_report_str_is_readable() -> None:
    rng = np.random.default_rng(3)
    report = lw.check_gradients(lw.Affine(rng.standard_normal((2, 2)), np.zeros(2)),
                                rng.standard_normal((3, 2)))
    text = str(report)
    assert "max rel err" in text and "PASSED" in text
    assert [r.name for r in report.rows] == ["x", "W", "b"]


def test_numerical_gradient_of_a_function() -> None:
    # book §4.4: f(x0, x1) = x0**2 + x1**2 at (3, 4) has gradient (6, 8)
    x = np.array([3.0, 4.0])
    grad = lw.numerical_gradient(lambda v: np.sum(v**2), x)
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-8)
    np.testing.assert_array_equal(x, [3.0, 4.0])  # restored exactly
    assert grad.dtype == np.float64


def test_numerical_gradient_rejects_non_arrays() -> None:
    with pytest.raises(TypeError, match="floating NumPy array"):
        lw.numerical_gradient(lambda v: 0.0, [1.0, 2.0])  # type: ignore[arg-type]


def test_an_exactly_zero_gradient_passes_with_the_defaults() -> None:
    from layerwise.networks import MultiLayerNetExtend

    # the biases feeding BatchNorm have a gradient of exactly 0 in training mode
    net = MultiLayerNetExtend(12, [6, 5], 3, use_batchnorm=True, rng=0)
    rng = np.random.default_rng(1)
    report = lw.check_gradients(net, rng.standard_normal((8, 12)), rng.integers(0, 3, 8))
    assert report.passed, str(report)
    assert report["b1"].max_abs_error < 1e-8


def test_default_dout_is_not_the_callers_x() -> None:
    # x drawn from default_rng(0) and a dout from the same stream would make BatchNorm's dx 0
    x = np.random.default_rng(0).standard_normal((5, 3))
    report = lw.check_gradients(lw.BatchNormalization(np.ones(3), np.zeros(3)), x)
    assert report.passed, str(report)


# -- gradients near zero (issue 17, defect 12) ----------------------------------------------


def _saturated_network() -> tuple[lw.TwoLayerNet, np.ndarray, np.ndarray]:
    # zero weights: dW1, db1 and dW2 are exactly 0; b2 puts every score 30 above the others,
    # so db2 = mean(y − t) is about 1e-13, and its central difference is round-off only
    net = lw.TwoLayerNet(4, 5, 3, rng=0, dtype=np.float64)
    for key in net.params:
        net.params[key][...] = 0.0
    net.params["b2"][...] = [30.0, 0.0, 0.0]
    x = np.random.default_rng(1).standard_normal((4, 4))
    return net, x, np.zeros(4, dtype=np.intp)


def test_a_correct_network_with_gradients_near_zero_passes_with_the_defaults() -> None:
    net, x, t = _saturated_network()
    report = lw.check_gradients(net, x, t)
    assert report.passed, str(report)
    for name in ("W1", "b1", "W2"):
        assert report[name].max_abs_error == 0.0
    b2 = report["b2"]
    assert 0 < b2.scale < 1e-11 and b2.max_abs_error < 1e-11
    # the error is all of the tiny gradient (relative error ~1): only the absolute part passes it
    assert b2.max_rel_error > 1e-6
    assert b2.tolerance == pytest.approx(lw.gradient_check.DEFAULT_ATOL + 1e-6 * b2.scale)


@pytest.mark.parametrize("x", [25.0, 30.0, -25.0])
def test_a_saturated_sigmoid_passes_with_the_defaults(x: float) -> None:
    # sigmoid'(25) = 1.4e-11, and the central difference of a value next to 1 is off by ~1e-11
    report = lw.check_gradients(lw.Sigmoid(), np.full((2, 3), x))
    assert report.passed, str(report)


def test_a_relu_with_all_negative_inputs_passes() -> None:
    x = -np.abs(np.random.default_rng(4).standard_normal((3, 4))) - 0.1
    report = lw.check_gradients(lw.Relu(), x)
    assert report.passed, str(report)
    assert report["x"].max_abs_error == 0.0


def test_atol_zero_is_a_purely_relative_check() -> None:
    net, x, t = _saturated_network()
    report = lw.check_gradients(net, x, t, atol=0.0)
    assert not report.passed
    assert not report["b2"].passed and report["W1"].passed  # 0 against 0 is still exact


def test_a_wrong_gradient_near_zero_scale_still_fails() -> None:
    # a gradient of ~1e-3 that is 1% wrong is 1e-5 off: far above the absolute tolerance
    class BrokenSigmoid(lw.Sigmoid):
        def backward(self, dout):  # type: ignore[no-untyped-def]
            return super().backward(dout) * 1.01

    report = lw.check_gradients(BrokenSigmoid(), np.full((2, 3), 7.0), dout=np.ones((2, 3)))
    assert report["x"].scale < 1e-2
    assert not report.passed, str(report)


def test_the_report_shows_both_errors_and_the_allowed_error() -> None:
    net, x, t = _saturated_network()
    text = str(lw.check_gradients(net, x, t))
    header, *rows, verdict = text.splitlines()
    assert "max abs err" in header and "max rel err" in header and "allowed abs" in header
    b2 = next(r for r in rows if r.startswith("b2"))
    assert b2.split()[-1] == "ok" and "1.000e+00" in b2  # the relative error, shown as it is
    assert verdict.startswith("PASSED: a row passes when max abs err <= atol + rtol * scale")
    assert "atol=1e-08" in verdict


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"atol": -1.0}, "atol: expected a finite number >= 0, got -1.0"),
        ({"rtol": float("nan")}, "rtol: expected a finite number >= 0, got nan"),
        ({"h": 0.0}, "h: expected a finite number > 0, got 0.0"),
        ({"h": float("inf")}, "h: expected a finite number > 0, got inf"),
        ({"atol": "small"}, "atol: expected a finite number >= 0, got 'small'"),
    ],
)
def test_bad_tolerances_are_config_errors(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(lw.ConfigError, match=f"^check_gradients: {message}$".replace("(", r"\(")):
        lw.check_gradients(lw.Relu(), np.ones((2, 2)), **kwargs)


class _DoublesDoutInPlace(lw.Layer):
    """An identity layer whose backward writes into the dout it is given and returns it doubled
    (its gradient should be dout itself)."""

    def forward(self, x):  # type: ignore[no-untyped-def]
        return x.copy()

    def backward(self, dout):  # type: ignore[no-untyped-def]
        dout *= 2
        return dout


class _BookRelu(lw.Layer):
    """The book's Relu (§5.5.1): backward writes zeros into ``dout`` and returns it."""

    def forward(self, x):  # type: ignore[no-untyped-def]
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):  # type: ignore[no-untyped-def]
        dout[self.mask] = 0
        return dout


class _ScalesItsInput(lw.Sigmoid):
    """A forward that writes into the x it is given."""

    def forward(self, x, train=True):  # type: ignore[no-untyped-def]
        x *= 1.0
        x += 0.5
        return super().forward(x)


def test_check_gradients_leaves_the_callers_dout_unchanged() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    before = dout.copy()
    lw.check_gradients(_BookRelu(), x, dout=dout)
    np.testing.assert_array_equal(dout, before)


def test_a_backward_that_doubles_dout_in_place_fails_the_check() -> None:
    x = np.random.default_rng(2).standard_normal((3, 4))
    report = lw.check_gradients(_DoublesDoutInPlace(), x)
    assert not report.passed, str(report)
    assert "dout" in report.wrote_into


def test_the_books_relu_passes_with_a_note_that_it_wrote_into_dout() -> None:
    x = np.random.default_rng(3).standard_normal((3, 4)) + 0.05
    report = lw.check_gradients(_BookRelu(), x, kinks=True)
    assert report.passed, str(report)
    assert report.wrote_into == ["dout"]
    assert "wrote into" in str(report)


def test_a_forward_that_writes_into_x_is_noticed_and_the_callers_x_is_kept() -> None:
    x = np.random.default_rng(4).standard_normal((2, 3))
    before = x.copy()
    report = lw.check_gradients(_ScalesItsInput(), x)
    np.testing.assert_array_equal(x, before)
    assert "x" in report.wrote_into


def test_layerwise_layers_write_into_nothing_they_are_given() -> None:
    for name in sorted(CASES):
        case = CASES[name](np.random.default_rng(0))
        report = lw.check_gradients(case.layer, case.x, case.t, dout=case.dout, rng=0)
        assert report.wrote_into == [], name


def test_trace_check_fails_a_layer_that_doubles_dout_in_place() -> None:
    rng = np.random.default_rng(5)
    net = lw.Sequential([lw.Affine(rng.standard_normal((4, 3)) * 0.1, np.zeros(3)), _DoublesDoutInPlace(),
                         lw.Affine(rng.standard_normal((3, 2)) * 0.1, np.zeros(2))],
                        lw.SoftmaxWithLoss())
    tr = lw.trace(net, rng.standard_normal((4, 4)), np.array([0, 1, 1, 0]), check=True)
    assert not tr.checked
