import numpy as np


class MulLayer:
    def __init__(self):
        self.cache = None

    def forward(self, x, y):
        self.cache = (x, y)
        return x * y

    def backward(self, dout):
        x, y = self.cache
        dx = dout * y
        dy = dout * x
        return dx, dy


class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return 1 * dout, 1 * dout


class Relu:
    def __init__(self):
        self.cache = {}

    def forward(self, x):
        self.cache["x"] = x
        out = x * (x > 0)
        return out

    def backward(self, dout):
        x = self.cache["x"]
        return dout * (x > 0)


class Sigmoid:
    def __init__(self):
        self.cache = {}

    def forward(self, x):
        # sigmoid(x) = exp(-log(1 + exp(-x))), written with logaddexp so it never overflows
        s = np.exp(-np.logaddexp(0, -x))
        self.cache["s"] = s
        return s

    def backward(self, dout):
        s = self.cache["s"]
        return dout * s * (1.0 - s)


class Affine:
    def __init__(self, W, b):
        self.params = {"W": W, "b": b}
        self.grads = {}
        self.cache = None

    def forward(self, x):
        W, b = self.params["W"], self.params["b"]
        x2 = x.reshape(x.shape[0], -1)
        self.cache = (x.shape, x2)
        return x2.dot(W) + b

    def backward(self, dout):
        shape, x2 = self.cache
        W = self.params["W"]
        self.grads["W"] = x2.T.dot(dout)
        self.grads["b"] = dout.sum(axis=0)
        self.dW, self.db = self.grads["W"], self.grads["b"]
        return dout.dot(W.T).reshape(shape)


class SoftmaxWithLoss:
    def __init__(self):
        self.cache = None

    def forward(self, x, t):
        n, c = x.shape
        if t.ndim == 1:
            t = np.eye(c, dtype=x.dtype)[t]
        else:
            t = t.astype(x.dtype)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        # log-softmax directly, so log never sees a 0
        log_y = (x - x.max(axis=1, keepdims=True)) - np.log(e.sum(axis=1, keepdims=True))
        self.cache = (y, t)
        return -(t * log_y).sum() / n

    def backward(self, dout=1):
        y, t = self.cache
        dx = y - t
        dx *= dout / y.shape[0]
        return dx
