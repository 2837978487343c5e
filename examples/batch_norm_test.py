"""Book §6.3.2: training with and without Batch Normalization, for a range of weight scales.

    python examples/batch_norm_test.py                       # full MNIST if cached, else mnist-sample
    python examples/batch_norm_test.py --data mnist-sample --epochs 5 --weight-scales 0.1 0.01

For each initial weight scale (the std of every weight; by default the book's 16 values
``np.logspace(0, -4, 16)``) two networks MultiLayerNetExtend(784, [100]*5, 10), one with
BatchNorm after every hidden Affine, start from the same weights and train by SGD (lr 0.01)
on the same mini-batches of the first 1000 training images. Without BatchNorm most scales
barely learn; with it, all do. Plots the training accuracy after each epoch (epoch 0: before
training) in a grid of panels, one per scale, and prints the final training accuracies
(``W=scale: normal ACC batchnorm ACC``).

A network whose scores overflow to inf or NaN (large scales without BatchNorm) cannot be
trained further: the script says so and its curve stops there (the book's keeps training
on NaN weights and draws chance level).
"""

import argparse
import math

import numpy as np
from matplotlib.figure import Figure

from layerwise import MultiLayerNetExtend
from layerwise.errors import NonFiniteError
from layerwise.files.fileio import atomic_path
from layerwise.optimizers import SGD

from common import add_data_options, load_data

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
add_data_options(parser, train_size=1000)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--batch-size", type=int, default=100)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--weight-scales", type=float, nargs="+", default=list(np.logspace(0, -4, num=16)))
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="batch_norm_test.png")
args = parser.parse_args()

_, (x_train, t_train), _ = load_data(args)
train_size = x_train.shape[0]
batch_size = min(args.batch_size, train_size)
iter_per_epoch = max(train_size // batch_size, 1)


def train(weight_init_std, seed):
    """Train both networks from the same start; return their accuracy after each epoch."""
    networks = {
        kind: MultiLayerNetExtend(784, [100] * 5, 10, weight_init_std=weight_init_std,
                                  use_batchnorm=(kind == "batchnorm"), rng=np.random.default_rng(seed))
        for kind in ("normal", "batchnorm")
    }
    optimizers = {kind: SGD(lr=args.lr) for kind in networks}
    acc = {kind: [net.accuracy(x_train, t_train)] for kind, net in networks.items()}
    diverged = set()
    rng = np.random.default_rng(seed + 1)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(train_size)
        for j in range(iter_per_epoch):
            batch_mask = order[j * batch_size : (j + 1) * batch_size]
            x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
            for kind, network in networks.items():
                if kind in diverged:
                    continue
                network.train()
                try:
                    grads = network.gradient(x_batch, t_batch)
                except NonFiniteError:
                    print(f"W={weight_init_std:.4g} {kind}: diverged in epoch {epoch} (non-finite scores)")
                    diverged.add(kind)
                    continue
                optimizers[kind].update(network.params, grads)
        for kind, network in networks.items():
            acc[kind].append(float("nan") if kind in diverged else network.accuracy(x_train, t_train))
    return acc


scales = args.weight_scales
cols = min(len(scales), 4)
rows = math.ceil(len(scales) / cols)
fig = Figure(figsize=(max(3.2 * cols, 7.0), 2.6 * rows + 0.6))
axes = fig.subplots(rows, cols, squeeze=False).ravel()
epochs = np.arange(args.epochs + 1)
finals = {}
for i, w in enumerate(scales):
    print(f"============== {i + 1}/{len(scales)}: W={w:.4g} ==============")
    # overflow on the way to an inf score is reported by train(), not warned about
    with np.errstate(over="ignore", invalid="ignore"):
        acc = train(w, args.seed + i)
    finals[w] = acc
    ax = axes[i]
    ax.plot(epochs, acc["batchnorm"], marker="o", markersize=3, label="Batch Normalization")
    ax.plot(epochs, acc["normal"], marker="s", markersize=3, linestyle="--",
            label="Normal (without BatchNorm)")
    ax.set_title(f"W: {w:.4g}", fontsize=9)
    ax.set_ylim(0, 1.0)
    ax.tick_params(labelsize=7)
for ax in axes[len(scales) :]:
    ax.set_visible(False)
fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=2, fontsize=8)
fig.supxlabel("epochs")
fig.supylabel("training accuracy")
fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=80)

print("final training accuracy")
for w, acc in finals.items():
    print(f"W={w:.4g}: normal {acc['normal'][-1]:.4f} batchnorm {acc['batchnorm'][-1]:.4f}")
