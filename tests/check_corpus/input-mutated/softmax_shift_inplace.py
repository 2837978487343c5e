import numpy as np


def softmax(a):
    a -= np.max(a, axis=1, keepdims=True)  # prevent overflow
    exp_a = np.exp(a)
    return exp_a / np.sum(exp_a, axis=1, keepdims=True)


def cross_entropy_error(y, t):
    if t.ndim == 2:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        t = self.t
        if t.ndim == 2:
            t = t.argmax(axis=1)
        dx = self.y.copy()
        dx[np.arange(batch_size), t] -= 1
        return dx / batch_size
