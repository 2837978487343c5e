"""Run the probes on a learner's file or objects, each class in a process of its own.

A learner's code may loop forever, exhaust the stack or call ``sys.exit``: each class is checked
in a forked child that sends its result back through a pipe, and a child that is still running
after ``timeout`` seconds is killed and reported as ``timeout``. The learner's file is imported
in the child too (it is their own code, run as ``python FILE.py`` would run it, except that
``__name__`` is not ``"__main__"``), so nothing it does at import time reaches this process.
Where ``fork`` is not available (Windows, macOS's default), the probes run in this process,
without the time limit.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import traceback
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from layerwise.errors import ConfigError
from layerwise.workbench.probes import BOOK_NAMES, Finding, probe_class
from layerwise.workbench.report import CheckResult, ClassResult

__all__ = ["ClassResult", "CheckResult", "check_file", "check_objects", "load_source", "DEFAULT_TIMEOUT"]

#: Seconds each class's probes may take.
DEFAULT_TIMEOUT = 10.0


def load_source(path: Path) -> None:
    """Refuse, before anything runs, a file that is missing or does not parse (a
    :class:`~layerwise.errors.ConfigError` naming its line)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (expected a Python file of your layers)")
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # null bytes
        raise ConfigError(f"{path}: not a Python source file ({exc})") from None


def _import_learner_file(path: Path) -> types.ModuleType:
    name = "learner_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # their file may import a helper beside it, as `python FILE.py`
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _names(aliases: Mapping[str, str] | None) -> dict[str, str]:
    chosen = {name: name for name in BOOK_NAMES}
    for book_name, theirs in (aliases or {}).items():
        if book_name not in chosen:
            raise ConfigError(
                f"--as {book_name}={theirs}: expected one of the book's names {list(BOOK_NAMES)}"
            )
        chosen[book_name] = theirs
    return chosen


def _classes_of(namespace: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, type]:
    return {
        book: namespace[theirs] for book, theirs in names.items() if isinstance(namespace.get(theirs), type)
    }


# -- one class in a child process ----------------------------------------------------------------------
def _child(
    conn: Any,
    source: Path | None,
    classes: Mapping[str, type] | None,
    book_name: str,
    theirs: str,
    learner_file: str | None,
) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # their prints would mix with the report
    try:
        if source is not None:
            try:
                module = _import_learner_file(source)
            except NotImplementedError:
                conn.send(("not-started", [Finding("not-started")]))
                return
            except BaseException as exc:  # their import-time code
                conn.send(("fail", [Finding("raised", where=_where(exc, learner_file))]))
                return
            cls = getattr(module, theirs)
        else:
            assert classes is not None
            cls = classes[book_name]
        conn.send(probe_class(book_name, cls, learner_file))
    except BaseException as exc:  # SystemExit from their code, or a bug in a probe
        conn.send(("fail", [Finding("raised", where=_where(exc, learner_file))]))
    finally:
        conn.close()


def _where(exc: BaseException, learner_file: str | None) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [
        f for f in frames if learner_file and os.path.abspath(f.filename) == os.path.abspath(learner_file)
    ]
    frame = theirs[-1] if theirs else (frames[-1] if frames else None)
    head = f"{type(exc).__name__}: {exc}".strip()
    return head if frame is None else f"{frame.filename}:{frame.lineno}: {head}"


def _run_one(
    source: Path | None,
    classes: Mapping[str, type] | None,
    book_name: str,
    theirs: str,
    learner_file: str | None,
    timeout: float,
) -> tuple[str, list[Finding]]:
    if "fork" not in multiprocessing.get_all_start_methods():
        assert classes is not None or source is not None
        cls = classes[book_name] if classes is not None else getattr(_import_learner_file(source), theirs)  # type: ignore[arg-type]
        return probe_class(book_name, cls, learner_file)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(send, source, classes, book_name, theirs, learner_file), daemon=True
    )
    proc.start()
    send.close()
    try:
        if receive.poll(timeout):
            try:
                result: tuple[str, list[Finding]] = receive.recv()
                return result
            except EOFError:
                return "fail", [
                    Finding(
                        "raised",
                        where=f"the check of {theirs} ended without a result (exit code {proc.exitcode})",
                    )
                ]
        return "fail", [Finding("timeout", where=f"more than {timeout:g} s")]
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receive.close()


def check_file(
    path: str | os.PathLike[str],
    *,
    aliases: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    lang: str = "en",
    train: bool = False,
) -> CheckResult:
    """Check the book's chapter-5 classes defined in the learner's file ``path``."""
    source = Path(path)
    load_source(source)
    names = _names(aliases)
    found = _classes_in_file(source, names, timeout)
    if not found:
        listed = ", ".join(names.values())
        raise ConfigError(
            f"{source}: no class of the book's names found (looked for {listed}; "
            "use --as Affine=MyAffine for others)"
        )
    learner_file = str(source.resolve())
    results = []
    for book_name, theirs in names.items():
        if theirs not in found:
            results.append(ClassResult(book_name, "missing"))
            continue
        status, findings = _run_one(source, None, book_name, theirs, learner_file, timeout)
        results.append(ClassResult(book_name, status, findings, theirs))
    result = CheckResult(str(path), results, lang=lang)
    if train:
        result.train = train_yours(result, source, None, names)
    return result


def _classes_in_file(source: Path, names: Mapping[str, str], timeout: float) -> set[str]:
    """The names of ``names``'s values that the file defines as classes (imported in a child)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        module = _import_learner_file(source)
        return set(_classes_of(vars(module), names).values())  # type: ignore[arg-type]
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def list_classes(conn: Any) -> None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        try:
            module = _import_learner_file(source)
            conn.send(sorted(n for n in names.values() if isinstance(getattr(module, n, None), type)))
        except BaseException as exc:
            conn.send(("error", _where(exc, str(source.resolve()))))
        finally:
            conn.close()

    proc = ctx.Process(target=list_classes, args=(send,), daemon=True)
    proc.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise ConfigError(
                f"{source}: importing it took more than {timeout:g} s (code at the top level "
                'of the file runs on import: put experiments under if __name__ == "__main__":)'
            )
        try:
            got = receive.recv()
        except EOFError:
            raise ConfigError(
                f"{source}: importing it ended the process (exit code {proc.exitcode})"
            ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receive.close()
    if isinstance(got, tuple):
        raise ConfigError(f"{source}: importing it raised {got[1]}")
    return set(got)


def check_objects(
    namespace: Any,
    *,
    aliases: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    lang: str = "en",
    train: bool = False,
) -> CheckResult:
    """Check classes given as objects: a module, a dict of names (``globals()`` in Jupyter), one
    class (checked as the book class of its name, or of ``aliases``), or a list of classes."""
    if isinstance(namespace, type):
        mapping: dict[str, Any] = {namespace.__name__: namespace}
    elif isinstance(namespace, (list, tuple)):
        mapping = {c.__name__: c for c in namespace if isinstance(c, type)}
    elif isinstance(namespace, types.ModuleType):
        mapping = dict(vars(namespace))
    elif isinstance(namespace, Mapping):
        mapping = dict(namespace)
    else:
        raise ConfigError(
            f"check: expected a class, a list of classes, a module or a dict, got {type(namespace).__name__}"
        )
    names = _names(aliases)
    classes = _classes_of(mapping, names)
    if not classes:
        raise ConfigError(
            f"check: no class of the book's names found (looked for {', '.join(names.values())})"
        )
    results = []
    for book_name, theirs in names.items():
        if book_name not in classes:
            results.append(ClassResult(book_name, "missing"))
            continue
        cls = classes[book_name]
        learner_file = _file_of(cls)
        status, findings = _run_one(None, classes, book_name, theirs, learner_file, timeout)
        results.append(ClassResult(book_name, status, findings, theirs))
    origin = getattr(namespace, "__file__", None) or "<objects>"
    result = CheckResult(str(origin), results, lang=lang)
    if train:
        result.train = train_yours(result, None, classes, names)
    return result


def _file_of(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    return getattr(module, "__file__", None)


# -- your layers, learning ------------------------------------------------------------------------------
#: The book's settings for TwoLayerNet (§5.7.4): SGD at 0.1, batches of 100, weights N(0, 0.01²),
#: and about as many passes over the bundled sample as the book's 10,000 iterations make over MNIST.
TRAIN_EPOCHS = 17
TRAIN_TIMEOUT = 300.0
_TRAIN_CLASSES = ("Affine", "Relu", "SoftmaxWithLoss")


def _train(classes: Mapping[str, type], epochs: int) -> dict[str, Any]:
    import time

    from layerwise.datasets import load_mnist
    from layerwise.networks import TwoLayerNet
    from layerwise.optimizers import SGD
    from layerwise.training.trainer import Trainer
    from layerwise.workbench.adapter import your_two_layer_net

    (x, t), (x_test, t_test) = load_mnist("mnist-sample")
    accuracy = {}
    started = time.perf_counter()
    theirs = your_two_layer_net(classes["Affine"], classes["Relu"], classes["SoftmaxWithLoss"])
    for who, net in (("yours", theirs), ("reference", TwoLayerNet(784, 50, 10, rng=0))):
        Trainer(net, SGD(lr=0.1), x, t, x_test, t_test, epochs=epochs, batch_size=100, rng=0,
                progress=False, log=None).fit()
        accuracy[who] = float(net.accuracy(x_test, t_test))
        if who == "yours":
            seconds = time.perf_counter() - started
    return {"data": "mnist-sample", "epochs": epochs, "test_accuracy": accuracy["yours"],
            "reference_accuracy": accuracy["reference"], "seconds": round(seconds, 2)}


def _train_child(conn: Any, source: Path | None, classes: Mapping[str, type] | None, names: Mapping[str, str],
                 epochs: int) -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    try:
        if source is not None:
            module = _import_learner_file(source)
            classes = {book: getattr(module, names[book]) for book in _TRAIN_CLASSES}
        assert classes is not None
        conn.send(_train(classes, epochs))
    except BaseException as exc:
        conn.send({"skipped": f"training raised {_where(exc, str(source.resolve()) if source else None)}"})
    finally:
        conn.close()


def train_yours(result: CheckResult, source: Path | None, classes: Mapping[str, type] | None,
                names: Mapping[str, str], epochs: int = TRAIN_EPOCHS,
                timeout: float = TRAIN_TIMEOUT) -> dict[str, Any]:
    """Train a TwoLayerNet of the learner's Affine, Relu and SoftmaxWithLoss on the bundled
    sample, beside layerwise's own from the same weights; skipped (saying why) unless those
    three classes were found and none failed its check."""
    unusable = [r.name for r in result.results if r.name in _TRAIN_CLASSES
                and r.status not in ("pass", "note")]
    if unusable:
        return {"skipped": f"{', '.join(unusable)} must pass the check first"}
    if "fork" not in multiprocessing.get_all_start_methods():
        if classes is None:
            assert source is not None
            module = _import_learner_file(source)
            classes = {book: getattr(module, names[book]) for book in _TRAIN_CLASSES}
        return _train(classes, epochs)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_train_child, args=(send, source, classes, names, epochs), daemon=True)
    proc.start()
    send.close()
    try:
        if not receive.poll(timeout):
            return {"skipped": f"training took more than {timeout:g} s"}
        try:
            got: dict[str, Any] = receive.recv()
        except EOFError:
            return {"skipped": f"training ended without a result (exit code {proc.exitcode})"}
        return got
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receive.close()
