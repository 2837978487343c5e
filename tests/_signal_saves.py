"""Save files atomically, one new name after another, while signals interrupt the saves.

Usage: python _signal_saves.py FOLDER. Each save writes FOLDER/f<i>.bin through
``layerwise.files.fileio.atomic_write_bytes``. SIGTERM raises KeyboardInterrupt, as `layerwise`
does, but only while a save is running (so the loop itself is never cut); a save so cut
is counted and the loop goes on. FOLDER/ready appears after the first save; FOLDER/stop
ends the loop, which then writes the number of saves and of interrupted saves to FOLDER/done.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

from layerwise.files.fileio import atomic_write_bytes

folder = Path(sys.argv[1])
armed = False


def on_signal(signum: int, frame: FrameType | None) -> None:
    global armed
    if armed:
        armed = False  # one signal per save: a second would cut its clean-up
        raise KeyboardInterrupt()


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
data = bytes(range(256)) * 64
saves = cut = 0
while not (folder / "stop").exists():
    try:
        armed = True
        atomic_write_bytes(folder / f"f{saves}.bin", data)
        armed = False
    except KeyboardInterrupt:
        armed = False
        cut += 1
    saves += 1
    if saves == 1:
        (folder / "ready").touch()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
(folder / "done").write_text(f"{saves} {cut}")
