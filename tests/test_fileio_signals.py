"""A signal during an atomic save leaves no temporary file (issue 29, defect 8)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from layerwise.files.fileio import TEMP_SUFFIX

HERE = Path(__file__).parent


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
def test_signals_at_random_moments_during_saves_leave_no_part_file(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, str(HERE / "_signal_saves.py"), str(tmp_path)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        rng = random.Random(29)
        for _ in range(1500):
            os.kill(child.pid, rng.choice([signal.SIGTERM, signal.SIGINT]))
            time.sleep(rng.uniform(0, 0.002))
        (tmp_path / "stop").touch()
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
    saves, cut = map(int, (tmp_path / "done").read_text().split())
    assert cut > 100, (saves, cut)  # the signals did land inside saves
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(TEMP_SUFFIX))
    assert left == [], f"{len(left)} of {cut} interrupted saves left a temporary file: {left[:5]}"
