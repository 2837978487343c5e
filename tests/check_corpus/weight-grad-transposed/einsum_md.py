import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        self.cache = (x.shape, x.reshape(x.shape[0], -1))
        return np.einsum("nd,dm->nm", self.cache[1], self.W) + self.b

    def backward(self, dout):
        shape, x2 = self.cache
        self.dW = np.einsum("nd,nm->md", x2, dout)
        self.db = dout.sum(axis=0)
        return np.einsum("nm,dm->nd", dout, self.W).reshape(shape)
