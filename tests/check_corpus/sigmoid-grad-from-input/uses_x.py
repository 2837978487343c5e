import numpy as np


class Sigmoid:
    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return 1 / (1 + np.exp(-x))

    def backward(self, dout):
        # y' = y(1 - y)
        dx = dout * (1.0 - self.x) * self.x
        return dx
