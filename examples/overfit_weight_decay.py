"""Book §6.4.1–6.4.2: overfitting 300 images, and weight decay against it.

    python examples/overfit_weight_decay.py                    # full MNIST if cached, else mnist-sample
    python examples/overfit_weight_decay.py --weight-decay 0   # the overfitting network alone
    python examples/overfit_weight_decay.py --data mnist-sample --epochs 50 --out wd.png

A deep network MultiLayerNet(784, [100]*6, 10) trained by SGD (lr 0.01) on only the first 300
training images learns them by heart, and its test accuracy stays far below; weight decay
(``weight_decay_lambda``, 0.1 as in the book) narrows that gap. Each epoch walks a fresh
permutation of the 300 images. Plots the training and test accuracy after each epoch and
prints the final ``train acc``, ``test acc`` and their ``gap``.
"""

import argparse

import numpy as np
from matplotlib.figure import Figure

from layerwise import MultiLayerNet
from layerwise.files.fileio import atomic_path
from layerwise.optimizers import SGD

from common import add_data_options, load_data, plot_accuracies

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
add_data_options(parser, train_size=300, test_size=True)
parser.add_argument("--epochs", type=int, default=201)
parser.add_argument("--batch-size", type=int, default=100)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--weight-decay", type=float, default=0.1, help="weight_decay_lambda (0: none)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--log-every", type=int, default=10, help="print the accuracies every N epochs")
parser.add_argument("--out", default="overfit_weight_decay.png")
args = parser.parse_args()

name, (x_train, t_train), (x_test, t_test) = load_data(args)

rng = np.random.default_rng(args.seed)
network = MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=args.weight_decay, rng=rng)
optimizer = SGD(lr=args.lr)

train_size = x_train.shape[0]
batch_size = min(args.batch_size, train_size)
iter_per_epoch = max(train_size // batch_size, 1)
train_acc_list = []
test_acc_list = []
for epoch in range(1, args.epochs + 1):
    order = rng.permutation(train_size)
    for j in range(iter_per_epoch):
        batch_mask = order[j * batch_size : (j + 1) * batch_size]
        grads = network.gradient(x_train[batch_mask], t_train[batch_mask])
        optimizer.update(network.params, grads)

    train_acc_list.append(network.accuracy(x_train, t_train))
    test_acc_list.append(network.accuracy(x_test, t_test))
    if epoch % args.log_every == 0 or epoch in (1, args.epochs):
        print(f"epoch {epoch:>3}  train acc {train_acc_list[-1]:.4f}  test acc {test_acc_list[-1]:.4f}")

fig = Figure(figsize=(7, 5))
ax = fig.subplots()
plot_accuracies(ax, np.arange(1, args.epochs + 1), train_acc_list, test_acc_list,
                f"MultiLayerNet 784-100x6-10 on {train_size} images of {name}, "
                f"weight_decay_lambda={args.weight_decay:g}")
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

print(f"train acc: {train_acc_list[-1]:.4f}")
print(f"test acc: {test_acc_list[-1]:.4f}")
print(f"gap: {train_acc_list[-1] - test_acc_list[-1]:.4f}")
