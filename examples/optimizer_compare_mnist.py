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
from layerwise.files.fileio import atomic_path
from layerwise.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

from common import add_data_options, load_data, minibatches, plot_loss_curves

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
add_data_options(parser)
parser.add_argument("--iters", type=int, default=2000)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="optimizer_compare_mnist.png")
args = parser.parse_args()

name, (x_train, t_train), _ = load_data(args)
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

batches = minibatches(x_train, t_train, batch_size, args.iters, np.random.default_rng(args.seed + 1))
for i, (x_batch, t_batch) in enumerate(batches):
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
curves = plot_loss_curves(ax, train_loss, markers, args.iters)
# the book's zoom on [0, 1], unless a short run has not got there yet
ax.set_ylim(0, 1 if max(curve[-1] for curve in curves.values()) < 0.8 else 2.5)
ax.set_title(f"MultiLayerNet 784-100x4-10 on {name}, batch {batch_size} (smoothed)")
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

tail = max(args.iters // 10, 1)
print(f"first batch: {train_loss['SGD'][0]:.4f}")
print(f"mean loss of the last {tail} iterations")
for key in optimizers:
    print(f"{key}: {np.mean(train_loss[key][-tail:]):.4f}")
