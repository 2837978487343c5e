import numpy as np


class Relu:
    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        np.putmask(dout, self.x <= 0, 0)
        return dout
