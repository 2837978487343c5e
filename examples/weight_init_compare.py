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
from layerwise.datasets import load_mnist, resolve_auto
from layerwise.fileio import atomic_path
from layerwise.optimizers import SGD


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
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="weight_init_compare.png")
args = parser.parse_args()

name = args.data
if name == "auto":
    name, why = resolve_auto(try_download=False)
    print("data:", name, "-", why)
(x_train, t_train), _ = load_mnist(name, normalize=True)
x_train, t_train = x_train[: args.train_size], t_train[: args.train_size]
train_size = x_train.shape[0]
batch_size = min(args.batch_size, train_size)

# the book's weight_init_std values: a number, "sigmoid" (Xavier) and "relu" (He)
weight_init_types = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
networks = {key: MultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std=spec,
                               rng=np.random.default_rng(args.seed))
            for key, spec in weight_init_types.items()}
optimizers = {key: SGD(lr=args.lr) for key in weight_init_types}
train_loss = {key: [] for key in weight_init_types}

rng = np.random.default_rng(args.seed + 1)
iter_per_epoch = max(train_size // batch_size, 1)
for i in range(args.iters):
    j = i % iter_per_epoch
    if j == 0:
        order = rng.permutation(train_size)
    batch_mask = order[j * batch_size : (j + 1) * batch_size]
    x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]

    for key, network in networks.items():
        grads = network.gradient(x_batch, t_batch)
        optimizers[key].update(network.params, grads)
        train_loss[key].append(network.last_loss)

    if i % 100 == 0 or i + 1 == args.iters:
        print(f"iteration {i:>5}  " + "  ".join(f"{key} {train_loss[key][-1]:.4f}" for key in networks))

fig = Figure(figsize=(8, 5))
ax = fig.subplots()
markers = {"std=0.01": "o", "Xavier": "s", "He": "D"}
x = np.arange(args.iters)
for key in networks:
    ax.plot(x, smooth_curve(train_loss[key]), marker=markers[key], markevery=max(args.iters // 20, 1),
            label=key)
ax.set_xlabel("iterations")
ax.set_ylabel("loss")
ax.set_ylim(0, 2.5)
ax.set_title(f"MultiLayerNet 784-100x4-10 (ReLU), SGD lr={args.lr:g} on {name} (smoothed)")
ax.legend()
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

tail = max(args.iters // 10, 1)
print(f"loss of the first batch, mean loss of the last {tail} iterations")
for key in networks:
    print(f"{key}: {train_loss[key][0]:.4f} {np.mean(train_loss[key][-tail:]):.4f}")
