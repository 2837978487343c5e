"""Page 2: a digit drawn or picked, what the network makes of it, and its backward trace.

The model is the one given with ``--model``, or a small :class:`~layerwise.SimpleConvNet`
trained on the bundled ``mnist-sample`` when the server starts (about a second; the page shows
the progress meanwhile). :meth:`DigitModel.analyse` runs one image through it: the 28×28 input
as the network sees it, the class probabilities, every layer's output, and the trace of
:mod:`~layerwise.playground.tracing` for a chosen label, down to ∂L/∂x.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import DataError
from layerwise.fast import training
from layerwise.functions import softmax
from layerwise.networks.sequential import Sequential
from layerwise.playground import tracing
from layerwise.playground.preprocess import SIZE, center_like_mnist
from layerwise.playground.validation import BadRequest, describe, finite_float, get_int

__all__ = ["DigitModel", "sample_data", "check_digit_network", "default_network", "parse_image",
           "N_CLASSES", "MAX_SIDE", "MIN_SIDE"]

N_CLASSES = 10
#: The side lengths a drawn image may have (the page sends 112×112).
MIN_SIDE, MAX_SIDE = 8, 280
#: Arrays up to this many numbers are sent whole; larger ones as feature maps or not at all.
MAX_VALUES = 1024
#: At most this many feature maps of a layer are sent.
MAX_MAPS = 16
#: How many test images the page offers to pick from.
N_SAMPLES = 40

Split = tuple[NDArray[Any], NDArray[Any]]


@functools.lru_cache(maxsize=1)
def sample_data() -> tuple[Split, Split]:
    """The bundled ``mnist-sample`` as (N, 1, 28, 28) float32 in [0, 1] and int labels."""
    from layerwise.datasets import load_mnist

    return load_mnist("mnist-sample", flatten=False, progress=False)


def check_digit_network(net: Sequential, where: str) -> None:
    """:class:`DataError` unless ``net`` maps one (1, 28, 28) image to 10 scores."""
    try:
        out = np.asarray(net.eval().predict(np.zeros((1, 1, SIZE, SIZE), dtype=net.dtype)))
    except (ValueError, TypeError) as exc:  # ShapeError and kin: it takes other inputs
        raise DataError(f"{where}: the network does not take 28×28 images ({exc})") from None
    if out.shape != (1, N_CLASSES):
        raise DataError(f"{where}: the network gives scores of shape {out.shape[1:]} per image, "
                        f"expected ({N_CLASSES},), one per digit")


#: The small conv net trained at start, as the page states it (it words the sentence itself).
DEFAULT_NETWORK: dict[str, Any] = {"network": "SimpleConvNet", "filters": 8, "filter_size": 5, "hidden": 64}


def default_network() -> Sequential:
    """The small conv net trained at start: 8 filters of 5×5, 64 hidden units."""
    from layerwise.networks import SimpleConvNet

    return SimpleConvNet(conv_param={"filter_num": DEFAULT_NETWORK["filters"],
                                     "filter_size": DEFAULT_NETWORK["filter_size"], "pad": 0, "stride": 1},
                         hidden_size=DEFAULT_NETWORK["hidden"], weight_init_std="he", rng=0)


def _floats(a: NDArray[Any]) -> list[float]:
    return [float(v) for v in np.round(np.asarray(a, dtype=np.float64).ravel(), 6)]


def summary(a: Any, max_maps: int = MAX_MAPS) -> dict[str, Any]:
    """An array for the page: shape, norm, largest magnitude, and its numbers when small
    (``values``) or its first feature maps when it is a batch of images (``maps``)."""
    arr = np.asarray(a, dtype=np.float64)
    out: dict[str, Any] = {"shape": list(arr.shape), "norm": float(np.linalg.norm(arr)),
                           "absmax": float(np.max(np.abs(arr))) if arr.size else 0.0}
    if arr.ndim == 4 and arr.shape[0] == 1:
        out["maps"] = [_floats(m) for m in arr[0, :max_maps]]
        out["map_shape"] = list(arr.shape[2:])
        out["channels"] = int(arr.shape[1])
    elif arr.size <= MAX_VALUES:
        out["values"] = _floats(arr)
    return out


def parse_image(data: dict[str, Any]) -> NDArray[np.float64]:
    """The drawn image of a request, ``{"width": W, "height": H, "pixels": [H·W numbers]}``,
    row by row, ink 1 and paper 0, as a (H, W) array; :class:`BadRequest` for anything else."""
    width = get_int(data, "width", MIN_SIDE, MAX_SIDE)
    height = get_int(data, "height", MIN_SIDE, MAX_SIDE)
    pixels = data.get("pixels")
    if not isinstance(pixels, list):
        raise BadRequest("pixels: expected a list of numbers, row by row")
    if len(pixels) != width * height:
        raise BadRequest(f"pixels: expected {width}×{height} = {width * height} numbers, got {len(pixels)}",
                         422)
    values = []
    for i, v in enumerate(pixels):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadRequest(f"pixels[{i}]: expected a number, got {type(v).__name__}")
        number = finite_float(v)  # a 400-digit integer is valid JSON, and no float
        if number is None or not 0.0 <= number <= 1.0:
            shown = f"{float(v):g}" if isinstance(v, float) else describe(v)
            raise BadRequest(f"pixels[{i}]: expected a number in 0..1, got {shown}", 422)
        values.append(number)
    return np.array(values, dtype=np.float64).reshape(height, width)


class DigitModel:
    """The network of page 2, trained in a background thread when none is given."""

    def __init__(self, network: Sequential | None = None, description: str = "",
                 train_epochs: int = 3) -> None:
        self._net = network
        self._lock = threading.Lock()
        self.description = description
        self.train_epochs = train_epochs
        self.state = "ready" if network is not None else "waiting"
        self.progress = 1.0 if network is not None else 0.0
        self.message = ""
        self.trained: dict[str, Any] | None = None  # the facts of the network trained here
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the model ------------------------------------------------------------------------
    def start(self) -> None:
        """Train the default network in the background, unless one was given."""
        if self._net is not None or self._thread is not None:
            return
        self.state = "training"
        self._thread = threading.Thread(target=self._train, name="playground-digit-model", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait(self, timeout: float = 60.0) -> Sequential:
        """The network, once ready (for tests and the benchmark)."""
        deadline = time.monotonic() + timeout
        while self.state != "ready":
            if self.state == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"the digit model is {self.state}: {self.message}")
            time.sleep(0.05)
        assert self._net is not None
        return self._net

    @property
    def network(self) -> Sequential | None:
        return self._net if self.state == "ready" else None

    def _train(self) -> None:
        from layerwise.optimizers import Adam

        try:
            (x, t), (x_test, t_test) = sample_data()
            net = default_network()
            opt = Adam(lr=0.002)
            rng = np.random.default_rng(0)
            batch = 100
            steps = self.train_epochs * len(range(0, len(x), batch))
            done = 0
            for _ in range(self.train_epochs):
                perm = rng.permutation(len(x))
                for lo in range(0, len(x), batch):
                    if self._stop.is_set():
                        return
                    idx = perm[lo : lo + batch]
                    _, grads = training.loss_and_gradient(net, x[idx], t[idx])  # the engine, if on
                    opt.update(net.params, grads)
                    done += 1
                    self.progress = done / steps
            acc = net.accuracy(x_test, t_test)
            net.eval()
            self.trained = {**DEFAULT_NETWORK, "epochs": self.train_epochs, "test_accuracy": float(acc)}
            m = DEFAULT_NETWORK
            size = m["filter_size"]
            self.description = (f"{m['network']} ({m['filters']} filters {size}×{size}, "
                                f"{m['hidden']} hidden) trained here on mnist-sample for {self.train_epochs} "
                                f"epochs: test accuracy {acc:.1%}")
            self._net = net
            self.state = "ready"
        except Exception as exc:  # shown on the page; the other pages still work
            self.message = f"{type(exc).__name__}: {exc}"
            self.state = "failed"

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "progress": self.progress, "description": self.description,
                "message": self.message, "trace": "layerwise.trace", "trained": self.trained}

    # -- test images ----------------------------------------------------------------------
    @staticmethod
    def samples(count: int = N_SAMPLES) -> list[dict[str, Any]]:
        """The first ``count`` test images of mnist-sample, as base64 bytes (0..255) and labels."""
        _, (x_test, t_test) = sample_data()
        out = []
        for i in range(min(count, len(x_test))):
            raw = np.round(x_test[i, 0] * 255).astype(np.uint8).tobytes()
            out.append({"index": i, "label": int(t_test[i]), "pixels": base64.b64encode(raw).decode("ascii")})
        return out

    # -- one image --------------------------------------------------------------------------
    def analyse(self, image: NDArray[Any], label: int | None, *, centre: bool = True) -> dict[str, Any]:
        """What the page shows for one image (H, W) in [0, 1]: input, probabilities, layers,
        trace for ``label`` (the prediction if ``None``)."""
        net = self.network
        if net is None:
            raise BadRequest(f"the model is not ready yet ({self.state}, {self.progress:.0%})", 409)
        if centre:
            x28 = center_like_mnist(image)
            if x28 is None:
                raise BadRequest("the image is blank: draw a digit first", 422)
        else:
            x28 = np.asarray(image, dtype=np.float32)
        x = x28.reshape(1, 1, SIZE, SIZE).astype(net.dtype)
        with self._lock:  # the layers keep their forward inputs: one image at a time
            net.eval()
            scores = np.asarray(net.predict(x), dtype=np.float64)
            probs = softmax(scores)[0]
            prediction = int(np.argmax(probs))
            target = prediction if label is None else label
            started = time.perf_counter()
            tr = tracing.trace(net, x, np.array([target]))
            svg = tracing.figure(tr)
            trace_ms = (time.perf_counter() - started) * 1000
        steps = tr.steps
        layers = [{"name": s.name, "kind": s.kind, "out": summary(s.out)} for s in steps[:-1]]
        trace_steps = [{
            "name": s.name, "kind": s.kind,
            "x_shape": list(np.shape(s.x)), "out_shape": list(np.shape(s.out)),
            "dout": summary(s.dout, max_maps=8), "dx": summary(s.dx, max_maps=8),
            "grads": {k: {"shape": list(np.shape(v)), "norm": float(np.linalg.norm(v))}
                      for k, v in s.grads.items()},
        } for s in steps]
        input_grad = np.asarray(steps[0].dx, dtype=np.float64).reshape(SIZE, SIZE)
        return {
            "input": _floats(x28), "probs": [float(p) for p in probs], "prediction": prediction,
            "label": target, "layers": layers,
            "trace": {"loss": float(tr.loss), "steps": trace_steps, "input_grad": _floats(input_grad),
                      "svg": svg, "source": "layerwise.trace",
                      "ms": trace_ms},
        }

    def analyse_sample(self, index: int, label: int | None) -> dict[str, Any]:
        _, (x_test, t_test) = sample_data()
        if not 0 <= index < len(x_test):
            raise BadRequest(f"sample: expected an index in 0..{len(x_test) - 1}, got {index}", 422)
        result = self.analyse(x_test[index, 0], label, centre=False)
        result["sample"] = {"index": index, "label": int(t_test[index])}
        return result
