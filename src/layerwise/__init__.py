"""layerwise: neural networks from layers that each own forward() and backward().

The names follow *Deep Learning from Scratch* (Saito Koki), chapter 5: ``MulLayer``,
``AddLayer``, ``Relu``, ``Sigmoid``, ``Affine``, ``SoftmaxWithLoss``, ``TwoLayerNet``.
"""

from __future__ import annotations

from layerwise.conv_utils import col2im, conv_output_size, im2col
from layerwise.errors import DataError, NonFiniteError, ShapeError, TrainingDiverged
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
from layerwise.parallel import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "get_num_threads",
    "set_num_threads",
    "ShapeError",
    "DataError",
    "NonFiniteError",
    "TrainingDiverged",
    "sigmoid",
    "relu",
    "softmax",
    "log_softmax",
    "cross_entropy_error",
    "softmax_cross_entropy",
    "sum_squared_error",
    "numerical_gradient",
    "check_gradients",
    "GradientCheckReport",
    "Layer",
    "LossLayer",
    "MulLayer",
    "AddLayer",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "IdentityWithLoss",
    "Sequential",
    "TwoLayerNet",
    "BatchNormalization",
    "Dropout",
    "get_initializer",
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSprop",
    "Adam",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "im2col",
    "col2im",
    "conv_output_size",
    "Convolution",
    "Pooling",
    "SimpleConvNet",
    "DeepConvNet",
]
