"""Issue 31: ``layerwise check`` on a learner's own chapter-5 layers.

The book's code passes (with its notes); a mutation put into a copy of each of layerwise's own
layers fails with the id that names it; the command's exit codes, JSON, time limit and the
learner's file and line in an exception."""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import layerwise as lw
from layerwise import fast
from layerwise.cli import main
from layerwise.layers import activation, affine, arithmetic, loss
from layerwise.workbench.catalogue import CATALOGUE, PHRASES, UI

DATA = Path(__file__).resolve().parent / "data"
BOOK = DATA / "book_chapter5.py"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_books_own_code_passes_with_its_notes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["check", str(BOOK), "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    status = {r["name"]: r["status"] for r in result["results"]}
    assert status == {"MulLayer": "pass", "AddLayer": "pass", "Relu": "note", "Sigmoid": "pass",
                      "Affine": "pass", "SoftmaxWithLoss": "note"}
    ids = {r["name"]: {f["id"] for f in r["findings"]} for r in result["results"]}
    assert ids["Relu"] == {"dout-mutated"}
    assert ids["SoftmaxWithLoss"] == {"dout-ignored", "log-delta"}
    assert all(f["severity"] == "note" for r in result["results"] for f in r["findings"])


# -- mutations in copies of layerwise's own layers ----------------------------------------------------------
MUTATIONS = [
    (arithmetic, "MulLayer", "dx = dout * self.y", "dx = dout * self.x", "mul-inputs-not-swapped"),
    (arithmetic, "MulLayer", "return _unbroadcast(dx, self.x), _unbroadcast(dy, self.y)",
     "return _unbroadcast(dx, self.x)", "backward-arity"),
    (activation, "Relu", "self.mask = x <= 0", "self.mask = x > 0", "relu-mask-inverted"),
    (activation, "Sigmoid", "return d * (1.0 - y) * y", "return d * (1.0 - y)", "wrong-gradient"),
    (affine, "Affine", "self.db = np.sum(d, axis=0)", "self.db = np.sum(d, axis=0, keepdims=True)",
     "bias-grad-not-summed"),
    (affine, "Affine", "self.db = np.sum(d, axis=0)", "self.db = np.mean(d, axis=0)", "bias-grad-not-summed"),
    (affine, "Affine", "self.dW = np.dot(self.x.T, d)", "self.dW = np.dot(d.T, self.x)",
     "weight-grad-transposed"),
    (affine, "Affine", "return dx.reshape(self.original_x_shape)", "return dx", "dx-shape"),
    (loss, "SoftmaxWithLoss", "float(d) / batch_size", "float(d)", "missing-batch-mean"),
    (loss, "SoftmaxWithLoss", "dx[np.arange(batch_size), self.t] -= 1", "dx[np.arange(batch_size), self.t] += 1",
     "wrong-gradient"),
]


def _mutated(module: Any, name: str, old: str, new: str) -> type:
    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    assert old in source, f"{name}: the mutation's text {old!r} is no longer in the source"
    namespace = dict(vars(module))
    exec(compile(source.replace(old, new), f"<mutated {name}>", "exec"), namespace)
    cls: type = namespace[name]
    return cls


@pytest.mark.parametrize(("module", "name", "old", "new", "expected"), MUTATIONS,
                         ids=[f"{m[1]}:{m[4]}:{i}" for i, m in enumerate(MUTATIONS)])
def test_a_mutation_in_a_copy_of_a_layerwise_layer_fails_with_its_id(
        module: Any, name: str, old: str, new: str, expected: str) -> None:
    cls = _mutated(module, name, old, new)
    with fast.disabled():  # the copy's own code, not the engine's kernels
        result = lw.check({name: cls})
    found = result[name]
    assert found.status == "fail", str(result)
    assert expected in {f.id for f in found.findings if f.severity == "fail"}, str(result)


@pytest.mark.parametrize("name", ["MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss"])
def test_layerwise_own_layers_pass_the_check(name: str) -> None:
    with fast.disabled():
        result = lw.check({name: getattr(lw, name)})
    assert result[name].status in ("pass", "note"), str(result)
    assert all(f.severity == "note" for f in result[name].findings)


# -- the command --------------------------------------------------------------------------------------------
def _write(tmp_path: Path, source: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_an_exception_is_shown_in_the_learners_file_and_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, """\
        import numpy as np

        class Relu:
            def forward(self, x):
                self.mask = x <= 0
                return np.maximum(x, 0)

            def backward(self, dout):
                return dout * ~self.maks
        """)
    code, out, _ = _run(["check", str(path), "--json"], capsys)
    assert code == 1
    relu = next(r for r in json.loads(out)["results"] if r["name"] == "Relu")
    finding = relu["findings"][0]
    assert finding["id"] == "raised"
    assert re.search(rf"{re.escape(str(path))}:9: AttributeError", finding["where"]), finding["where"]


def test_an_endless_loop_is_reported_as_a_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, """\
        class Sigmoid:
            def forward(self, x):
                while True:
                    pass
        """)
    code, out, _ = _run(["check", str(path), "--json", "--timeout", "1"], capsys)
    assert code == 1
    sigmoid = next(r for r in json.loads(out)["results"] if r["name"] == "Sigmoid")
    assert [f["id"] for f in sigmoid["findings"]] == ["timeout"]


def test_a_class_under_another_name_is_checked_with_as(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = BOOK.read_text().replace("class Affine:", "class MyAffine:")
    path = _write(tmp_path, source)
    code, out, _ = _run(["check", str(path), "--as", "Affine=MyAffine", "--json"], capsys)
    assert code == 0
    affine_result = next(r for r in json.loads(out)["results"] if r["name"] == "Affine")
    assert affine_result["status"] == "pass" and affine_result["class"] == "MyAffine"


def test_an_untouched_stub_is_not_started_never_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, """\
        class Relu:
            def forward(self, x):
                raise NotImplementedError

            def backward(self, dout):
                raise NotImplementedError
        """)
    code, out, _ = _run(["check", str(path)], capsys)
    assert code == 1
    assert "Relu" in out and "not started" in out and "6 of" not in out


@pytest.mark.parametrize(("source", "message"), [
    ("class Relu:\n    def forward(self, x)\n        return x\n", r"mine\.py:2: syntax error"),
    ("import numpy as np\n\nclass Something:\n    pass\n", r"no class of the book's names"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str,
                                           message: str) -> None:
    path = _write(tmp_path, source)
    code, out, err = _run(["check", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and re.search(message, err), err


def test_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["check", str(tmp_path / "nowhere.py")], capsys)
    assert code == 2 and "no such file" in err


def test_code_under_main_does_not_run_and_top_level_prints_do_not_reach_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = "print('hello from the top')\n" + BOOK.read_text() + "\nif __name__ == '__main__':\n    raise SystemExit(3)\n"
    path = _write(tmp_path, source)
    code, out, _ = _run(["check", str(path)], capsys)
    assert code == 0 and "hello from the top" not in out


# -- the two languages ----------------------------------------------------------------------------------------
def test_every_catalogue_entry_and_label_exists_in_both_languages() -> None:
    for entry in CATALOGUE.values():
        assert set(entry.title) == set(entry.hint) == {"en", "ko"}, entry.id
        assert all(entry.title[lang].strip() and entry.hint[lang].strip() for lang in ("en", "ko")), entry.id
        assert re.search(r"[가-힣]", entry.hint["ko"]) and re.search(r"[가-힣]", entry.title["ko"]), entry.id
        assert entry.severity in ("fail", "note")
    assert set(UI["en"]) == set(UI["ko"])
    assert "ko" in PHRASES


def test_the_catalogue_has_the_issues_ids() -> None:
    wanted = {"mul-inputs-not-swapped", "backward-arity", "relu-mask-inverted", "input-mutated", "dout-mutated",
              "sigmoid-grad-from-input", "bias-grad-not-summed", "weight-grad-transposed", "input-not-flattened",
              "dx-shape", "missing-batch-mean", "loss-not-mean", "softmax-overflow", "log-of-zero", "label-form",
              "dout-ignored", "stale-cache", "backward-not-repeatable", "float64-promotion", "raised", "timeout",
              "wrong-gradient"}
    assert wanted <= set(CATALOGUE)
    assert CATALOGUE["dout-ignored"].severity == CATALOGUE["float64-promotion"].severity == "note"


ENGLISH_WORD = re.compile(r"\b(?!float64\b|float32\b|dout\b|dx\b|dy\b|dW\b|db\b|loss\b|self\b|backward\b|forward\b)"
                          r"[a-z]{3,}\b")


def test_the_korean_report_has_no_english_sentence_left(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything but code names, ids, array descriptions and numbers is Korean."""
    buggy = BOOK.read_text().replace("self.db = np.sum(dout, axis=0)", "self.db = dout") \
        .replace("dout[self.mask] = 0", "dout[~self.mask] = 0")
    path = _write(tmp_path, buggy)
    monkeypatch.setenv("LAYERWISE_LANG", "ko")
    code, out, _ = _run(["check", str(path)], capsys)
    assert code == 1
    leftovers = []
    for line in out.splitlines()[1:]:
        text = re.sub(r"\(§[\d.]+\)|`[^`]*`|\b[a-z]+(?:-[a-z0-9]+)+\b|\w+\[[^\]]*\]|\w+\([^)]*\)|\w+\.\w+", "", line)
        text = re.sub(r"\b(?:MulLayer|AddLayer|Relu|Sigmoid|Affine|SoftmaxWithLoss|NotImplementedError|"
                      r"TwoLayerNet|Python|NaN|ReLU|Xᵀ|float|int64|delta|log|exp|dtype|mask)\b", "", text)
        if ENGLISH_WORD.search(text):
            leftovers.append(line)
    assert not leftovers, "\n".join(leftovers)
    assert "바뀜" in out or "기댓값" in out


# -- your layers, learning ------------------------------------------------------------------------------------
def test_the_books_layers_train_to_the_reference_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["check", str(BOOK), "--train", "--json"], capsys)
    assert code == 0
    train = json.loads(out)["train"]
    assert train["data"] == "mnist-sample" and train["epochs"] >= 10
    assert train["test_accuracy"] > 0.85
    assert abs(train["test_accuracy"] - train["reference_accuracy"]) <= 0.01


def test_training_is_skipped_saying_why_when_a_layer_fails(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, BOOK.read_text().replace("self.db = np.sum(dout, axis=0)", "self.db = dout"))
    code, out, _ = _run(["check", str(path), "--train", "--json"], capsys)
    assert code == 1
    assert json.loads(out)["train"] == {"skipped": "Affine must pass the check first"}


def test_the_learners_layers_go_into_sequential_and_trace_through_one_adapter() -> None:
    import numpy as np

    from layerwise.datasets import load_mnist
    from layerwise.workbench.adapter import your_two_layer_net

    book = _import_book()
    net = your_two_layer_net(book.Affine, book.Relu, book.SoftmaxWithLoss)
    ref = lw.TwoLayerNet(784, 50, 10, rng=0)
    (x, t), _ = load_mnist("mnist-sample")
    with fast.disabled():
        ours, theirs = ref.gradient(x[:8], t[:8]), net.gradient(x[:8], t[:8])
    for key in ours:
        np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-4, atol=1e-6)
    tr = lw.trace(net, x[:2], t[:2], check=True)
    assert [s.name for s in tr] == ["Affine1", "Relu1", "Affine2", "SoftmaxWithLoss"]
    assert tr.checked
    assert "<svg" in tr.to_svg()


def _import_book() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_chapter5", BOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- exercises --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_exercises_init_writes_stubs_that_check_as_not_started(tmp_path: Path, lang: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ch5"
    code, out, _ = _run(["exercises", "init", str(folder), "--lang", lang], capsys)
    assert code == 0
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["ch05_4_mul_add.py", "ch05_5_activation.py", "ch05_6_affine_softmax.py", "ch05_7_network.py"]
    for name in files[:3]:
        text = (folder / name).read_text()
        assert f"layerwise check {name}" in text and "NotImplementedError" in text
        assert (lang == "ko") == bool(re.search(r"[가-힣]", text))
        code, out, _ = _run(["check", str(folder / name), "--json"], capsys)
        assert code == 1
        checked = [r for r in json.loads(out)["results"] if r["status"] != "missing"]
        assert len(checked) >= 2 and all(r["status"] == "not-started" for r in checked), out


def test_exercises_init_never_replaces_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ch05_5_activation.py").write_text("# my work\n")
    code, _, err = _run(["exercises", "init", str(tmp_path)], capsys)
    assert code == 2 and "ch05_5_activation.py" in err
    assert (tmp_path / "ch05_5_activation.py").read_text() == "# my work\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch05_5_activation.py"]


def test_the_network_stub_checks_its_gradient_once_filled_in(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    _run(["exercises", "init", str(tmp_path)], capsys)
    book = BOOK.read_text()
    for name in ("ch05_5_activation.py", "ch05_6_affine_softmax.py"):
        (tmp_path / name).write_text(book)
    network = (tmp_path / "ch05_7_network.py").read_text().replace(
        '        """Return a dict of the gradients of W1, b1, W2, b2, computed by backpropagation."""\n'
        "        raise NotImplementedError\n",
        "        self.loss(x, t)\n"
        "        dout = self.last_layer.backward(1)\n"
        "        for layer in reversed(list(self.layers.values())):\n"
        "            dout = layer.backward(dout)\n"
        "        a1, a2 = self.layers['Affine1'], self.layers['Affine2']\n"
        "        return {'W1': a1.dW, 'b1': a1.db, 'W2': a2.dW, 'b2': a2.db}\n")
    (tmp_path / "ch05_7_network.py").write_text(network)
    done = subprocess.run([sys.executable, "ch05_7_network.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "PASSED" in done.stdout


def test_the_docs_catalogue_page_is_written_from_the_catalogue() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "scripts" / "workbench_catalogue.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, "docs/workbench/catalogue.md is out of date: run scripts/workbench_catalogue.py"
    page = (root / "docs" / "workbench" / "catalogue.md").read_text()
    for entry in CATALOGUE.values():
        assert f"## {entry.id}" in page and entry.example and entry.example in page


@pytest.mark.parametrize(("old", "new", "where"), [
    ("self.dW = np.dot(self.x.T, dout)", "self.dW = 2 * np.dot(self.x.T, dout)", "backward: dW"),
    ("dx = np.dot(dout, self.W.T)", "dx = -np.dot(dout, self.W.T)", "backward: dx"),
])
def test_a_wrong_gradient_shows_the_central_difference_of_the_learners_own_forward(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, where: str) -> None:
    path = _write(tmp_path, BOOK.read_text().replace(old, new))
    code, out, _ = _run(["check", str(path), "--json"], capsys)
    assert code == 1
    affine = next(r for r in json.loads(out)["results"] if r["name"] == "Affine")
    finding = next(f for f in affine["findings"] if f["id"] == "wrong-gradient")
    assert finding["where"] == where
    expected = float(finding["expected"].split("= ")[1])
    assert float(finding["numerical"]) == pytest.approx(expected, rel=1e-5, abs=1e-6)


# -- bad input to the workbench's commands -----------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "message"), [
    (["--as", "Affine"], r"--as: expected BOOK=YOURS such as Affine=MyAffine, got 'Affine'"),
    (["--as", "Linear=MyAffine"], r"'Linear' is not one of the book's names"),
    (["--timeout", "0"], r"--timeout: expected a number of seconds > 0, got 0"),
    (["--timeout", "nan"], r"--timeout: expected a number of seconds > 0, got nan"),
])
def test_bad_check_flags_are_one_line_usage_errors(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["check", str(BOOK), *argv], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and re.search(message, err), err


def test_an_unknown_layerwise_lang_is_a_usage_error_not_silently_english(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERWISE_LANG", "fr")
    code, out, err = _run(["check", str(BOOK)], capsys)
    assert code == 2 and out == "" and "LAYERWISE_LANG: expected one of en, ko" in err
    monkeypatch.setenv("LAYERWISE_LANG", "ko_KR.UTF-8")
    code, out, _ = _run(["check", str(BOOK)], capsys)
    assert code == 0 and "통과" in out


def test_exercises_init_refuses_a_file_and_a_missing_parent_before_writing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, _, err = _run(["exercises", "init", str(tmp_path / "notes.txt")], capsys)
    assert code == 2 and "expected a folder for the exercises, found a file" in err
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    code, _, err = _run(["exercises", "init", str(tmp_path / "no" / "such")], capsys)
    assert code == 2 and "does not exist" in err and not (tmp_path / "no").exists()
