"""Book §6.2.2–6.2.3: histograms of the activations of 5 layers for several initial weights.

    python examples/weight_init_activation_histogram.py --out hist.png

1000 random inputs (standard normal, 100 features) go through 5 layers of 100 units, each
``activation(x @ W)`` without biases, for sigmoid and ReLU and for each initial weight scale:
std=1 and std=0.01 (the book's first two figures), Xavier and He, drawn by the library's
initializers. One row of histograms per (activation, initializer), one column per layer
(ReLU's rows leave out its zeros).
Prints, for each row, the standard deviation of every layer's activations
(``activation/init: s1 s2 s3 s4 s5``): with std=1 sigmoid saturates at 0 and 1, with
std=0.01 every unit outputs nearly the same value, and ReLU with He keeps its spread.
"""

import argparse

import numpy as np
from matplotlib.figure import Figure

from layerwise import get_initializer, relu, sigmoid
from layerwise.files.fileio import atomic_path

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--samples", type=int, default=1000)
parser.add_argument("--nodes", type=int, default=100)
parser.add_argument("--layers", type=int, default=5)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="weight_init_activation_histogram.png")
args = parser.parse_args()

activations = {"sigmoid": sigmoid, "relu": relu}
inits = {"std=1": 1.0, "std=0.01": 0.01, "xavier": "xavier", "he": "he"}

rng = np.random.default_rng(args.seed)
input_data = rng.standard_normal((args.samples, args.nodes))

rows = {}
for act_name, activation in activations.items():
    for init_name, spec in inits.items():
        init = get_initializer(spec)
        x = input_data
        layers = []
        for _ in range(args.layers):
            w = init((args.nodes, args.nodes), rng, np.float64)
            x = activation(x @ w)
            layers.append(x)
        rows[f"{act_name}/{init_name}"] = layers

fig = Figure(figsize=(2.2 * args.layers, 1.7 * len(rows)))
axes = fig.subplots(len(rows), args.layers, squeeze=False)
for r, (row_name, layers) in enumerate(rows.items()):
    is_relu = row_name.startswith("relu")
    # sigmoid outputs lie in (0, 1); ReLU's in [0, inf), one scale per row so that the layers
    # compare, and without its zeros (half of them), which would dwarf the rest
    top = max(float(np.percentile(a, 99)) for a in layers) if is_relu else 1.0
    for i, a in enumerate(layers):
        ax = axes[r, i]
        values = a[a > 0] if is_relu else a.ravel()
        ax.hist(values, 30, range=(0.0, top if top > 0 else 1.0))
        ax.set_title(f"{row_name} {i + 1}-layer" + (" (> 0)" if is_relu else ""), fontsize=8)
        ax.tick_params(labelsize=6)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
        if i != 0:
            ax.set_yticks([])
fig.tight_layout()
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=70)

for row_name, layers in rows.items():
    print(f"{row_name}: " + " ".join(f"{np.std(a):.4g}" for a in layers))
