"""Book §5.7.3: compare backpropagation with the numerical gradient on three images.

Prints, for each parameter, the mean absolute difference between the two gradients; both
are computed in float64 here, as a gradient check should be.
"""

import numpy as np

from layerwise import TwoLayerNet
from layerwise.datasets import load_mnist

(x_train, t_train), (x_test, t_test) = load_mnist("mnist-sample", normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10,
                      rng=np.random.default_rng(0), dtype=np.float64)

x_batch = x_train[:3].astype(np.float64)
t_batch = t_train[:3]

grad_numerical = network.numerical_gradient(x_batch, t_batch)
grad_backprop = network.gradient(x_batch, t_batch)

for key in grad_numerical:
    diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
    print(key + ":" + str(diff))
