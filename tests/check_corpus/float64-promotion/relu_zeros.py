import numpy as np


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x > 0
        out = np.zeros(x.shape)
        out[self.mask] = x[self.mask]
        return out

    def backward(self, dout):
        dx = np.zeros(dout.shape)
        dx[self.mask] = dout[self.mask]
        return dx
