import numpy as np


class MulLayer:
    def forward(self, x, y):
        self.xy = (x, y)
        return x * y

    def backward(self, dout):
        x, y = self.xy
        return dout * y, dout * x


class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout


class Relu:
    def forward(self, x):
        self.on = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self.on


class Sigmoid:
    def forward(self, x):
        self.s = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
        return self.s

    def backward(self, dout):
        return dout * self.s * (1.0 - self.s)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t.argmax(axis=1) if t.ndim == 2 else t
        e = np.exp(x)
        self.y = e / e.sum(axis=1, keepdims=True)
        n = len(self.t)
        return -np.log(self.y[np.arange(n), self.t] + 1e-7).mean()

    def backward(self, dout=1):
        n = len(self.t)
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dout * dx / n
