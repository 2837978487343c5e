"""Issue 29, defect 9: a name the user gave is shown with its control characters escaped, so an
error message never sends raw terminal bytes (an escape sequence that recolours the terminal,
a newline that splits the one-line error)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _optional import require
from hypothesis import given, settings
from hypothesis import strategies as st

from layerwise.cli import main
from layerwise.errors import printable

ESC = "\x1b[31m"


def _stderr_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["evaluate", f"bad{ESC}.safetensors"],
    ["train", "--save", f"no{ESC}folder/m.safetensors"],
    ["train", "--batch-size", f"1{ESC}"],
    ["train", "--data-dir", f"nowhere{ESC}"],
    ["export", f"m{ESC}.safetensors"],
], ids=["evaluate-file", "train-save-folder", "argparse-int", "data-dir", "export-model"])
def test_an_escape_sequence_in_a_path_or_value_is_shown_escaped(
        argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if argv[0] == "export":
        require("onnx", "export names its model file only where it can export")
    monkeypatch.chdir(tmp_path)
    code, err = _stderr_of(argv, capsys)
    assert code == 2 or code == 1
    assert "\x1b" not in err
    assert "\\x1b[31m" in err
    assert err.rstrip("\n").splitlines()[-1].startswith(("layerwise: error:", "layerwise train: error:"))


def test_a_newline_in_a_path_does_not_split_the_one_line_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _stderr_of(["evaluate", str(tmp_path / "two\nlines.safetensors")], capsys)
    assert code in (1, 2)
    assert err.count("\n") == 1 and "\\x0a" in err


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_printable_leaves_no_control_character_and_keeps_what_shows(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F or 0x80 <= ord(c) < 0xA0 for c in shown)
    assert "\n" not in shown and "\u2028" not in shown
    if text.isprintable():
        assert shown == text
