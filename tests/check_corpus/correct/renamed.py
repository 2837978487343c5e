import numpy as np


class Multiply:
    def forward(self, a, b):
        self.a = a
        self.b = b
        return a * b

    def backward(self, grad):
        return grad * self.b, grad * self.a


class Plus:
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad * 1, grad * 1


class MyReLU:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, grad):
        dx = grad.copy()
        dx[self.mask] = 0
        return dx


class MySigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out) * self.out


class MyAffine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, grad):
        self.dW = np.dot(self.x.T, grad)
        self.db = grad.sum(axis=0)
        return np.dot(grad, self.W.T).reshape(self.shape)


class MySoftmaxLoss:
    def forward(self, x, t):
        x = x - x.max(axis=1, keepdims=True)
        logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        self.p = np.exp(logp)
        self.labels = t.argmax(axis=1) if t.ndim == 2 else t
        n = len(self.labels)
        return -logp[np.arange(n), self.labels].sum() / n

    def backward(self, grad=1):
        n = len(self.labels)
        dx = self.p.copy()
        dx[np.arange(n), self.labels] -= 1
        dx *= grad / n
        return dx
