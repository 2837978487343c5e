import numpy as np


class SoftmaxWithLoss:
    def forward(self, x, t):
        if t.ndim == 2:
            t = np.argmax(t, axis=1)
        self.t = t
        # center the scores so exp doesn't blow up
        x = x - np.mean(x, axis=1, keepdims=True)
        e = np.exp(x)
        self.y = e / e.sum(axis=1, keepdims=True)
        n = x.shape[0]
        return -np.mean(np.log(self.y[np.arange(n), t] + 1e-7))

    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dout * dx / n
