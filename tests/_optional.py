"""Optional dependencies in tests: skip where they are absent, fail in CI where they must be.

``.ci/run`` installs every optional extra and sets ``LAYERWISE_REQUIRE_OPTIONAL=1``, so a test
that would be skipped for a missing package fails there instead: a green CI has run them all.
On a learner's machine (the README's test command alone) they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

REQUIRED = os.environ.get("LAYERWISE_REQUIRE_OPTIONAL") == "1"


def require(module: str, why: str = "") -> ModuleType:
    """Import ``module`` or skip the test (fail under ``LAYERWISE_REQUIRE_OPTIONAL=1``)."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        reason = f"needs {module}{': ' + why if why else ''} ({exc})"
        if REQUIRED:
            pytest.fail(f"LAYERWISE_REQUIRE_OPTIONAL=1 but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def require_program(name: str, why: str = "") -> str:
    """The path of the program ``name`` on PATH, or skip (fail under the CI switch)."""
    found = shutil.which(name)
    if found is None:
        reason = f"needs the program {name}{': ' + why if why else ''}"
        if REQUIRED:
            pytest.fail(f"LAYERWISE_REQUIRE_OPTIONAL=1 but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return found


def require_file_from_env(variable: str, why: str = "") -> Path:
    """The file that the environment variable ``variable`` names, or skip (fail under the CI
    switch). A skip never depends on where one machine keeps its files: ``.ci/run`` fetches
    the file and sets the variable."""
    value = os.environ.get(variable, "")
    if not value or not Path(value).is_file():
        reason = (f"needs {variable} naming a file{': ' + why if why else ''} "
                  f"({'unset' if not value else 'no file at ' + value})")
        if REQUIRED:
            pytest.fail(f"LAYERWISE_REQUIRE_OPTIONAL=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return Path(value)
