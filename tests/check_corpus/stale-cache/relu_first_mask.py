import numpy as np


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        if self.mask is None:      # only need to build the mask once
            self.mask = (x <= 0)
        return np.maximum(x, 0)

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx
