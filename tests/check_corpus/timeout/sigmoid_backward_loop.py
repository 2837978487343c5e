import numpy as np


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        dx = np.empty_like(dout)
        flat_out = self.out.ravel()
        flat_d = dout.ravel()
        k = 0
        while k < dx.size:
            dx.flat[k] = flat_d[k] * (1 - flat_out[k]) * flat_out[k]
            if k == dx.size:
                k += 1
        return dx
