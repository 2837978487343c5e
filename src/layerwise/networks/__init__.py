"""Networks: a generic :class:`Sequential` stack and the book's ready-made networks."""

from layerwise.networks.convnet import DeepConvNet, SimpleConvNet
from layerwise.networks.multi_layer_net import MultiLayerNet, MultiLayerNetExtend
from layerwise.networks.sequential import Sequential
from layerwise.networks.two_layer_net import TwoLayerNet
from layerwise.networks.views import BufferView, GradView, ParamView

__all__ = [
    "Sequential",
    "TwoLayerNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "SimpleConvNet",
    "DeepConvNet",
    "ParamView",
    "GradView",
    "BufferView",
]
