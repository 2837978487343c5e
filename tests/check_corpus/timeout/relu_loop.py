import numpy as np


class Relu:
    def forward(self, x):
        self.x = x
        out = x.copy().ravel()
        i = 0
        while i < out.size:
            if out[i] < 0:
                out[i] = 0
        i += 1
        return out.reshape(x.shape)

    def backward(self, dout):
        return dout * (self.x > 0)
