"""Run ``layerwise`` and SIGKILL it at a chosen moment: a real kill, for the resume tests.

``KILL_AT=step:N`` kills the process just before its N-th optimizer step (mid-epoch);
``KILL_AT=write:N`` kills it halfway through writing its N-th checkpoint, leaving the
temporary file half written beside the checkpoint, as a power cut would.
Usage: python _kill_run.py [layerwise arguments...]
"""

from __future__ import annotations

import os
import signal
import sys

import layerwise.files.model_files
import layerwise.training.trainer
from layerwise.cli import main

kind, _, count = os.environ["KILL_AT"].partition(":")
target = int(count)
seen = 0


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if kind == "write":
    real_save_file = layerwise.files.model_files.save_file

    def save_file_then_die(tensors, filename, metadata=None):  # type: ignore[no-untyped-def]
        global seen
        real_save_file(tensors, filename, metadata=metadata)
        if metadata and metadata.get("format") == "layerwise-checkpoint":
            seen += 1
            if seen == target:
                with open(filename, "r+b") as f:
                    f.truncate(os.path.getsize(filename) // 2)
                _die()

    layerwise.files.model_files.save_file = save_file_then_die
elif kind == "step":
    real_init = layerwise.training.trainer.Trainer.__init__

    def init_with_counter(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_init(self, *args, **kwargs)
        update = self.optimizer.update

        def counted(params, grads):  # type: ignore[no-untyped-def]
            global seen
            seen += 1
            if seen == target:
                _die()
            update(params, grads)

        self.optimizer.update = counted

    layerwise.training.trainer.Trainer.__init__ = init_with_counter
else:
    raise SystemExit(f"KILL_AT must be step:N or write:N, got {os.environ['KILL_AT']!r}")

sys.exit(main(sys.argv[1:]))
