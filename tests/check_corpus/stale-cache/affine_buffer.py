import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.in_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        # keep the buffer unless the batch shape changes
        if self.x is None or self.x.shape != x.shape:
            self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = np.dot(dout, self.W.T)
        return dx.reshape(self.in_shape)
