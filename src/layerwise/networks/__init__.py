"""Networks: a generic :class:`Sequential` stack and the book's ready-made networks."""

from layerwise.networks.convnet import DeepConvNet, SimpleConvNet
from layerwise.networks.sequential import Sequential
from layerwise.networks.two_layer_net import TwoLayerNet
from layerwise.networks.views import GradView, ParamView

__all__ = ["Sequential", "TwoLayerNet", "ParamView", "GradView", "SimpleConvNet", "DeepConvNet"]
