"""My chapter 5 layers, written with a few numpy shortcuts."""
import numpy as np


class MulLayer:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return np.copy(dout), np.copy(dout)


class Relu:
    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return np.where(self.positive, dout, 0)


class Sigmoid:
    def forward(self, x):
        # tanh form never overflows
        self.out = 0.5 * (1 + np.tanh(x / 2))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.dW = self.db = None

    def forward(self, x):
        self.x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.x_shape)


class SoftmaxWithLoss:
    def forward(self, x, t):
        if t.ndim == 2:          # one-hot rows -> class indices
            t = t.argmax(axis=1)
        self.t = t
        shifted = x - x.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_y = shifted - log_z
        self.y = np.exp(log_y)
        picked = np.take_along_axis(log_y, t[:, None], axis=1)
        return -picked.mean()

    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        dx *= dout / n
        return dx
