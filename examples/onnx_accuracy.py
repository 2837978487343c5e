"""A model's test accuracy in onnxruntime, next to layerwise's own (``layerwise evaluate``).

    layerwise train --data fashion-mnist --save fm.safetensors
    layerwise export fm.safetensors -o fm.onnx
    python examples/onnx_accuracy.py fm.safetensors --onnx fm.onnx

Without ``--onnx`` the model is exported in memory. The whole test set of the data the model
was trained on (or ``--data``) goes through both; the script prints both accuracies, how many
predictions differ, and the largest difference between the two sets of probabilities.
Needs ``pip install 'layerwise[onnx]'``.
"""

import argparse
import math

import numpy as np
import onnx
import onnxruntime as ort

from layerwise.datasets import load_split
from layerwise.files.export import to_onnx
from layerwise.files.model_files import load_model_and_metadata

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", help="a model file written by `layerwise train --save`")
parser.add_argument("--onnx", default=None, help="an exported ONNX file of that model (default: export now)")
parser.add_argument("--data", default=None,
                    help="mnist, fashion-mnist, kmnist or mnist-sample (default: the model's own)")
parser.add_argument("--batch-size", type=int, default=1000)
args = parser.parse_args()

net, metadata = load_model_and_metadata(args.model)
data = args.data or metadata.get("data") or "fashion-mnist"
x_test, t_test = load_split(data, "test", normalize=True, flatten=False, one_hot_label=False)
net.eval()

if args.onnx is None:
    model = to_onnx(net)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
else:
    model = onnx.load_model(args.onnx)
    session = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
onnx.checker.check_model(model, full_check=True)
# the model's input is (N, 784) for the MLPs, (N, 1, 28, 28) for the conv nets
sample_shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
if math.prod(sample_shape) != math.prod(x_test.shape[1:]):
    parser.error(f"the ONNX model takes samples of shape {sample_shape}, the data {x_test.shape[1:]}")
output = "probabilities" if "probabilities" in [o.name for o in session.get_outputs()] else "scores"

ours, theirs, worst = [], [], 0.0
for i in range(0, len(x_test), args.batch_size):
    x = x_test[i : i + args.batch_size]
    (runtime,) = session.run([output], {"x": x.reshape(len(x), *sample_shape)})
    scores = net.predict(x)
    if output == "probabilities":
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores = shifted / shifted.sum(axis=1, keepdims=True)
    worst = max(worst, float(np.max(np.abs(runtime - scores))))
    ours.append(np.argmax(scores, axis=1))
    theirs.append(np.argmax(runtime, axis=1))
ours_all, theirs_all = np.concatenate(ours), np.concatenate(theirs)
n = len(t_test)
for label, pred in (("layerwise", ours_all), ("onnxruntime", theirs_all)):
    correct = int(np.sum(pred == t_test))
    print(f"{label} accuracy: {correct / n:.4f} ({correct}/{n})")
print(f"data: {data} test set, {n} images; onnxruntime {ort.__version__}, opset "
      f"{model.opset_import[0].version}, IR version {model.ir_version}")
print(f"predictions that differ: {int(np.sum(ours_all != theirs_all))}")
print(f"largest |{output} difference|: {worst:.2e}")
