"""The book's chapter scripts in examples/ run and print the book's numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, timeout: float = 300) -> str:
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=EXAMPLES,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def parse(output: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in output.strip().splitlines() if ":" in line)


def test_buy_apple() -> None:
    values = parse(run_example("buy_apple.py"))
    assert {k: v.strip() for k, v in values.items()} == {
        "price": "220", "dApple": "2.2", "dApple_num": "110", "dTax": "200"}


def test_buy_apple_orange() -> None:
    values = parse(run_example("buy_apple_orange.py"))
    assert {k: v.strip() for k, v in values.items()} == {
        "price": "715", "dApple": "2.2", "dApple_num": "110", "dOrange": "3.3",
        "dOrange_num": "165", "dTax": "650"}


def test_gradient_check_example() -> None:
    values = parse(run_example("gradient_check.py"))
    assert set(values) == {"W1", "b1", "W2", "b2"}
    for key, text in values.items():
        diff = float(text)
        assert 0.0 <= diff < 1e-9, (key, diff)


@pytest.mark.parametrize("name", ["buy_apple.py", "buy_apple_orange.py"])
def test_examples_use_no_sys_path_hacks(name: str) -> None:
    assert "sys.path" not in (EXAMPLES / name).read_text()
