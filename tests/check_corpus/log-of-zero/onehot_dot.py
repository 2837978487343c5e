import numpy as np


class SoftmaxWithLoss:
    def forward(self, x, t):
        N, C = x.shape
        if t.ndim == 1:
            onehot = np.zeros_like(x)
            onehot[np.arange(N), t] = 1
            t = onehot
        self.t = t
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return -np.sum(t * np.log(self.y)) / N

    def backward(self, dout=1):
        N = self.y.shape[0]
        return (self.y - self.t) * dout / N
