import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)

    def forward(self, x):
        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        # accumulate like in autograd
        self.dW += self.x.T @ dout
        self.db += dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.x_shape)
