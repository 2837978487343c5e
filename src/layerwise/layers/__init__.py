"""Layers with explicit ``forward`` and ``backward`` (book chapter 5)."""

from layerwise.layers.activation import Relu, Sigmoid
from layerwise.layers.affine import Affine
from layerwise.layers.arithmetic import AddLayer, MulLayer
from layerwise.layers.base import Layer, LossLayer
from layerwise.layers.convolution import Convolution
from layerwise.layers.dropout import Dropout
from layerwise.layers.loss import IdentityWithLoss, SoftmaxWithLoss
from layerwise.layers.normalization import BatchNormalization
from layerwise.layers.pooling import Pooling

__all__ = [
    "Layer",
    "LossLayer",
    "MulLayer",
    "AddLayer",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "IdentityWithLoss",
    "BatchNormalization",
    "Dropout",
    "Convolution",
    "Pooling",
]
