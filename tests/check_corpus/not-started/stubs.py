import numpy as np


class MulLayer:
    def forward(self, x, y):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class AddLayer:
    def forward(self, x, y):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class Relu:
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class Sigmoid:
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class SoftmaxWithLoss:
    def forward(self, x, t):
        raise NotImplementedError

    def backward(self, dout=1):
        raise NotImplementedError
