import numpy as np


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        # compute 1 / (1 + exp(-x)) without temporaries
        np.negative(x, out=x)
        np.exp(x, out=x)
        x += 1
        np.reciprocal(x, out=x)
        self.out = x
        return x

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out
