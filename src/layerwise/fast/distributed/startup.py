"""The command line's side of a distributed run: every rank's start agreed, and a failure on one
rank ending the job."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout

from layerwise.errors import ConfigError, LayerwiseError
from layerwise.fast.distributed.world import World, versions


# -- the command line's side ----------------------------------------------------------------------
@contextmanager
def starting(world: World | None) -> Iterator[dict[str, str]]:
    """Around a command's start (its checks, loading data, building the model): yields a
    dict for facts the ranks must share. At the end every rank reports whether its start
    succeeded, with those facts (:meth:`World.agree`), so that a failure on one rank is
    reported by rank 0 and every rank stops, instead of the others waiting. Nothing is done
    when ``world`` is None (a single process)."""
    facts: dict[str, str] = {"version": versions()}
    if world is None:
        yield facts
        return
    try:
        yield facts
    except Exception as exc:
        if not isinstance(exc, LayerwiseError):
            traceback.print_exc()  # a bug, on this rank: its traceback, then the agreed error
        world.agree({}, failure=exc)
        raise
    world.agree(facts)


def run_command(world: World, body: Callable[[], int]) -> int:
    """Run a command's ``body`` on this rank of ``world``: rank 0 alone writes to stdout; an
    error agreed at start is reported by rank 0 alone (the others return its exit code
    silently); any other error ends every rank (:meth:`World.abort_on_error`)."""
    if world.is_root:
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:  # lines as they come, through mpirun's pipe
            reconfigure(line_buffering=True)
    with open(os.devnull, "w") if not world.is_root else nullcontext(None) as devnull:
        try:
            with redirect_stdout(devnull) if devnull is not None else nullcontext(), world.abort_on_error():
                return body()
        except LayerwiseError as exc:
            if exc is not world.agreed_error or world.is_root:
                raise
            return 2 if isinstance(exc, ConfigError) else 1
