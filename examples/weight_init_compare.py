"""Book §6.2.4: initial weights std=0.01 vs Xavier vs He, training MNIST with SGD.

    python examples/weight_init_compare.py                  # full MNIST if cached, else mnist-sample
    python examples/weight_init_compare.py --data mnist-sample --iters 300 --out init.png

Three ReLU networks MultiLayerNet(784, [100]*4, 10), trained by SGD (lr 0.01) on the same
mini-batches, differ only in their initial weights. With std=0.01 the signal fades layer
after layer and the loss barely moves; He (made for ReLU) learns fastest. Each step records
the loss that ``gradient`` computed. Writes the smoothed loss curves to a PNG and prints,
per initialisation, the loss of the first batch and the mean loss of the last tenth of the
iterations (``name: first final``).
"""

import argparse

import numpy as np
from matplotlib.figure import Figure

from layerwise import MultiLayerNet
from layerwise.files.fileio import atomic_path
from layerwise.optimizers import SGD

from common import add_data_options, load_data, minibatches, plot_loss_curves

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
add_data_options(parser)
parser.add_argument("--iters", type=int, default=2000)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="weight_init_compare.png")
args = parser.parse_args()

name, (x_train, t_train), _ = load_data(args)
train_size = x_train.shape[0]
batch_size = min(args.batch_size, train_size)

# the book's weight_init_std values: a number, "sigmoid" (Xavier) and "relu" (He)
weight_init_types = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
networks = {key: MultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std=spec,
                               rng=np.random.default_rng(args.seed))
            for key, spec in weight_init_types.items()}
optimizers = {key: SGD(lr=args.lr) for key in weight_init_types}
train_loss = {key: [] for key in weight_init_types}

batches = minibatches(x_train, t_train, batch_size, args.iters, np.random.default_rng(args.seed + 1))
for i, (x_batch, t_batch) in enumerate(batches):
    for key, network in networks.items():
        grads = network.gradient(x_batch, t_batch)
        optimizers[key].update(network.params, grads)
        train_loss[key].append(network.last_loss)

    if i % 100 == 0 or i + 1 == args.iters:
        print(f"iteration {i:>5}  " + "  ".join(f"{key} {train_loss[key][-1]:.4f}" for key in networks))

fig = Figure(figsize=(8, 5))
ax = fig.subplots()
plot_loss_curves(ax, train_loss, {"std=0.01": "o", "Xavier": "s", "He": "D"}, args.iters)
ax.set_ylim(0, 2.5)
ax.set_title(f"MultiLayerNet 784-100x4-10 (ReLU), SGD lr={args.lr:g} on {name} (smoothed)")
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

tail = max(args.iters // 10, 1)
print(f"loss of the first batch, mean loss of the last {tail} iterations")
for key in networks:
    print(f"{key}: {train_loss[key][0]:.4f} {np.mean(train_loss[key][-tail:]):.4f}")
