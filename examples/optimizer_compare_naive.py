"""Book §6.1.7: the optimizers' paths on f(x, y) = x**2 / 20 + y**2, from (-7, 2).

    python examples/optimizer_compare_naive.py --out paths.png

The book's learning rates (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3), plus Nesterov at
Momentum's and RMSprop at 0.1. The point is a dict of one-element arrays, updated in place by
each optimizer's ``update(params, grads)``, as a network's weights are. Writes the paths over
the contour lines of f to a PNG and prints each optimizer's final point (``name: x y``).
"""

import argparse

import numpy as np
from matplotlib.figure import Figure

from layerwise.files.fileio import atomic_path
from layerwise.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


def f(x, y):
    return x**2 / 20.0 + y**2


def df(x, y):
    return x / 10.0, 2.0 * y


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--out", default="optimizer_compare_naive.png")
args = parser.parse_args()

init_pos = (-7.0, 2.0)
optimizers = {
    "SGD": SGD(lr=0.95),
    "Momentum": Momentum(lr=0.1),
    "Nesterov": Nesterov(lr=0.1),
    "AdaGrad": AdaGrad(lr=1.5),
    "RMSprop": RMSprop(lr=0.1),
    "Adam": Adam(lr=0.3),
}

x = np.arange(-10, 10, 0.01)
y = np.arange(-5, 5, 0.01)
X, Y = np.meshgrid(x, y)
Z = f(X, Y)
Z[Z > 7] = 0  # as the book: only the contours near the minimum

fig = Figure(figsize=(12, 7))
axes = fig.subplots(2, 3).ravel()
finals = {}
for ax, (key, optimizer) in zip(axes, optimizers.items(), strict=True):
    params = {"x": np.array([init_pos[0]]), "y": np.array([init_pos[1]])}
    history = [init_pos]
    for _ in range(args.steps):
        gx, gy = df(params["x"], params["y"])
        optimizer.update(params, {"x": gx, "y": gy})
        history.append((params["x"].item(), params["y"].item()))
    finals[key] = history[-1]

    xs, ys = zip(*history, strict=True)
    ax.plot(xs, ys, "o-", color="red", markersize=3)
    ax.contour(X, Y, Z)
    ax.plot(0, 0, "+", color="black")
    ax.set_xlim(-10, 10)
    ax.set_ylim(-10, 10)
    ax.set_title(f"{key} (lr={optimizer.lr:g})")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
fig.tight_layout()
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=80)

for key, (px, py) in finals.items():
    print(f"{key}: {px:.6g} {py:.6g}")
