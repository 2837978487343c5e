"""Helpers shared by the example scripts, as the book keeps its own in ``common/util.py``.

The scripts import them with ``from common import ...``: Python puts a script's folder on
``sys.path`` when it runs ``python examples/name.py``.
"""

import numpy as np

from layerwise.datasets import load_mnist, resolve_auto


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


def add_data_options(parser, train_size=None, test_size=False):
    """Add ``--data`` and ``--train-size`` (default ``train_size``, None: all) to ``parser``;
    with ``test_size``, also ``--test-size`` (default: all)."""
    parser.add_argument("--data", default="auto", help="mnist, fashion-mnist, kmnist, mnist-sample or auto")
    parser.add_argument("--train-size", type=int, default=train_size,
                        help="use only the first N training images")
    if test_size:
        parser.add_argument("--test-size", type=int, default=None,
                            help="test on the first N test images (all)")


def load_data(args, flatten=True, one_hot_label=False):
    """Load the data set that ``add_data_options`` chose, normalized to [0, 1], cut to
    ``--train-size`` and ``--test-size``; return ``name, (x_train, t_train), (x_test, t_test)``.

    ``--data auto`` becomes full MNIST if it is cached and otherwise mnist-sample, never a
    download; the script prints which and why (``data: NAME - why``).
    """
    name = args.data
    if name == "auto":
        name, why = resolve_auto(try_download=False)
        print("data:", name, "-", why)
    (x_train, t_train), (x_test, t_test) = load_mnist(name, normalize=True, flatten=flatten,
                                                      one_hot_label=one_hot_label)
    train, test = slice(getattr(args, "train_size", None)), slice(getattr(args, "test_size", None))
    return name, (x_train[train], t_train[train]), (x_test[test], t_test[test])


def minibatches(x, t, batch_size, iters, rng):
    """Yield ``iters`` mini-batches ``(x_batch, t_batch)`` of ``batch_size``: contiguous slices
    of a fresh permutation (drawn from ``rng``) every epoch, so each image comes once per epoch
    (the book samples with replacement)."""
    train_size = x.shape[0]
    iter_per_epoch = max(train_size // batch_size, 1)
    for i in range(iters):
        j = i % iter_per_epoch
        if j == 0:
            order = rng.permutation(train_size)
        batch_mask = order[j * batch_size : (j + 1) * batch_size]
        yield x[batch_mask], t[batch_mask]


def plot_loss_curves(ax, losses, markers, iters):
    """Draw each ``losses[key]`` smoothed against the iteration, with ``markers[key]``, on
    ``ax`` (labels, legend); return the smoothed curves."""
    x = np.arange(iters)
    markevery = max(iters // 20, 1)
    curves = {key: smooth_curve(loss) for key, loss in losses.items()}
    for key, curve in curves.items():
        ax.plot(x, curve, marker=markers[key], markevery=markevery, label=key)
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    ax.legend()
    return curves


def plot_accuracies(ax, epochs, train_acc, test_acc, title=None):
    """Draw the training and test accuracy after each of ``epochs`` on ``ax`` (and ``title``)."""
    markevery = max(len(epochs) // 20, 1)
    ax.plot(epochs, train_acc, marker="o", label="train", markevery=markevery)
    ax.plot(epochs, test_acc, marker="s", label="test", markevery=markevery)
    ax.set_xlabel("epochs")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.0)
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right")
