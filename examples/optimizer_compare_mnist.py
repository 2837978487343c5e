"""Book §6.1.8: SGD, Momentum, AdaGrad and Adam (and here RMSprop, Nesterov) on MNIST.

    python examples/optimizer_compare_mnist.py               # full MNIST if cached, else mnist-sample
    python examples/optimizer_compare_mnist.py --data mnist-sample --iters 300 --out cmp.png

Every optimizer trains its own MultiLayerNet(784, [100]*4, 10) with the optimizer's default
learning rate, as in the book; unlike the book, all the networks start from the same weights
and see the same mini-batches, so only the update rule differs. Each step records the loss
that ``gradient`` computed (before the update; the book runs a second forward pass after it).
Writes the smoothed loss curves to a PNG and prints, per optimizer, the mean loss of the last
tenth of the iterations (``name: loss``). RMSprop at its default (the book's) lr 0.01 is
jumpy here: once the gradients have been small for a while, its running mean of squares is
tiny, so one larger gradient makes a big step.
"""

import argparse

import numpy as np
from matplotlib.figure import Figure

from layerwise import MultiLayerNet
from layerwise.datasets import load_mnist, resolve_auto
from layerwise.fileio import atomic_path
from layerwise.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


def smooth_curve(values, window=11):
    """The book's ``smooth_curve`` (common/util.py): a Kaiser window over a mirrored series."""
    x = np.asarray(values, dtype=np.float64)
    window = min(window, len(x) if len(x) % 2 else len(x) - 1)
    if window < 3:
        return x
    padded = np.r_[x[window - 1 : 0 : -1], x, x[-1:-window:-1]]
    w = np.kaiser(window, 2)
    y = np.convolve(w / w.sum(), padded, mode="valid")
    return y[window // 2 : len(y) - window // 2]


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="auto", help="mnist, fashion-mnist, kmnist, mnist-sample or auto")
parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
parser.add_argument("--iters", type=int, default=2000)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="optimizer_compare_mnist.png")
args = parser.parse_args()

name = args.data
if name == "auto":
    name, why = resolve_auto(try_download=False)
    print("data:", name, "-", why)
(x_train, t_train), _ = load_mnist(name, normalize=True)
x_train, t_train = x_train[: args.train_size], t_train[: args.train_size]
train_size = x_train.shape[0]
batch_size = min(args.batch_size, train_size)

optimizers = {
    "SGD": SGD(),
    "Momentum": Momentum(),
    "Nesterov": Nesterov(),
    "AdaGrad": AdaGrad(),
    "RMSprop": RMSprop(),
    "Adam": Adam(),
}
networks = {key: MultiLayerNet(784, [100, 100, 100, 100], 10, rng=np.random.default_rng(args.seed))
            for key in optimizers}
train_loss = {key: [] for key in optimizers}

rng = np.random.default_rng(args.seed + 1)
iter_per_epoch = max(train_size // batch_size, 1)
for i in range(args.iters):
    j = i % iter_per_epoch
    if j == 0:
        order = rng.permutation(train_size)
    batch_mask = order[j * batch_size : (j + 1) * batch_size]
    x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]

    for key, optimizer in optimizers.items():
        network = networks[key]
        grads = network.gradient(x_batch, t_batch)
        optimizer.update(network.params, grads)
        train_loss[key].append(network.last_loss)

    if i % 100 == 0 or i + 1 == args.iters:
        print(f"iteration {i:>5}  " + "  ".join(f"{key} {train_loss[key][-1]:.4f}" for key in optimizers))

fig = Figure(figsize=(8, 5))
ax = fig.subplots()
markers = {"SGD": "o", "Momentum": "x", "Nesterov": "+", "AdaGrad": "s", "RMSprop": "v", "Adam": "D"}
x = np.arange(args.iters)
markevery = max(args.iters // 20, 1)
curves = {key: smooth_curve(train_loss[key]) for key in optimizers}
for key, curve in curves.items():
    ax.plot(x, curve, marker=markers[key], markevery=markevery, label=key)
ax.set_xlabel("iterations")
ax.set_ylabel("loss")
# the book's zoom on [0, 1], unless a short run has not got there yet
ax.set_ylim(0, 1 if max(curve[-1] for curve in curves.values()) < 0.8 else 2.5)
ax.set_title(f"MultiLayerNet 784-100x4-10 on {name}, batch {batch_size} (smoothed)")
ax.legend()
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

tail = max(args.iters // 10, 1)
print(f"first batch: {train_loss['SGD'][0]:.4f}")
print(f"mean loss of the last {tail} iterations")
for key in optimizers:
    print(f"{key}: {np.mean(train_loss[key][-tail:]):.4f}")
