"""Leaving layerwise without retraining: a network as an ONNX model, checked by onnxruntime.

:func:`export_onnx` writes a network (any :class:`~layerwise.networks.Sequential` of the
library's layers, every ready-made network included) as an ONNX file, and :func:`to_onnx`
builds the same model in memory; ``layerwise export MODEL.safetensors -o MODEL.onnx`` does it
from the command line. :mod:`layerwise.files.torch_bridge` moves a network to PyTorch and back.
Both need an optional extra (``pip install 'layerwise[onnx]'``, ``'layerwise[torch]'``) and
import it only when called.
"""

from layerwise.files.export.onnx_graph import INPUT_NAME, IR_VERSION, OPSET, export_onnx, to_onnx
from layerwise.files.export.plan import SUPPORTED_LAYERS, ExportError, Step, plan

__all__ = ["export_onnx", "to_onnx", "ExportError", "plan", "Step", "SUPPORTED_LAYERS", "OPSET",
           "IR_VERSION", "INPUT_NAME"]
