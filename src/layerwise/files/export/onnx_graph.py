"""A network as an ONNX model (opset 17, IR version 8), with the semantics of *our* layers.

Each layer becomes the ONNX operators that compute what its ``forward`` computes in inference
mode (``net.eval()``)::

    Affine              Flatten(axis=1) when the input has more than two axes, then
                        Gemm(x, W, b): W is (n_in, n_out), as ours, so no transpose
    Relu, Sigmoid       Relu, Sigmoid
    Convolution         Conv(x, W, b): NCHW, pads [ph, pw, ph, pw], strides, no dilation
    Pooling "max"       MaxPool: our padding is -inf, which never wins a max, and ONNX's
                        MaxPool ignores padded cells too, so the pads attribute is exact
    Pooling "avg"       AveragePool with count_include_pad=1: our padding is zeros that count
                        in the divisor pool_h * pool_w
                        (both with ceil_mode=0; our output sizes are exact, so no window is
                        ever partial and no explicit Pad node is needed)
    ReluPool            MaxPool, then Relu (the order the fused layer computes in)
    BatchNormalization  BatchNormalization (inference: running_mean, running_var, our eps),
                        per channel of (N, C, H, W), per feature of (N, D)
    Dropout             nothing (inverted dropout is the identity at inference)
    SoftmaxWithLoss     Softmax(axis=1), the output ``probabilities``; ``scores`` is an output too
    IdentityWithLoss    nothing: the output is ``scores``

The input is ``x`` of shape ``(N, ...)`` with a symbolic batch size ``N``. Weights are stored in
the network's dtype (a float32 network gives a float32 model). The network is not changed:
no forward pass is run and its arrays are copied into the model.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from layerwise.errors import ConfigError, ShapeError
from layerwise.files.export.plan import Shape, Step, loss_of, missing_extra, network_dtype, plan
from layerwise.files.fileio import atomic_path, probe_writable
from layerwise.layers import Affine, BatchNormalization, Convolution, Pooling, Relu, Sigmoid
from layerwise.layers.base import Array, Layer
from layerwise.layers.fused import ReluPool
from layerwise.networks.sequential import Sequential

if TYPE_CHECKING:
    import onnx

__all__ = ["to_onnx", "export_onnx", "require_onnx", "OPSET", "IR_VERSION", "INPUT_NAME", "OutputKind"]

#: The operator set and IR version of every exported model. IR 8 is set explicitly: the onnx
#: package writes its newest IR version otherwise, which older runtimes refuse.
OPSET = 17
IR_VERSION = 8
INPUT_NAME = "x"
BATCH = "N"  # the symbolic batch dimension

OutputKind = Literal["probabilities", "scores"]


def require_onnx() -> Any:
    """The ``onnx`` module, or a :class:`ConfigError` naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise missing_extra("onnx", "onnx", "ONNX export") from None
    return onnx


class _Graph:
    """The nodes and initializers of a graph being built, with unique tensor names."""

    def __init__(self, onnx: Any, dtype: np.dtype[Any]) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used: set[str] = {INPUT_NAME, "scores", "probabilities"}

    def name(self, wanted: str) -> str:
        name, k = wanted, 1
        while name in self.used:
            k += 1
            name = f"{wanted}_{k}"
        self.used.add(name)
        return name

    def constant(self, name: str, value: Array) -> str:
        # np.array copies: the model never shares memory with the network's parameters
        array = np.array(value, dtype=self.dtype, copy=True)
        tensor = self.onnx.numpy_helper.from_array(array, self.name(name))
        self.initializers.append(tensor)
        return str(tensor.name)

    def node(self, op: str, inputs: list[str], name: str, doc: str = "", **attrs: Any) -> str:
        out = self.name(name)
        node = self.onnx.helper.make_node(op, inputs, [out], name=out, doc_string=doc, **attrs)
        self.nodes.append(node)
        return out


def _pads(pad: tuple[int, int]) -> list[int]:
    return [pad[0], pad[1], pad[0], pad[1]]  # [h_begin, w_begin, h_end, w_end]


def _pool_node(g: _Graph, pool: Pooling, x: str, name: str, doc: str) -> str:
    common = {"kernel_shape": [pool.pool_h, pool.pool_w], "strides": list(pool.stride),
              "pads": _pads(pool.pad), "ceil_mode": 0}
    if pool.mode == "max":
        return g.node("MaxPool", [x], name, doc, **common)
    return g.node("AveragePool", [x], name, doc, count_include_pad=1, **common)


def _emit(g: _Graph, step: Step, x: str) -> str:
    """The nodes of one layer, reading tensor ``x``; returns the name of its output."""
    layer: Any = step.layer
    name, doc = step.name, repr(layer)
    kind = type(layer)
    if kind is Affine:
        if len(step.in_shape) > 1:
            x = g.node("Flatten", [x], f"{name}/Flatten", doc, axis=1)
        W, b = g.constant(f"{name}.W", layer.W), g.constant(f"{name}.b", layer.b)
        return g.node("Gemm", [x, W, b], name, doc)
    if kind is Relu:
        return g.node("Relu", [x], name, doc)
    if kind is Sigmoid:
        return g.node("Sigmoid", [x], name, doc)
    if kind is Convolution:
        W, b = g.constant(f"{name}.W", layer.W), g.constant(f"{name}.b", layer.b)
        return g.node("Conv", [x, W, b], name, doc, kernel_shape=list(layer.W.shape[2:]),
                      strides=list(layer.stride), pads=_pads(layer.pad), dilations=[1, 1], group=1)
    if kind is Pooling:
        return _pool_node(g, layer, x, name, doc)
    if kind is ReluPool:
        pooled = _pool_node(g, layer.pool, x, f"{name}/MaxPool", doc)
        return g.node("Relu", [pooled], name, doc)
    if kind is BatchNormalization:
        inputs = [x] + [g.constant(f"{name}.{key}", getattr(layer, key))
                        for key in ("gamma", "beta", "running_mean", "running_var")]
        return g.node("BatchNormalization", inputs, name, doc, epsilon=float(layer.eps))
    return x  # Dropout: the identity at inference


def _rename_output(g: _Graph, tensor: str, new: str) -> None:
    """Make the last node write ``new`` instead of ``tensor`` (nothing reads it yet)."""
    if g.nodes and list(g.nodes[-1].output) == [tensor] and tensor != INPUT_NAME:
        g.nodes[-1].output[0] = new
    else:  # no node (a network of Dropout layers): an explicit Identity
        g.nodes.append(g.onnx.helper.make_node("Identity", [tensor], [new], name=new))


def _resolve_output(model: Sequential | Layer, wanted: str | None, scores: Shape) -> str:
    loss = loss_of(model) if wanted != "scores" else None
    output = wanted if wanted is not None else ("probabilities" if loss == "softmax" else "scores")
    if output not in ("probabilities", "scores"):
        raise ConfigError(f"output must be 'probabilities' or 'scores', got {output!r}")
    if output == "probabilities":
        if loss != "softmax":
            what = type(model.last_layer).__name__ if isinstance(model, Sequential) else "a lone layer"
            raise ConfigError(f"output 'probabilities' needs a network ending in SoftmaxWithLoss, "
                              f"not {what}; use output 'scores'")
        if len(scores) != 1:
            raise ShapeError(f"SoftmaxWithLoss expects scores (N, C), the network gives (N, "
                             f"{', '.join(map(str, scores))})")
    return output


def to_onnx(model: Sequential | Layer, *, output: OutputKind | None = None,
            input_shape: Any = None) -> onnx.ModelProto:
    """``model`` as an in-memory ONNX model (see the module docstring for the mapping).

    Parameters
    ----------
    model : Sequential or Layer
        Any network of the library's layers (TwoLayerNet, MultiLayerNetExtend, SimpleConvNet,
        DeepConvNet, a Sequential...), or one layer.
    output : {"probabilities", "scores"}, optional
        ``"probabilities"`` (the default for a network ending in SoftmaxWithLoss): outputs
        ``probabilities`` (the softmax, shape ``(N, C)``) and ``scores`` (what
        ``net.predict`` returns). ``"scores"`` (the default otherwise): ``scores`` alone.
    input_shape : sequence of int, optional
        The shape of one sample of the input ``x``; by default what the first layer takes,
        ``(n_in,)`` for an Affine (give ``(1, 28, 28)`` to feed images to an MLP: Affine
        flattens them), ``input_dim`` for the conv nets.

    Raises :class:`~layerwise.files.export.ExportError` naming a layer that cannot be exported,
    :class:`~layerwise.errors.ShapeError` for shapes that do not fit, and
    :class:`~layerwise.errors.ConfigError` for a bad argument or a missing ``onnx`` package.
    """
    onnx = require_onnx()
    steps = plan(model, input_shape)
    kind = _resolve_output(model, output, steps[-1].out_shape)
    dtype = network_dtype(steps)
    g = _Graph(onnx, dtype)
    x = INPUT_NAME
    for step in steps:
        x = _emit(g, step, x)
    _rename_output(g, x, "scores")
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    scores_shape = [BATCH, *steps[-1].out_shape]
    outputs = [onnx.helper.make_tensor_value_info("scores", elem, scores_shape)]
    if kind == "probabilities":
        g.nodes.append(onnx.helper.make_node("Softmax", ["scores"], ["probabilities"],
                                             name="SoftmaxWithLoss", axis=1))
        outputs.insert(0, onnx.helper.make_tensor_value_info("probabilities", elem, scores_shape))
    inputs = [onnx.helper.make_tensor_value_info(INPUT_NAME, elem, [BATCH, *steps[0].in_shape])]
    graph = onnx.helper.make_graph(g.nodes, "layerwise", inputs, outputs, g.initializers,
                                   doc_string=repr(model))
    result = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                    producer_name="layerwise", producer_version=_version())
    result.ir_version = IR_VERSION
    props = {"layers": json.dumps([step.name for step in steps])}
    if isinstance(model, Sequential):
        props["architecture"] = json.dumps(model.get_config())
    onnx.helper.set_model_props(result, props)
    return result


def _version() -> str:
    from layerwise.version import __version__

    return __version__


def export_onnx(model: Sequential | Layer, path: str | os.PathLike[str], *,
                output: OutputKind | None = None, input_shape: Any = None) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as an ONNX model (see :func:`to_onnx`); return that model.

    The path is checked before any work (an :class:`~layerwise.errors.OutputError` for a
    missing folder, a folder given as the file, an unwritable folder) and the file is written
    atomically: an interrupted export leaves no partial file, and an earlier file at ``path``
    stays intact until the new one is complete.
    """
    target = probe_writable(path)
    onnx = require_onnx()
    result = to_onnx(model, output=output, input_shape=input_shape)
    with atomic_path(target) as tmp:
        onnx.save_model(result, str(tmp))
    return result
