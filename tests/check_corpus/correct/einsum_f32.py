# Chapter 5 layers, keeping everything in the input's dtype (float32 stays float32).
import numpy as np


def _sigmoid(x):
    z = np.exp(-np.abs(x))                     # always in (0, 1]
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    s = x - m
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


class MulLayer:
    def forward(self, x, y):
        self.x = x
        self.y = y
        return np.multiply(x, y)

    def backward(self, dout):
        return np.multiply(dout, self.y), np.multiply(dout, self.x)


class AddLayer:
    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, dout):
        dx = np.array(dout, copy=True)
        dy = np.array(dout, copy=True)
        return dx, dy


class Relu:
    def forward(self, x):
        self.keep = np.greater(x, 0)
        return np.where(self.keep, x, np.zeros_like(x))

    def backward(self, dout):
        return np.where(self.keep, dout, np.zeros_like(dout))


class Sigmoid:
    def forward(self, x):
        self.y = _sigmoid(np.asarray(x))
        return self.y

    def backward(self, dout):
        return dout * self.y * (1 - self.y)


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.dW = None
        self.db = None

    def forward(self, x):
        self.in_shape = x.shape
        self.x2 = x.reshape(x.shape[0], -1)
        return np.einsum("nd,dm->nm", self.x2, self.W) + self.b

    def backward(self, dout):
        self.dW = np.einsum("nd,nm->dm", self.x2, dout)
        self.db = np.einsum("nm->m", dout)
        dx = np.einsum("nm,dm->nd", dout, self.W)
        return dx.reshape(self.in_shape)


class SoftmaxWithLoss:
    def forward(self, x, t):
        n = x.shape[0]
        logp = _log_softmax(x)
        if t.ndim == x.ndim:
            onehot = t.astype(x.dtype)
        else:
            onehot = np.zeros_like(x)
            onehot[np.arange(n), t] = 1
        self.y = np.exp(logp)
        self.onehot = onehot
        return -np.einsum("nc,nc->", onehot, logp) / x.dtype.type(n)

    def backward(self, dout=1):
        n = self.y.shape[0]
        scale = np.asarray(dout, dtype=self.y.dtype) / n
        return (self.y - self.onehot) * scale
