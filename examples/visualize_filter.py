"""Book §7.6.1: the first convolution layer's filters, before and after training.

    python examples/train_convnet.py --save convnet.safetensors
    python examples/visualize_filter.py convnet.safetensors

Draws the 30 filters (5x5) of a freshly initialised SimpleConvNet and of the trained one as
grey images in a PNG: the trained filters show edge and blob detectors, the initial ones noise.
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.figure import Figure

from layerwise import SimpleConvNet
from layerwise.files.fileio import atomic_path
from layerwise.files.model_files import load_model

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", help="a SimpleConvNet saved by train_convnet.py")
parser.add_argument("--out", default="filters.png")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

trained = load_model(args.model)
if not isinstance(trained, SimpleConvNet):
    parser.error(f"{args.model} holds a {type(trained).__name__}, not a SimpleConvNet")
initial = SimpleConvNet(input_dim=trained.input_dim, rng=np.random.default_rng(args.seed))

rows = [("random init", initial.params["W1"]), ("trained", trained.params["W1"])]
n_filters = rows[0][1].shape[0]
cols = 10
per_row = -(-n_filters // cols)
fig = Figure(figsize=(cols, 2 * per_row + 1))
for block, (title, W) in enumerate(rows):
    for i in range(n_filters):
        ax = fig.add_subplot(2 * per_row, cols, block * per_row * cols + i + 1, xticks=[], yticks=[])
        ax.imshow(W[i, 0], cmap="gray_r", interpolation="nearest")
        if i == 0:
            ax.set_title(title, loc="left", fontsize=9)
    w = W[:, 0]
    print(f"{title}: {n_filters} filters of {w.shape[1]}x{w.shape[2]}, std {w.std():.4f}")
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=80)
print("wrote", args.out)
