import numpy as np


class SoftmaxWithLoss:
    def __init__(self):
        self.y = None
        self.label = None

    def forward(self, x, t):
        self.label = np.argmax(t, axis=1)       # t is one-hot
        x = x - np.max(x, axis=1, keepdims=True)
        self.y = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
        n = x.shape[0]
        return -np.sum(np.log(self.y[np.arange(n), self.label] + 1e-7)) / n

    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.label] -= 1
        return dx / n
