"""Book §7.5: train SimpleConvNet (conv - relu - pool - affine - relu - affine) on MNIST.

    python examples/train_convnet.py                         # full MNIST if cached, else mnist-sample
    python examples/train_convnet.py --data fashion-mnist --save convnet.safetensors

As the book: Adam (lr 0.001), batch 100, 20 epochs; test accuracy after every epoch, the curves
written to a PNG and the weights to a safetensors file (the book pickles them).
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.figure import Figure

from layerwise import SimpleConvNet
from layerwise.files.fileio import atomic_path
from layerwise.files.model_files import save_model
from layerwise.optimizers import Adam
from layerwise.training.trainer import Trainer

from common import add_data_options, load_data, plot_accuracies

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
add_data_options(parser, test_size=True)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--save", default="convnet.safetensors")
parser.add_argument("--out", default="train_convnet.png")
args = parser.parse_args()

_, (x_train, t_train), (x_test, t_test) = load_data(args, flatten=False)

rng = np.random.default_rng(args.seed)
network = SimpleConvNet(input_dim=(1, 28, 28),
                        conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                        hidden_size=100, output_size=10, weight_init_std=0.01, rng=rng)
# As the book's evaluate_sample_num_per_epoch=1000, the per-epoch train accuracy uses 1,000
# images; the test accuracy is always over the whole test set.
trainer = Trainer(network, Adam(lr=0.001), x_train, t_train, x_test, t_test,
                  epochs=args.epochs, batch_size=100, rng=rng, progress=False,
                  train_eval_samples=1000)
history = trainer.fit()

save_model(network, args.save)
print("Saved network parameters to", args.save)
print(f"final test accuracy: {history[-1].test_acc:.4f}")

fig = Figure(figsize=(6, 4))
ax = fig.add_subplot()
plot_accuracies(ax, [r.epoch for r in history], [r.train_acc for r in history],
                [r.test_acc for r in history])
with atomic_path(args.out) as tmp:
    fig.savefig(tmp, format="png", dpi=100)
print("wrote", args.out)
