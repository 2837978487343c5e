"""ONNX export: every model passes onnx's full check, and onnxruntime and onnx's reference
evaluator compute what ``net.predict`` computes in inference mode (within 1e-5 of the output's
scale), for each layer alone, random stacks of them and the book's networks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _optional import require
from export_cases import LAYER_CASES, random_stack

import layerwise as lw
from layerwise.cli.program import EXIT_FAILURE, EXIT_USAGE, main
from layerwise.errors import ConfigError, OutputError, ShapeError
from layerwise.files.export import IR_VERSION, OPSET, ExportError, export_onnx, to_onnx
from layerwise.layers.fused import ReluPool

onnx = require("onnx", "pip install 'layerwise[onnx]'")
ort = require("onnxruntime", "pip install 'layerwise[onnx]'")
from onnx.reference import ReferenceEvaluator  # noqa: E402  (after the skip above)


def run_both(model: Any, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The outputs by name from onnxruntime and from the reference evaluator, after the full check."""
    onnx.checker.check_model(model, full_check=True)
    names = [o.name for o in model.graph.output]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    runtime = dict(zip(names, session.run(None, {"x": x}), strict=True))
    reference = dict(zip(names, ReferenceEvaluator(model).run(None, {"x": x}), strict=True))
    return runtime, reference


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    """Within 1e-5 relative: of each value, or of the output's largest value near zero."""
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)


def check_network(net: lw.Sequential, x: np.ndarray, **kwargs: Any) -> Any:
    """Export ``net`` (in inference mode) and compare both runtimes with predict and softmax."""
    net.eval()
    model = to_onnx(net, **kwargs)
    want = net.predict(x)
    runtime, reference = run_both(model, x)
    for outputs in (runtime, reference):
        assert_close(outputs["scores"], want)
        if "probabilities" in outputs:
            assert_close(outputs["probabilities"], lw.softmax(want))
    return model


# -- layers alone ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(LAYER_CASES))
@pytest.mark.parametrize("seed", range(4))
def test_each_layer_alone_matches_its_forward_in_inference_mode(name: str, seed: int) -> None:
    case = LAYER_CASES[name](np.random.default_rng(seed))
    layer = case.layer.astype(np.float32) if not isinstance(case.layer, ReluPool) else case.layer
    layer.eval()
    x = np.asarray(case.x, dtype=np.float32)
    model = to_onnx(layer, input_shape=x.shape[1:])
    assert [o.name for o in model.graph.output] == ["scores"]
    want = layer.forward(x)
    runtime, reference = run_both(model, x)
    assert_close(runtime["scores"], want)
    assert_close(reference["scores"], want)


@pytest.mark.parametrize("seed", range(25))
def test_random_stacks_of_layers_match_predict(seed: int) -> None:
    net, x = random_stack(np.random.default_rng(1000 + seed))
    check_network(net, x, input_shape=x.shape[1:])


def test_float64_networks_export_as_double_and_agree_in_the_reference_evaluator() -> None:
    # onnxruntime has no double Conv kernel, so float64 models are checked by the reference
    # evaluator; the point is that the weights stay float64 and float32 stays float32.
    net, x = random_stack(np.random.default_rng(7), dtype=np.float64)
    model = to_onnx(net, input_shape=x.shape[1:])
    onnx.checker.check_model(model, full_check=True)
    assert {t.data_type for t in model.graph.initializer} == {onnx.TensorProto.DOUBLE}
    got = ReferenceEvaluator(model).run(["scores"], {"x": x})[0]
    np.testing.assert_allclose(got, net.predict(x), rtol=1e-10, atol=1e-12)
    model32 = to_onnx(net.astype(np.float32), input_shape=x.shape[1:])
    assert {t.data_type for t in model32.graph.initializer} == {onnx.TensorProto.FLOAT}


# -- the book's networks --------------------------------------------------------------------------

def trained(net: lw.Sequential, x: np.ndarray, steps: int = 3) -> lw.Sequential:
    """``net`` after a few SGD steps in training mode: weights away from their initial values
    and BatchNorm running statistics that are not zeros and ones."""
    rng = np.random.default_rng(3)
    t = rng.integers(0, net.eval().predict(x[:1]).shape[1], x.shape[0])
    optimizer = lw.SGD(lr=0.1)
    net.train()
    for _ in range(steps):
        optimizer.update(net.params, net.gradient(x, t))
    return net.eval()


IMAGES = np.random.default_rng(5).uniform(0, 1, (6, 1, 28, 28)).astype(np.float32)


@pytest.mark.parametrize("make", [
    lambda: lw.TwoLayerNet(784, 50, 10, rng=0),
    lambda: lw.MultiLayerNetExtend(784, [40, 30], 10, use_batchnorm=True, use_dropout=True,
                                   dropout_ration=0.3, rng=0),
    lambda: lw.MultiLayerNet(784, [20], 10, activation="sigmoid", rng=0),
    lambda: lw.SimpleConvNet(rng=0),
    lambda: lw.SimpleConvNet(rng=0).fuse(),  # ReluPool
    lambda: lw.DeepConvNet(rng=0),
], ids=["TwoLayerNet", "MultiLayerNetExtend-batchnorm-dropout", "MultiLayerNet-sigmoid", "SimpleConvNet",
        "SimpleConvNet-fused", "DeepConvNet"])
def test_book_networks_match_predict(make: Any) -> None:
    net = make()
    flat = not isinstance(net, (lw.SimpleConvNet, lw.DeepConvNet))
    x = IMAGES.reshape(6, -1) if flat else IMAGES
    net = trained(net, x, steps=1 if isinstance(net, lw.DeepConvNet) else 3)
    model = check_network(net, x[:4])
    if flat:  # the same model with the images as input: Affine flattens them
        check_network(net, IMAGES[:2], input_shape=(1, 28, 28))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"


def test_batchnorm_export_uses_running_statistics_and_our_eps() -> None:
    net = lw.MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, rng=0)
    rng = np.random.default_rng(0)
    net.buffers["running_mean1"] = rng.standard_normal(5)
    net.buffers["running_var1"] = rng.uniform(1e-4, 1e-3, 5)  # small: eps matters
    bn = net.layers["BatchNorm1"]
    bn.eps = 1e-3
    x = rng.standard_normal((4, 6)).astype(np.float32)
    model = check_network(net, x)
    node = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    assert onnx.helper.get_attribute_value(node.attribute[0]) == pytest.approx(1e-3)


def test_model_has_opset_17_ir_8_input_x_with_a_symbolic_batch_and_named_outputs() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    model = to_onnx(net)
    assert model.ir_version == IR_VERSION == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)] == [("", 17)]
    (x,) = model.graph.input
    assert x.name == "x"
    assert [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim] == ["N", 4]
    assert [o.name for o in model.graph.output] == ["probabilities", "scores"]
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Softmax"]  # no Flatten for flat input
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (1, 7):  # any batch size
        x_n = np.ones((n, 4), np.float32)
        (probs,) = session.run(["probabilities"], {"x": x_n})
        assert probs.shape == (n, 2)


def test_output_scores_gives_scores_alone_and_identity_loss_exports_the_identity() -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    assert [o.name for o in to_onnx(net, output="scores").graph.output] == ["scores"]
    rng = np.random.default_rng(0)
    reg = lw.Sequential([lw.Affine(rng.standard_normal((3, 2)), np.zeros(2))], lw.IdentityWithLoss()).astype(np.float32)
    model = check_network(reg, rng.standard_normal((5, 3)).astype(np.float32))
    assert [o.name for o in model.graph.output] == ["scores"]
    assert [n.op_type for n in model.graph.node] == ["Gemm"]
    with pytest.raises(ConfigError, match="output 'probabilities' needs a network ending in SoftmaxWithLoss"):
        to_onnx(reg, output="probabilities")
    with pytest.raises(ConfigError, match="output must be"):
        to_onnx(net, output="logits")  # type: ignore[arg-type]


def test_pooling_padding_is_exported_exactly_for_max_and_average() -> None:
    # Padded cells: -inf for max (never the maximum, even of all-negative windows), zeros
    # counted in the divisor for avg. All-negative inputs tell a 0-padded max from a -inf one.
    x = -np.random.default_rng(0).uniform(1, 2, (2, 3, 5, 5)).astype(np.float32)
    for mode in ("max", "avg"):
        layer = lw.Pooling(3, 3, stride=2, pad=1, mode=mode)  # type: ignore[arg-type]
        model = to_onnx(layer, input_shape=(3, 5, 5))
        node = model.graph.node[0]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["pads"] == [1, 1, 1, 1] and attrs["ceil_mode"] == 0
        if mode == "avg":
            assert attrs["count_include_pad"] == 1
        runtime, reference = run_both(model, x)
        assert_close(runtime["scores"], layer.forward(x))
        assert_close(reference["scores"], layer.forward(x))


def test_export_does_not_change_the_network_nor_share_its_arrays() -> None:
    net = trained(lw.MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, rng=0),
                  np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32))
    net.train()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    model = to_onnx(net)
    assert net.training  # the mode is the caller's
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    net.params["W1"] += 1.0  # the model holds copies
    W1 = next(t for t in model.graph.initializer if t.name == "Affine1.W")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(W1), before["W1"])


# -- what cannot be exported ----------------------------------------------------------------------

class Doubler(lw.Layer):
    """A user's own layer."""

    def forward(self, x: Any) -> Any:
        return 2 * np.asarray(x)


class MyRelu(lw.Relu):
    """A subclass may do anything in forward: refused, not exported as a Relu."""


@pytest.mark.parametrize("model, name", [
    (lw.MulLayer(), "MulLayer"),
    (lw.Sequential([lw.Affine(np.ones((2, 2)), np.zeros(2)), Doubler()], lw.SoftmaxWithLoss()), "Doubler"),
    (lw.Sequential([MyRelu()], lw.IdentityWithLoss()), "MyRelu"),
])
def test_layers_that_cannot_be_exported_are_named_in_one_line(model: Any, name: str) -> None:
    with pytest.raises(ExportError, match=rf"{name}\) cannot be exported") as info:
        to_onnx(model, input_shape=(2,))
    assert "\n" not in str(info.value)
    assert isinstance(info.value, lw.LayerwiseError)


def test_shapes_that_do_not_fit_name_the_layer() -> None:
    net = lw.Sequential([lw.Pooling(2, 2), lw.Affine(np.ones((4, 2)), np.zeros(2))], lw.SoftmaxWithLoss())
    with pytest.raises(ShapeError, match="Pool"):
        to_onnx(net, input_shape=(1, 5, 5))  # 5 is not a multiple of 2
    with pytest.raises(ShapeError, match=r"Affine1: expects 4 features per sample, gets shape \(1, 3, 3\)"):
        to_onnx(net, input_shape=(1, 6, 6))
    with pytest.raises(ConfigError, match="give input_shape"):
        to_onnx(lw.Sequential([lw.Relu()], lw.IdentityWithLoss()))


def test_bad_paths_fail_before_any_work_and_leave_nothing(tmp_path: Path) -> None:
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    with pytest.raises(OutputError, match="does not exist"):
        export_onnx(net, tmp_path / "missing" / "m.onnx")
    with pytest.raises(OutputError, match="is a folder"):
        export_onnx(net, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.onnx"
    net = lw.TwoLayerNet(4, 3, 2, rng=0)
    export_onnx(net, path)
    first = path.read_bytes()
    assert onnx.load_model(str(path)).ir_version == 8

    def half_then_fail(model: Any, f: str) -> None:
        Path(f).write_bytes(model.SerializeToString()[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save_model", half_then_fail)
    with pytest.raises(OutputError, match="No space left on device"):
        export_onnx(lw.TwoLayerNet(4, 3, 2, rng=1), path)
    assert path.read_bytes() == first  # the earlier file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left


# -- the command line -----------------------------------------------------------------------------

@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.safetensors"
    lw.save_model(trained(lw.SimpleConvNet(input_dim=(1, 12, 12), hidden_size=10, rng=0,
                                           conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1}),
                          IMAGES[:4, :, :12, :12]), path)
    return path


def test_cli_export_writes_a_model_onnxruntime_agrees_with(model_file: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.onnx"
    assert main(["export", str(model_file), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "opset 17, IR version 8" in printed
    assert "input x (N, 1, 12, 12)" in printed and "probabilities (N, 10), scores (N, 10)" in printed
    x = IMAGES[:3, :, :12, :12]
    want = lw.load_model(model_file).eval().predict(x)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    probs, scores = session.run(None, {"x": x})
    assert_close(scores, want)
    out.unlink()  # the default name is the file written above; without -o it is never replaced
    assert main(["export", str(model_file), "--output", "scores"]) == 0  # default: MODEL.onnx
    default = model_file.with_suffix(".onnx")
    assert [o.name for o in onnx.load_model(str(default)).graph.output] == ["scores"]


@pytest.mark.parametrize("args, code, message", [
    (["-o", "{tmp}/no/such/folder/m.onnx"], EXIT_USAGE, "-o {tmp}/no/such/folder/m.onnx: folder {tmp}/no does not exist"),
    (["-o", "{tmp}"], EXIT_USAGE, "is a folder"),
    (["-o", "{model}"], EXIT_USAGE, "is the model file itself"),
    (["--input-shape", "1,x"], EXIT_USAGE, "--input-shape: expected positive sizes"),
    (["--input-shape", "1,28,28"], EXIT_FAILURE, "Affine1: expects 144 features per sample, gets shape (4, 14, 14)"),
])
def test_cli_errors_are_one_line_with_the_documented_exit_code(
        model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int,
        message: str) -> None:
    filled = [a.format(tmp=tmp_path, model=model_file) for a in args]
    assert main(["export", str(model_file), *filled]) == code
    err = capsys.readouterr().err
    assert err.startswith("layerwise: error: ") and err.count("\n") == 1
    assert message.format(tmp=tmp_path, model=model_file) in err


def test_cli_missing_model_file_is_a_failure_not_a_traceback(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "none.safetensors"), "-o", str(tmp_path / "m.onnx")]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("layerwise: error: ") and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "m.onnx")


def test_the_accuracy_example_agrees_with_layerwise(tmp_path: Path) -> None:
    import subprocess
    import sys

    model, exported = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    net = lw.TwoLayerNet(784, 20, 10, weight_init_std=0.1, rng=0)
    lw.save_model(net, model)
    export_onnx(net, exported)
    script = Path(__file__).resolve().parent.parent / "examples" / "onnx_accuracy.py"
    for extra in ([], ["--onnx", str(exported)]):
        proc = subprocess.run([sys.executable, str(script), str(model), "--data", "mnist-sample", *extra],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
        assert lines["layerwise accuracy"] == lines["onnxruntime accuracy"]
        assert lines["predictions that differ"] == "0"


def test_without_onnx_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'layerwise\[onnx\]'"):
        to_onnx(lw.TwoLayerNet(4, 3, 2, rng=0))
    model = tmp_path / "m.safetensors"
    lw.save_model(lw.TwoLayerNet(4, 3, 2, rng=0), model)
    assert main(["export", str(model)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "layerwise: error: ONNX export needs the Python package onnx: pip install 'layerwise[onnx]'\n"
    assert not model.with_suffix(".onnx").exists()


def test_the_default_output_never_replaces_an_existing_file(tmp_path: Path) -> None:
    """Without -o the file is MODEL.onnx, a name the user did not give: an existing one stays."""
    model_file = tmp_path / "m.safetensors"
    lw.save_model(lw.TwoLayerNet(4, 3, 2, rng=0), model_file)
    default = model_file.with_suffix(".onnx")
    default.write_bytes(b"the user's own file")
    assert main(["export", str(model_file)]) == EXIT_USAGE
    assert default.read_bytes() == b"the user's own file"
    assert main(["export", str(model_file), "-o", str(default)]) == 0  # named: replaced
    assert onnx.load_model(str(default)).graph.output
