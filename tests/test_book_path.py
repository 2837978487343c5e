"""Issue 30: the book's API runs the book's code by default.

After ``import layerwise`` the engine is off: ``gradient`` runs the code in ``layers/`` and
``networks/``, in the order ``net.layers`` lists, on the whole batch, in one thread, filling
the book's caches; an edit to any line of a reference method changes the result; a trainer
turns the engine on for its own run and gives the previous setting back."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import layerwise as lw
from layerwise import fast

PACKAGE = Path(lw.__file__).resolve().parent


def test_the_engine_is_off_after_import_layerwise() -> None:
    code = "import layerwise, layerwise.fast as f; print(bool(f.enabled()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_a_default_gradient_on_a_conv_net_fills_the_books_caches_for_the_whole_batch() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((100, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, 100)
    net = lw.SimpleConvNet(rng=0)
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    net.gradient(x, t)
    conv, pool, relu = net.layers["Conv1"], net.layers["Pool1"], net.layers["Relu1"]
    assert conv.x.shape[0] == 100
    assert conv.col is not None and conv.col.shape == (100 * 24 * 24, 25)
    assert conv.col_W is not None and conv.col_W.shape == (25, 30)
    assert pool.arg_max is not None and pool.arg_max.shape == (100 * 30 * 12 * 12,)
    assert relu.mask is not None and relu.mask.shape == (100, 30, 24, 24)
    assert net.layers["Affine1"].x.shape == (100, 30 * 12 * 12)


def test_deep_conv_net_lists_the_books_layers() -> None:
    names = list(lw.DeepConvNet(rng=0).layers)
    assert "Relu1" in names and "Pool1" in names and not any("+" in n for n in names)


def test_a_default_gradient_runs_in_one_thread() -> None:
    import threading

    seen: set[int] = set()
    net = lw.SimpleConvNet(rng=0)
    conv = net.layers["Conv1"]
    original = type(conv).forward

    def spy(self, x):  # type: ignore[no-untyped-def]
        seen.add(threading.get_ident())
        return original(self, x)

    x = np.random.default_rng(1).random((100, 1, 28, 28), dtype=np.float32)
    try:
        type(conv).forward = spy  # type: ignore[method-assign]
        net.gradient(x, np.arange(100) % 10)
    finally:
        type(conv).forward = original  # type: ignore[method-assign]
    assert seen == {threading.get_ident()}


def test_a_trainer_turns_the_engine_on_for_its_run_and_gives_the_setting_back() -> None:
    from layerwise.training.trainer import Trainer

    rng = np.random.default_rng(0)
    x, t = rng.random((40, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 40)
    net = lw.SimpleConvNet(rng=0)
    seen = []

    class Spy(lw.SGD):
        def update(self, params, grads):  # type: ignore[no-untyped-def]
            seen.append((bool(fast.enabled()), list(net.layers)))
            super().update(params, grads)

    trainer = Trainer(net, Spy(lr=0.01), x, t, epochs=1, batch_size=20, progress=False, log=None)
    trainer.fit()
    assert not fast.enabled()
    assert seen and all(on for on, _ in seen)
    assert "Relu1+Pool1" in seen[0][1]  # the visible rewrite, for the run
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert trainer.history[0].engine is not None and "on" in trainer.history[0].engine
    seen.clear()
    Trainer(net, Spy(lr=0.01), x, t, epochs=1, batch_size=20, progress=False, log=None, fast=False).fit()
    assert seen and not any(on for on, _ in seen) and "Relu1" in seen[0][1]


def test_a_trainer_with_fast_false_runs_the_books_code_even_with_the_engine_on() -> None:
    from layerwise.training.trainer import Trainer

    rng = np.random.default_rng(0)
    x, t = rng.random((20, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 20)
    net = lw.SimpleConvNet(rng=0)
    with fast.enabled():
        Trainer(net, lw.SGD(lr=0.01), x, t, epochs=1, batch_size=20, progress=False, log=None, fast=False).fit()
        assert fast.enabled()
    assert net.layers["Conv1"].col is not None


# -- an edit to the textbook changes the result -----------------------------------------------------------
def _last_statement_line(source: str, cls: str, method: str) -> int:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    return item.body[-1].lineno
    raise AssertionError(f"{cls}.{method} not found")


EDITS = [
    ("layers/convolution.py", "Convolution", "forward"),
    ("layers/convolution.py", "Convolution", "_backward"),
    ("layers/pooling.py", "Pooling", "forward"),
    ("layers/pooling.py", "Pooling", "backward"),
    ("layers/affine.py", "Affine", "forward"),
    ("layers/affine.py", "Affine", "_backward"),
    ("layers/activation.py", "Relu", "forward"),
    ("layers/activation.py", "Relu", "backward"),
    ("layers/activation.py", "Sigmoid", "forward"),
    ("layers/activation.py", "Sigmoid", "backward"),
    ("layers/loss.py", "SoftmaxWithLoss", "forward"),
    ("layers/loss.py", "SoftmaxWithLoss", "backward"),
    ("layers/normalization.py", "BatchNormalization", "forward"),
    ("layers/normalization.py", "BatchNormalization", "backward"),
    ("layers/dropout.py", "Dropout", "forward"),
    ("layers/dropout.py", "Dropout", "backward"),
    *(("optimizers.py", rule, "update_one") for rule in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")),
]

RUN = textwrap.dedent("""
    import sys
    import numpy as np
    import layerwise as lw
    from layerwise import fast

    rng = np.random.default_rng(0)
    which, engine = sys.argv[1], sys.argv[2] == "on"
    if engine:
        fast.enable()
    x = rng.random((8, 1, 12, 12), dtype=np.float32)
    t = np.arange(8) % 10
    conv = lw.SimpleConvNet(input_dim=(1, 12, 12), conv_param={"filter_num": 4, "filter_size": 3, "pad": 0,
                            "stride": 1}, hidden_size=6, rng=0)
    mlp = lw.MultiLayerNetExtend(144, [6], 10, activation="sigmoid", use_batchnorm=True,
                                 use_dropout=True, rng=0)
    for net in (conv, mlp):
        net.gradient(x if net is conv else x.reshape(8, -1), t)
    for name in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"):
        getattr(lw, name)(lr=0.01).update(mlp.params, mlp.grads)
    print("not reached")
""")


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("copy")
    shutil.copytree(PACKAGE, root / "layerwise", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("engine", ["off", "on"])
@pytest.mark.parametrize(("path", "cls", "method"), EDITS, ids=[f"{c}.{m}" for _, c, m in EDITS])
def test_a_raise_put_into_a_reference_method_is_reached(package_copy: Path, path: str, cls: str, method: str,
                                                        engine: str) -> None:
    """Edited code runs, engine or not: the engine's kernels step aside for an edited method."""
    target = package_copy / "layerwise" / path
    original = target.read_text()
    lines = original.splitlines(keepends=True)
    n = _last_statement_line(original, cls, method)
    indent = lines[n - 1][: len(lines[n - 1]) - len(lines[n - 1].lstrip())]
    lines.insert(n - 1, f"{indent}raise RuntimeError('edited {cls}.{method}')\n")
    try:
        target.write_text("".join(lines))
        env = dict(os.environ, PYTHONPATH=str(package_copy))
        done = subprocess.run([sys.executable, "-c", RUN, path, engine], capture_output=True, text=True,
                              env=env, timeout=300)
    finally:
        target.write_text(original)
    assert f"edited {cls}.{method}" in done.stderr, done.stdout + done.stderr[-2000:]


def test_the_engines_record_of_the_reference_code_is_current() -> None:
    """A reference method changed on purpose (with its kernel) updates the digests, so that
    the engine does not step aside for the library's own code."""
    script = PACKAGE.parents[1] / "scripts" / "engine_digests.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, "src/layerwise/fast/reference.py is stale: run scripts/engine_digests.py"
    from layerwise.fast.reference import DIGESTS
    from layerwise.fast.switch import is_reference
    from layerwise.layers import Convolution

    assert len(DIGESTS) == 13
    assert is_reference(Convolution.forward)
