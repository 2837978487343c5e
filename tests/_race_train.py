"""Start `layerwise train` runs in lockstep with another process: a barrier, then a run.

Usage: python _race_train.py FOLDER WORKER ROUNDS [layerwise train arguments...]
Round k waits until every worker has written FOLDER/ready-k-W, then runs ``layerwise train``
with the given arguments, ``{k}`` in them replaced by the round, and appends one JSON line
(round, exit code, stdout, stderr) to FOLDER/results-WORKER.jsonl.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

from layerwise.cli import main

folder, worker, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
template = sys.argv[4:]
WORKERS = 2

for k in range(rounds):
    (folder / f"ready-{k}-{worker}").touch()
    while not all((folder / f"ready-{k}-{w}").exists() for w in range(WORKERS)):
        time.sleep(0.0005)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([arg.replace("{k}", str(k)) for arg in template])
    with open(folder / f"results-{worker}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"round": k, "code": code, "out": out.getvalue(), "err": err.getvalue()}) + "\n")
