"""Issue 17: bad arguments to the Python API raise the library's own ConfigError (a
ValueError), with a message that names the argument and the value given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layerwise as lw
from layerwise.conv_utils import conv_output_size, im2col
from layerwise.training.augment import RandomFlip, RandomShift, parse_augment
from layerwise.training.schedules import Cosine, StepDecay, parse_schedule


def _trainer(**kwargs: Any) -> Any:
    from layerwise.training.trainer import Trainer

    x, t = np.zeros((10, 4), np.float32), np.zeros(10, np.int64)
    args: dict[str, Any] = {"optimizer": lw.SGD(0.1), **kwargs}
    return Trainer(lw.TwoLayerNet(4, 3, 2, rng=0), args.pop("optimizer"), x, t, **args)


CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("sgd-lr", lambda: lw.SGD(lr=-1.0), "-1"),
    ("adam-beta1", lambda: lw.Adam(beta1=2.0), "2"),
    ("momentum-nan", lambda: lw.Momentum(lr=float("nan")), "nan"),
    ("cosine", lambda: Cosine(min_factor=2.0), "2"),
    ("step-every", lambda: StepDecay(every=0, gamma=0.5), "every"),
    ("schedule-text", lambda: parse_schedule("linear"), "linear"),
    ("shift", lambda: RandomShift(-1), "-1"),
    ("flip", lambda: RandomFlip(2.0), "2"),
    ("augment-text", lambda: parse_augment("rotate"), "rotate"),
    ("conv-stride", lambda: conv_output_size(28, 5, stride=0), "stride"),
    ("im2col-pad", lambda: im2col(np.zeros((1, 1, 4, 4), np.float32), 2, 2, pad=-1), "pad"),
    ("threads", lambda: lw.set_num_threads(0), "0"),
    ("two-layer-dtype", lambda: lw.TwoLayerNet(4, 3, 2, dtype=np.int8, rng=0), "int8"),
    ("two-layer-std", lambda: lw.TwoLayerNet(4, 3, 2, weight_init_std=float("nan"), rng=0), "nan"),
    ("two-layer-negative-std", lambda: lw.TwoLayerNet(4, 3, 2, weight_init_std=-1.0, rng=0), "-1"),
    ("numerical-gradient-h", lambda: lw.numerical_gradient(lambda x: float(x.sum()), np.zeros(2), h=0.0), "h"),
    ("trainer-eval-samples", lambda: _trainer(train_eval_samples=1.5), "1.5"),
    ("trainer-optimizer", lambda: _trainer(optimizer=None), "NoneType"),
    ("gradcheck-rtol", lambda: lw.check_gradients(lw.TwoLayerNet(4, 3, 2, rng=0), np.zeros((1, 4)),
                                                  np.zeros(1, np.int64), rtol=-1.0), "rtol"),
]


@pytest.mark.parametrize(("make", "named"), [(make, named) for _, make, named in CASES],
                         ids=[case for case, _, _ in CASES])
def test_bad_arguments_raise_config_error_naming_the_value(make: Callable[[], Any], named: str) -> None:
    with pytest.raises(lw.ConfigError) as info:
        make()
    message = str(info.value)
    assert named in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, lw.LayerwiseError)


def test_save_model_refuses_what_load_model_would_refuse(tmp_path: Path) -> None:
    from layerwise.files.model_files import load_model, save_model

    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    net.params["W1"][...] = np.nan
    with pytest.raises(lw.ConfigError, match="W1 has 12 NaN or infinite values"):
        save_model(net, tmp_path / "nan.safetensors")
    good = lw.TwoLayerNet(4, 3, 2, rng=0)
    with pytest.raises(lw.ConfigError, match="may not set 'format'"):
        save_model(good, tmp_path / "evil.safetensors", {"format": "evil"})
    with pytest.raises(lw.ConfigError, match="expected a network"):
        save_model("abc", tmp_path / "x.safetensors")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())
    save_model(good, tmp_path / "ok.safetensors", {"note": {"any": "json"}})
    assert load_model(tmp_path / "ok.safetensors").params["W1"].shape == (4, 3)


def test_accuracy_refuses_targets_that_do_not_fit_instead_of_counting_wrong() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    x, t = np.zeros((6, 4), np.float32), np.array([0, 1, 0, 1, 0, 1])
    assert 0.0 <= net.accuracy(x, t) <= 1.0
    assert net.accuracy(x, np.eye(2)[t]) == net.accuracy(x, t)
    with pytest.raises(lw.ShapeError):
        net.accuracy(x, t[:, None])  # (N, 1) labels
    with pytest.raises(lw.ConfigError, match="labels must lie in"):
        net.accuracy(x, t + 5)
    with pytest.raises(lw.ShapeError):
        net.accuracy(x, np.eye(3)[t])  # one-hot rows of 3 classes for 2 outputs


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_array_assigned_through_params_is_refused_naming_the_parameter(bad: float) -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=np.random.default_rng(0))
    before = net.params["W1"].copy()
    new = np.zeros_like(before)
    new[1, 2] = bad
    with pytest.raises(ValueError, match=r"params\['W1'\].*finite.*\(1, 2\)"):
        net.params["W1"] = new
    np.testing.assert_array_equal(net.params["W1"], before)


def test_a_non_finite_parameter_set_on_a_layer_is_refused_naming_the_layer() -> None:
    layer = lw.Affine(np.ones((2, 2), np.float32), np.zeros(2, np.float32))
    with pytest.raises(lw.NonFiniteError, match=r"Affine.*\.b: expected finite values"):
        layer.set_param("b", np.array([0.0, np.nan]))


def test_a_non_finite_running_statistic_is_refused() -> None:
    net = lw.MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, rng=np.random.default_rng(0))
    key = next(iter(net.buffers))
    bad = np.full_like(net.buffers[key], np.nan)
    with pytest.raises(ValueError, match=rf"buffers\['{key}'\]"):
        net.buffers[key] = bad


def test_finite_arrays_are_still_accepted_through_params() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=np.random.default_rng(0))
    net.params["b1"] = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(net.params["b1"], np.array([1, 2, 3], np.float32))
