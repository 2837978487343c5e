import numpy as np


class MultiplyGate:
    def forward(self, a, b):
        self.a = a
        self.b = b
        return a * b

    def backward(self, grad):
        da = grad * self.a
        db = grad * self.b
        return da, db


class AddGate:
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad * 1.0, grad * 1.0
