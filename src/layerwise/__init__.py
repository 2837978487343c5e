"""layerwise: neural networks from layers that each own forward() and backward().

The names follow *Deep Learning from Scratch* (Saito Koki), chapter 5: ``MulLayer``,
``AddLayer``, ``Relu``, ``Sigmoid``, ``Affine``, ``SoftmaxWithLoss``, ``TwoLayerNet``.

``import layerwise as lw`` gives every name below. They are imported on first use (PEP 562),
so that the ``layerwise`` command starts at once and a Ctrl-C while NumPy loads is answered
by the command, not by a traceback; ``from layerwise import TwoLayerNet`` works as usual.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

from layerwise.version import __version__

# Where each public name lives, in the order of the book's chapters.
_EXPORTS: dict[str, str] = {
    "get_num_threads": "layerwise.fast.parallel",
    "set_num_threads": "layerwise.fast.parallel",
    "distributed": "layerwise.fast.distributed",  # a module: lw.distributed.allreduce_mean(...)
    "graph": "layerwise.figures.graph",  # a module: lw.graph.figure("apple")
    "LayerwiseError": "layerwise.errors",
    "ConfigError": "layerwise.errors",
    "ShapeError": "layerwise.errors",
    "DataError": "layerwise.errors",
    "NonFiniteError": "layerwise.errors",
    "TrainingDiverged": "layerwise.errors",
    "sigmoid": "layerwise.functions",
    "relu": "layerwise.functions",
    "softmax": "layerwise.functions",
    "log_softmax": "layerwise.functions",
    "cross_entropy_error": "layerwise.functions",
    "softmax_cross_entropy": "layerwise.functions",
    "sum_squared_error": "layerwise.functions",
    "numerical_gradient": "layerwise.gradient_check",
    "check_gradients": "layerwise.gradient_check",
    "GradientCheckReport": "layerwise.gradient_check",
    "Layer": "layerwise.layers",
    "LossLayer": "layerwise.layers",
    "MulLayer": "layerwise.layers",
    "AddLayer": "layerwise.layers",
    "Relu": "layerwise.layers",
    "Sigmoid": "layerwise.layers",
    "Affine": "layerwise.layers",
    "SoftmaxWithLoss": "layerwise.layers",
    "IdentityWithLoss": "layerwise.layers",
    "Sequential": "layerwise.networks",
    "TwoLayerNet": "layerwise.networks",
    "BatchNormalization": "layerwise.layers",
    "Dropout": "layerwise.layers",
    "get_initializer": "layerwise.initializers",
    "Optimizer": "layerwise.optimizers",
    "SGD": "layerwise.optimizers",
    "Momentum": "layerwise.optimizers",
    "Nesterov": "layerwise.optimizers",
    "AdaGrad": "layerwise.optimizers",
    "RMSprop": "layerwise.optimizers",
    "Adam": "layerwise.optimizers",
    "MultiLayerNet": "layerwise.networks",
    "MultiLayerNetExtend": "layerwise.networks",
    "im2col": "layerwise.conv_utils",
    "col2im": "layerwise.conv_utils",
    "conv_output_size": "layerwise.conv_utils",
    "Convolution": "layerwise.layers",
    "Pooling": "layerwise.layers",
    "SimpleConvNet": "layerwise.networks",
    "DeepConvNet": "layerwise.networks",
    "save_model": "layerwise.files.model_files",
    "load_model": "layerwise.files.model_files",
    "check": "layerwise.workbench",
    "trace": "layerwise.figures.tracing",
    "Trace": "layerwise.figures.tracing",
    "export_onnx": "layerwise.files.export",
    "to_torch": "layerwise.files.torch_bridge",
    "from_torch": "layerwise.files.torch_bridge",
}

__all__ = ["__version__", *_EXPORTS]


def _submodules() -> set[str]:
    """The public sub-modules and sub-packages (``layers``, ``optimizers``, ``datasets`` ...)."""
    return {info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None and name in _submodules():  # lw.optimizers.SGD in a fresh interpreter
        module = f"{__name__}.{name}"
    if module is None:
        raise AttributeError(f"module 'layerwise' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module.rpartition(".")[2] == name else getattr(imported, name)  # a submodule as is
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _submodules())


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from layerwise.conv_utils import col2im, conv_output_size, im2col
    from layerwise.errors import (
        ConfigError,
        DataError,
        LayerwiseError,
        NonFiniteError,
        ShapeError,
        TrainingDiverged,
    )
    from layerwise.fast import distributed
    from layerwise.fast.parallel import get_num_threads, set_num_threads
    from layerwise.figures import graph
    from layerwise.figures.tracing import Trace, trace
    from layerwise.files.export import export_onnx
    from layerwise.files.model_files import load_model, save_model
    from layerwise.files.torch_bridge import from_torch, to_torch
    from layerwise.functions import (
        cross_entropy_error,
        log_softmax,
        relu,
        sigmoid,
        softmax,
        softmax_cross_entropy,
        sum_squared_error,
    )
    from layerwise.gradient_check import GradientCheckReport, check_gradients, numerical_gradient
    from layerwise.initializers import get_initializer
    from layerwise.layers import (
        AddLayer,
        Affine,
        BatchNormalization,
        Convolution,
        Dropout,
        IdentityWithLoss,
        Layer,
        LossLayer,
        MulLayer,
        Pooling,
        Relu,
        Sigmoid,
        SoftmaxWithLoss,
    )
    from layerwise.networks import (
        DeepConvNet,
        MultiLayerNet,
        MultiLayerNetExtend,
        Sequential,
        SimpleConvNet,
        TwoLayerNet,
    )
    from layerwise.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, Optimizer, RMSprop
    from layerwise.workbench import check
