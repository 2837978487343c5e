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
from layerwise.datasets import load_mnist, resolve_auto
from layerwise.fileio import atomic_path
from layerwise.optimizers import SGD

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="auto", help="mnist, fashion-mnist, kmnist, mnist-sample or auto")
parser.add_argument("--train-size", type=int, default=300, help="train on the first N training images")
parser.add_argument("--test-size", type=int, default=None, help="test on the first N test images (all)")
parser.add_argument("--epochs", type=int, default=201)
parser.add_argument("--batch-size", type=int, default=100)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--weight-decay", type=float, default=0.1, help="weight_decay_lambda (0: none)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--log-every", type=int, default=10, help="print the accuracies every N epochs")
parser.add_argument("--out", default="overfit_weight_decay.png")
args = parser.parse_args()

name = args.data
if name == "auto":
    name, why = resolve_auto(try_download=False)
    print("data:", name, "-", why)
(x_train, t_train), (x_test, t_test) = load_mnist(name, normalize=True)
x_train, t_train = x_train[: args.train_size], t_train[: args.train_size]
x_test, t_test = x_test[: args.test_size], t_test[: args.test_size]

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
x = np.arange(1, args.epochs + 1)
markevery = max(args.epochs // 20, 1)
ax.plot(x, train_acc_list, marker="o", label="train", markevery=markevery)
ax.plot(x, test_acc_list, marker="s", label="test", markevery=markevery)
ax.set_xlabel("epochs")
ax.set_ylabel("accuracy")
ax.set_ylim(0, 1.0)
ax.set_title(f"MultiLayerNet 784-100x6-10 on {train_size} images of {name}, "
             f"weight_decay_lambda={args.weight_decay:g}", fontsize=10)
ax.legend(loc="lower right")
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

print(f"train acc: {train_acc_list[-1]:.4f}")
print(f"test acc: {test_acc_list[-1]:.4f}")
print(f"gap: {train_acc_list[-1] - test_acc_list[-1]:.4f}")
