"""The package's surface: ``import layerwise as lw`` reaches every public name and sub-module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import layerwise


def _public_submodules() -> list[str]:
    package = Path(layerwise.__file__).parent
    return sorted(p.stem if p.is_file() else p.name for p in package.iterdir()
                  if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").is_file()))


@pytest.mark.parametrize("name", ["optimizers", "layers", "datasets", "graph"])
def test_a_submodule_is_an_attribute_right_after_import_layerwise(name: str) -> None:
    code = f"import layerwise as lw; m = lw.{name}; print(m.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("layerwise.") and done.stdout.strip().endswith(f".{name}")


def test_every_public_submodule_is_reachable_from_the_package_and_listed_by_dir() -> None:
    names = _public_submodules()
    code = ("import layerwise as lw, sys; names = sys.argv[1:]; "
            "missing = [n for n in names if n not in dir(lw)]; "
            "bad = [n for n in names if getattr(lw, n).__name__ != 'layerwise.' + n]; "
            "print(missing, bad)")
    done = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"
    assert {"optimizers", "layers", "datasets", "figures", "training", "files", "fast", "cli"} <= set(names)


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = layerwise.no_such_thing  # type: ignore[attr-defined]
