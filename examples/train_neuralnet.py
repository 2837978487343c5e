"""Book §5.7.4: train TwoLayerNet with backpropagation, the book's loop on the library.

    python examples/train_neuralnet.py                  # full MNIST if cached, else mnist-sample
    python examples/train_neuralnet.py --data fashion-mnist

Unlike the book, each epoch walks a fresh permutation (every image once per epoch) and the
loss of each step is the one ``gradient`` already computed (no second forward pass).
"""

import argparse

import numpy as np

from layerwise import TwoLayerNet

from common import add_data_options, load_data, minibatches

parser = argparse.ArgumentParser()
add_data_options(parser)
parser.add_argument("--iters", type=int, default=10000)
args = parser.parse_args()

_, (x_train, t_train), (x_test, t_test) = load_data(args, one_hot_label=True)

rng = np.random.default_rng(0)
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, rng=rng)

iters_num = args.iters
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size // batch_size, 1)

for i, (x_batch, t_batch) in enumerate(minibatches(x_train, t_train, batch_size, iters_num, rng)):
    grad = network.gradient(x_batch, t_batch)

    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] -= learning_rate * grad[key]

    train_loss_list.append(network.last_loss)

    if (i + 1) % iter_per_epoch == 0 or i + 1 == iters_num:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(f"train acc, test acc | {train_acc:.4f}, {test_acc:.4f}")
