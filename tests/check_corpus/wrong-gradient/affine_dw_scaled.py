import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        N = self.x.shape[0]
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout) / N
        self.db = np.sum(dout, axis=0)
        return dx.reshape(self.original_x_shape)
