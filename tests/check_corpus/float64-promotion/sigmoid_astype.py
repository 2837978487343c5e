import numpy as np


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)
