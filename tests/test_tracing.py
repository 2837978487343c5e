"""Traces of backprop through a network (layerwise.trace), their figures, and summary()."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import layerwise as lw
from layerwise.errors import ConfigError
from layerwise.figures.graph.fmt import format_number
from layerwise.figures.trace_figure import trace_svg
from layerwise.layers import Affine, Pooling, Relu
from layerwise.layers.fused import ReluPool
from layerwise.networks import Sequential


def _nets() -> dict[str, tuple[Sequential, tuple[int, ...]]]:
    rng = np.random.default_rng(3)
    return {
        "two-layer": (lw.TwoLayerNet(12, 5, 3, rng=rng), (12,)),
        "mlp-bn-dropout": (lw.MultiLayerNetExtend(12, [6, 5], 3, use_batchnorm=True, use_dropout=True,
                                                  dropout_ration=0.3, weight_decay_lambda=0.01, rng=rng), (12,)),
        "simple-cnn": (lw.SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3,
                                        "pad": 0, "stride": 1}, hidden_size=6, output_size=3, rng=rng), (1, 8, 8)),
        "simple-cnn-fused": (lw.SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3,
                                              "pad": 0, "stride": 1}, hidden_size=6, output_size=3,
                                              rng=rng).fuse(), (1, 8, 8)),
    }


NETS = list(_nets())


def _batch(shape: tuple[int, ...], n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("name", NETS)
def test_each_dx_is_the_next_layers_dout_and_each_out_the_next_x(name: str) -> None:
    net, shape = _nets()[name]
    x, t = _batch(shape)
    tr = lw.trace(net, x, t)
    assert [s.name for s in tr.steps[:-1]] == list(net.layers)
    for here, below in zip(tr.steps, tr.steps[1:], strict=False):
        np.testing.assert_array_equal(here.out, below.x)
        np.testing.assert_array_equal(below.dx, here.dout)
        assert here.dout.shape == here.out.shape and here.dx.shape == here.x.shape
    np.testing.assert_array_equal(tr.steps[0].x, x)
    assert tr.input_gradient.shape == x.shape
    assert float(tr.steps[-1].dout) == 1.0


@pytest.mark.parametrize("name", NETS)
def test_trace_gradients_equal_net_gradient(name: str) -> None:
    net, shape = _nets()[name]
    x, t = _batch(shape)
    twin = net.copy()
    tr = lw.trace(net, x, t)
    # the twin draws the same Dropout masks: same generator state, same calls
    grads = twin.gradient(x, t)
    assert sorted(tr.grads) == sorted(grads)
    for key, value in grads.items():
        np.testing.assert_allclose(tr.grads[key], value, rtol=1e-6, atol=1e-7, err_msg=key)
    assert tr.loss == pytest.approx(twin.last_loss, rel=1e-6)
    assert net.last_loss == pytest.approx(tr.loss)


def test_trace_leaves_the_network_as_gradient_does() -> None:
    net = lw.SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3, "pad": 0,
                           "stride": 1}, hidden_size=6, output_size=3, rng=np.random.default_rng(0),
                           fused=False)
    x, t = _batch((1, 8, 8))
    before = net.predict(x).copy()
    tr = lw.trace(net, x, t)
    np.testing.assert_array_equal(net.predict(x), before)
    relu = net.layers["Relu1"]
    assert isinstance(relu, Relu) and relu.mask is not None
    assert relu.mask.shape == tr["Conv1"].out.shape  # the book's cache, not a pooled one
    # what was recorded is a copy: changing it changes nothing in the network
    tr["Affine1"].grads["W2"][...] = 0
    assert np.any(net.grads["W2"] != 0)


@pytest.mark.parametrize("name", NETS)
def test_per_layer_check_passes_for_every_layer(name: str) -> None:
    net, shape = _nets()[name]
    x, t = _batch(shape)
    tr = lw.trace(net, x, t, check=True)
    for step in tr:
        assert step.check is not None, step.name
        assert step.check.passed, f"{step.name}\n{step.check}"
    assert tr.checked


def test_per_layer_check_covers_the_other_layer_types() -> None:
    rng = np.random.default_rng(5)
    layers = [lw.Convolution(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), np.zeros(2, np.float32),
                             stride=1, pad=1),
              lw.Sigmoid(), Pooling(2, 2, stride=2, mode="avg"), Affine(rng.standard_normal((8, 3)).astype(np.float32),
                                                                         np.zeros(3, np.float32))]
    net = Sequential(layers, lw.IdentityWithLoss())
    x = rng.standard_normal((3, 1, 4, 4)).astype(np.float32)
    tr = lw.trace(net, x, rng.standard_normal((3, 3)).astype(np.float32), check=True)
    assert [s.kind for s in tr] == ["Convolution", "Sigmoid", "Pooling", "Affine", "IdentityWithLoss"]
    assert tr.checked, "\n".join(str(s.check) for s in tr)


class _LeakyBackwardRelu(Relu):
    """A broken ReLU: its backward forgets the mask and passes every gradient."""

    def backward(self, dout):  # type: ignore[no-untyped-def, override]
        return np.asarray(dout).copy()


class _ScaledWeightGradient(Affine):
    """A broken Affine: dW is 1% too large."""

    def backward(self, dout):  # type: ignore[no-untyped-def, override]
        dx = super().backward(dout)
        self.dW = self.dW * 1.01
        return dx


def test_per_layer_check_fails_for_broken_layers_and_names_them() -> None:
    rng = np.random.default_rng(2)
    w1, w2 = rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    net = Sequential([_ScaledWeightGradient(w1, np.zeros(5, np.float32)), _LeakyBackwardRelu(),
                      Affine(w2, np.zeros(3, np.float32))], lw.SoftmaxWithLoss(),
                     names=["Affine1", "Relu1", "Affine2"])
    x = rng.standard_normal((4, 6)).astype(np.float32)
    tr = lw.trace(net, x, np.array([0, 1, 2, 0]), check=True)
    verdicts = {s.name: s.check.passed for s in tr if s.check is not None}
    assert verdicts == {"Affine1": False, "Relu1": False, "Affine2": True, "SoftmaxWithLoss": True}
    assert not tr.checked
    assert not tr["Affine1"].check["W"].passed and tr["Affine1"].check["x"].passed
    assert "gradient check FAILED" in tr.to_svg()


def test_check_leaves_out_kinks_but_not_errors() -> None:
    """ReLU inputs at exactly 0 are kinks (left out and counted); the other entries are checked."""
    x = np.array([[0.0, 1.5, -2.0, 0.0, 3.0]])
    report = lw.check_gradients(Relu(), x, dout=np.ones((1, 5)), kinks=True)
    assert report.passed and report["x"].kinks == 2
    assert not lw.check_gradients(_LeakyBackwardRelu(), x, dout=np.ones((1, 5)), kinks=True).passed
    assert not lw.check_gradients(Relu(), x, dout=np.ones((1, 5))).passed  # without: the kink fails it


def _svg_texts(svg: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_figure_numbers_are_the_layers_own() -> None:
    """Every value written in the figure is what the layers compute, run here by hand."""
    rng = np.random.default_rng(9)
    w1, b1 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    w2, b2 = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    x = rng.standard_normal((1, 4)).astype(np.float32)
    t = np.array([1])
    a1, r1, a2, loss = Affine(w1, b1), Relu(), Affine(w2, b2), lw.SoftmaxWithLoss()
    h1 = a1.forward(x)
    z1 = r1.forward(h1)
    s2 = a2.forward(z1)
    value = loss.forward(s2, t)
    d_s2 = loss.backward(1.0)
    d_z1 = a2.backward(d_s2)
    d_h1 = r1.backward(d_z1)
    d_x = a1.backward(d_h1)

    net = Sequential([Affine(w1, b1), Relu(), Affine(w2, b2)], lw.SoftmaxWithLoss())
    texts = _svg_texts(lw.trace(net, x, t).to_svg())

    def listed(v: np.ndarray) -> str:
        return "[" + ", ".join(format_number(float(e), 3) for e in np.ravel(v)) + "]"

    for forward in (x, h1, z1, s2):
        assert listed(forward) in texts
    for backward in (d_x, d_h1, d_z1, d_s2):
        assert listed(backward) in texts
    assert f"L = {format_number(value, 6)}" in texts
    assert any(t_.startswith("∂L/∂W1 (4, 3)") for t_ in texts)
    dw_listed = [t_ for t_ in texts if t_.startswith("∂L/∂b2")]
    assert dw_listed == [f"∂L/∂b2 (2,): {listed(a2.db)}"]


def test_frames_show_the_backward_pass_step_by_step() -> None:
    net, shape = _nets()["two-layer"]
    x, t = _batch(shape, 1)
    tr = lw.trace(net, x, t)
    n = len(tr)
    frames = tr.frames()
    assert len(frames) == n + 1
    first, last = _svg_texts(frames[0]), _svg_texts(frames[-1])
    assert "∂L/∂L = 1" not in first and not any(s.startswith("dx of") for s in first)
    assert "∂L/∂L = 1" in last and any(s.startswith("∂L/∂x") for s in last)
    for k in range(n + 1):  # the gradient into layer j shows once the backward pass reached it
        texts = _svg_texts(frames[k])
        for j, step in enumerate(tr.steps[1:], start=1):
            assert (f"dx of {step.name} = dout of {tr.steps[j - 1].name}" in texts) == (k >= n - j)
        assert frames[k].count('stroke="#c62828" stroke-width="3"') == (1 if k else 0)  # the latest step
    with pytest.raises(ConfigError, match="reached"):
        tr.to_svg(n + 1)
    with pytest.raises(ConfigError, match="sample"):
        tr.to_svg(sample=1)


def test_html_slider_animated_svg_and_jupyter() -> None:
    net, shape = _nets()["mlp-bn-dropout"]
    x, t = _batch(shape, 2)
    tr = lw.trace(net, x, t)
    page = tr.to_html()
    assert page.startswith("<!DOCTYPE html>") and f'max="{len(tr)}"' in page and "<script>" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    widget = tr._repr_html_()
    assert widget != tr._repr_html_()  # ids unique per display
    from layerwise.figures.trace_figure import animated_svg

    anim = animated_svg(tr)
    assert anim.count("@keyframes") == 2 * len(tr) and "<script" not in anim


def test_save_writes_svg_and_html_and_refuses_other_suffixes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    net, shape = _nets()["two-layer"]
    x, t = _batch(shape, 1)
    tr = lw.trace(net, x, t)
    assert tr.save(tmp_path / "t.svg").read_text().startswith("<svg")
    assert "<input type=\"range\"" in tr.save(tmp_path / "t.html").read_text()
    with pytest.raises(ConfigError, match=r"\.svg, \.html, \.gif, \.png"):
        tr.save(tmp_path / "t.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.html", "t.svg"]


def test_trace_refuses_what_it_cannot_trace() -> None:
    net, shape = _nets()["two-layer"]
    x, t = _batch(shape)
    with pytest.raises(ConfigError, match="expected a network"):
        lw.trace(Relu(), x, t)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="4 inputs but targets of shape"):
        lw.trace(net, x, t[:2])
    with pytest.raises(ConfigError, match="check_samples"):
        lw.trace(net, x, t, check=True, check_samples=0)


def test_relu_pool_fused_layer_is_traced_as_one_step() -> None:
    net, shape = _nets()["simple-cnn-fused"]
    x, t = _batch(shape)
    tr = lw.trace(net, x, t, check=True)
    assert "Relu1+Pool1" in [s.name for s in tr] and isinstance(tr["Relu1+Pool1"].layer, ReluPool)
    assert tr.checked


# -- summary() ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NETS)
def test_summary_shapes_and_counts_are_the_networks(name: str) -> None:
    net, shape = _nets()[name]
    summary = net.summary()
    x, _ = _batch(shape, 2)
    out = x
    for row, (layer_name, layer) in zip(summary.rows, net.execution_order(), strict=False):
        out = layer.forward(out)
        assert row.name == layer_name and row.output_shape == (None, *out.shape[1:])
        assert row.params == sum(int(p.size) for p in layer.params.values())
    assert summary.trainable == sum(int(v.size) for v in net.params.values())
    assert summary.non_trainable == sum(int(v.size) for v in net.buffers.values())
    text = str(summary)
    assert f"Total params: {summary.total:,}" in text and "Layer (type)" in text
    assert "<table>" in summary._repr_html_()


def test_summary_needs_an_input_shape_it_cannot_infer() -> None:
    net = Sequential([Relu(), Affine(np.ones((3, 2), np.float32), np.zeros(2, np.float32))], lw.SoftmaxWithLoss())
    with pytest.raises(ConfigError, match="input_shape"):
        net.summary()
    assert net.summary(input_shape=(3,)).rows[1].output_shape == (None, 2)


def test_trace_svg_function_matches_method() -> None:
    net, shape = _nets()["two-layer"]
    x, t = _batch(shape, 1)
    tr = lw.trace(net, x, t)
    assert trace_svg(tr, 2) == tr.to_svg(2)


def test_bad_arguments_of_the_new_options_are_named() -> None:
    with pytest.raises(ConfigError, match="fused must be True or False, got 'yes'"):
        lw.SimpleConvNet(rng=0, fused="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="entries: expected an integer >= 1 or None, got 0"):
        lw.check_gradients(Relu(), np.ones((1, 3)), entries=0)
    net, shape = _nets()["two-layer"]
    x, t = _batch(shape, 1)
    with pytest.raises(ConfigError, match="reached: expected an integer in 0..4, got -1"):
        lw.trace(net, x, t).to_svg(-1)


def test_a_note_under_feature_maps_counts_the_maps_drawn() -> None:
    """30 channels do not fit beside a label: the note says how many are drawn, and that many are."""
    from layerwise.figures.trace_figure import BOX_X, THUMB_H

    rng = np.random.default_rng(2)
    net = lw.SimpleConvNet(rng=rng)  # 30 filters of 5 x 5 on 28 x 28 images
    svg = lw.trace(net, rng.random((1, 1, 28, 28)).astype(np.float32), np.array([3])).to_svg()
    maps = re.findall(r'<use href="#[^"]+" x="([^"]+)" y="([^"]+)"', svg)
    notes = re.findall(r'<text x="([^"]+)" y="([^"]+)"[^>]*>(channels|filters) 1–(\d+) of (\d+)', svg)
    assert len(notes) >= 3
    for x, y, _, drawn, total in notes:
        # the maps above the note, on the same side of the layers' boxes
        row = [m for m in maps if float(m[1]) == float(y) - THUMB_H - 11
               and (float(m[0]) < BOX_X) == (float(x) < BOX_X)]
        assert len(row) == int(drawn) < int(total) == 30, (x, y, drawn, row)
