"""Book §6.4.3: Dropout against overfitting 300 images, trained by layerwise's Trainer.

    python examples/overfit_dropout.py                       # full MNIST if cached, else mnist-sample
    python examples/overfit_dropout.py --dropout-ratio 0     # the overfitting network alone
    python examples/overfit_dropout.py --data mnist-sample --epochs 50 --out dropout.png

The network of overfit_weight_decay.py, MultiLayerNetExtend(784, [100]*6, 10), here with a
Dropout layer (ratio 0.2, as in the book) after every hidden activation, trained by SGD
(lr 0.01) on the first 300 training images for 301 epochs. Dropout is active during training
only: the accuracies are measured in inference mode. Plots the training and test accuracy
after each epoch and prints the final ``train acc``, ``test acc`` and their ``gap``.
"""

import argparse

import numpy as np
from matplotlib.figure import Figure

from layerwise import MultiLayerNetExtend
from layerwise.files.fileio import atomic_path
from layerwise.optimizers import SGD
from layerwise.training.trainer import Trainer

from common import add_data_options, load_data, plot_accuracies

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
add_data_options(parser, train_size=300, test_size=True)
parser.add_argument("--epochs", type=int, default=301)
parser.add_argument("--batch-size", type=int, default=100)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--dropout-ratio", type=float, default=0.2, help="0: no Dropout layers")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--log-every", type=int, default=10, help="print the accuracies every N epochs")
parser.add_argument("--out", default="overfit_dropout.png")
args = parser.parse_args()

name, (x_train, t_train), (x_test, t_test) = load_data(args)

rng = np.random.default_rng(args.seed)
use_dropout = args.dropout_ratio > 0
network = MultiLayerNetExtend(784, [100] * 6, 10, use_dropout=use_dropout,
                              dropout_ration=args.dropout_ratio, rng=rng)
trainer = Trainer(network, SGD(lr=args.lr), x_train, t_train, x_test, t_test,
                  epochs=args.epochs, batch_size=args.batch_size, rng=rng,
                  progress=False, log_every=args.log_every)
history = trainer.fit()
train_acc_list = [r.train_acc for r in history]
test_acc_list = [r.test_acc for r in history]

fig = Figure(figsize=(7, 5))
ax = fig.subplots()
what = f"dropout {args.dropout_ratio:g}" if use_dropout else "no dropout"
plot_accuracies(ax, [r.epoch for r in history], train_acc_list, test_acc_list,
                f"MultiLayerNetExtend 784-100x6-10 on {len(x_train)} images of {name}, {what}")
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)

print(f"train acc: {train_acc_list[-1]:.4f}")
print(f"test acc: {test_acc_list[-1]:.4f}")
print(f"gap: {train_acc_list[-1] - test_acc_list[-1]:.4f}")
