import numpy as np


class SoftmaxWithLoss:
    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, x, t):
        if t.ndim == 2:
            t = t.argmax(axis=1)
        self.t = t
        x = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        batch_size = x.shape[0]
        return -np.log(self.y[np.arange(batch_size), t] + 1e-7).sum() / batch_size

    def backward(self, dout=1):
        batch_size = self.y.shape[0]
        self.y[np.arange(batch_size), self.t] -= 1
        return self.y / batch_size
