import numpy as np


class Relu:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        # small slope on the negative side so gradients don't die
        return np.where(self.x > 0, dout, 0.01 * dout)
