"""Data parallelism over MPI against the in-process threads, on this machine.

    python benchmarks/bench_mpi.py [--models simple-cnn,two-layer] [--iters 200] [--repeats 3] [--json out.json]

The same training epoch (batch 100, the network and optimizer ``layerwise train`` uses, the
training time of :class:`~layerwise.training.trainer.Trainer`'s epoch, ``iters`` steps timed and
scaled to 600) four ways, interleaved over rounds with a pause before each:

* one process, one thread (BLAS too): the baseline of the ratios' second column;
* one process, two threads: :class:`layerwise.fast.parallel.DataParallel` splits each batch in
  two (the default of ``layerwise train`` here); the baseline of the first column;
* ``mpirun -n 1`` and ``mpirun -n 2``: :class:`layerwise.fast.distributed.DistributedTrainer`,
  each rank on its own core (Open MPI binds ranks to cores up to 2 processes) with one
  thread, one allreduce of all the gradients per step;
* ``mpirun -n 2 --bind-to none``: the same, with the ranks free to move between cores (as
  the two threads are), which matters when other work shares the machine.

For the MPI runs each rank also counts the bytes it allreduces per step and the seconds it
spends inside ``Allreduce`` during training (which includes waiting for the slower rank),
then times the same allreduce alone, after a barrier, 50 times (the transfer itself). These
are the figures that ``docs/performance.md`` scales to a cluster.

Needs ``pip install 'layerwise[mpi]'``; as root, Open MPI also needs
``OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`` (set here for the children).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, limit_threads, median, mnist_shaped_data  # noqa: E402

from layerwise.networks import SimpleConvNet, TwoLayerNet  # noqa: E402
from layerwise.optimizers import SGD, Adam  # noqa: E402
from layerwise.training.trainer import Trainer  # noqa: E402

BATCH = 100
EPOCH_STEPS = 600
TITLES = {"simple-cnn": "SimpleConvNet, Adam", "two-layer": "TwoLayerNet 784-50-10, SGD"}


def setup(model: str, iters: int) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The network and optimizer ``layerwise train --model MODEL`` builds, and the first
    ``iters`` batches' worth of MNIST-shaped training data."""
    _, (x, t, _, _) = mnist_shaped_data()
    x, t = x[: iters * BATCH], t[: iters * BATCH]
    if model == "simple-cnn":
        return SimpleConvNet(rng=0).fuse(), Adam(0.001), x.reshape(-1, 1, 28, 28), t
    return TwoLayerNet(784, 50, 10, rng=0), SGD(0.1), x.reshape(len(x), -1), t


def epoch_seconds(trainer: Trainer, iters: int) -> float:
    """One epoch's training time (evaluation excluded), scaled to an epoch of 600 steps."""
    trainer.epochs += 1
    trainer.train_epoch()
    return trainer.history[-1].seconds * EPOCH_STEPS / iters


def in_process(model: str, iters: int, threads: int) -> float:
    limit = limit_threads(threads)
    try:
        net, opt, x, t = setup(model, iters)
        trainer = Trainer(net, opt, x, t, epochs=0, batch_size=BATCH, rng=0, progress=False, log=None,
                          train_eval_samples=BATCH)
        trainer.train_epoch()  # warm-up: caches, the thread pool, the first-touch of buffers
        return epoch_seconds(trainer, iters)
    finally:
        if limit is not None:
            limit.restore_original_limits()


def worker(model: str, iters: int) -> None:
    """One rank of ``mpirun -n N bench_mpi.py --worker MODEL ITERS``: rank 0 prints a JSON line."""
    from layerwise.fast import distributed

    world = distributed.init()
    threads = world.cpus_per_rank()  # collective: every rank calls it
    world.limit_threads(threads)
    net, opt, x, t = setup(model, iters)
    trainer = distributed.DistributedTrainer(net, opt, x, t, epochs=0, batch_size=BATCH, rng=0,
                                             progress=False, log=None, train_eval_samples=BATCH, world=world)
    trainer.fit()  # the start: agreement and broadcast
    trainer.train_epoch()  # warm-up
    calls, seconds, nbytes = world.allreduce_calls, world.allreduce_seconds, world.allreduce_bytes
    epoch = epoch_seconds(trainer, iters)
    steps = world.allreduce_calls - calls - 1  # one more for the train-accuracy evaluation
    step_bytes = (world.allreduce_bytes - nbytes - 3 * 8) // steps
    in_training = world.allreduce_seconds - seconds
    buf = np.zeros(step_bytes // 4, dtype=np.float32)
    alone = []
    for _ in range(50):
        world.comm.Barrier()
        start = time.perf_counter()
        world.allreduce_sum(buf)
        alone.append(time.perf_counter() - start)
    if world.is_root:
        print(json.dumps({"epoch": epoch, "step_bytes": int(step_bytes), "steps": steps,
                          "allreduce_in_training_per_step": in_training / steps,
                          "allreduce_alone": median(alone), "threads": threads,
                          "ranks": world.size}))


def mpirun_case(model: str, iters: int, n: int, bind: bool = True) -> dict[str, Any]:
    exe = Path(sys.executable).parent / "mpirun"
    cmd = [str(exe) if exe.exists() else "mpirun", "-n", str(n), *([] if bind else ["--bind-to", "none"]),
           sys.executable, __file__, "--worker", model, str(iters)]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def mpi_versions() -> str:
    try:
        import mpi4py
        from mpi4py import MPI

        return f"{MPI.Get_library_version().splitlines()[0].strip()}; mpi4py {mpi4py.__version__}"
    except ImportError as exc:
        raise SystemExit(f"needs mpi4py: pip install 'layerwise[mpi]' ({exc})") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="simple-cnn,two-layer")
    parser.add_argument("--iters", type=int, default=200, help="steps timed per epoch (scaled to 600)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "ITERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return

    data_name, _ = mnist_shaped_data()
    env = environment(2)
    blas = "; ".join(f"{b['internal_api']} {b['version']} {b['architecture']}" for b in env["blas"]
                     if isinstance(b, dict)) if isinstance(env["blas"], list) else env["blas"]
    print(f"data: {data_name}; {args.iters} iterations of batch {BATCH} timed per epoch, scaled to "
          f"{EPOCH_STEPS}; {args.repeats} interleaved rounds, {args.pause} s pause before each case")
    print(f"numpy {env['numpy']}, {env['cores']} cores ({env['processor']}); BLAS: {blas}; "
          f"BLAS-related environment: {env['env'] or 'none set'}")
    print(f"MPI: {mpi_versions()}")
    report: dict[str, Any] = {"environment": env, "data": data_name, "iters": args.iters, "models": {}}
    for model in args.models.split(","):
        cases: dict[str, list[Any]] = {"1 thread": [], "2 threads": [], "mpirun -n 1": [], "mpirun -n 2": [],
                                       "unbound": []}
        for _ in range(args.repeats):
            for name in cases:
                time.sleep(args.pause)
                if name.endswith("thread") or name.endswith("threads"):
                    cases[name].append(in_process(model, args.iters, int(name[0])))
                elif name == "unbound":
                    cases[name].append(mpirun_case(model, args.iters, 2, bind=False))
                else:
                    cases[name].append(mpirun_case(model, args.iters, int(name[-1])))
        epoch = {name: median([r if isinstance(r, float) else r["epoch"] for r in runs])
                 for name, runs in cases.items()}
        print(f"\n{TITLES[model]} epoch ({EPOCH_STEPS} steps of {BATCH})   seconds  vs 2 threads  vs 1 thread")
        labels = {"1 thread": "one process, 1 thread", "2 threads": "one process, 2 threads (DataParallel)",
                  "mpirun -n 1": "mpirun -n 1 (1 rank, 1 core)", "mpirun -n 2": "mpirun -n 2 (2 ranks, 1 core each)",
                  "unbound": "mpirun -n 2 --bind-to none"}
        for name, seconds in epoch.items():
            print(f"{labels[name]:<44}{seconds:8.2f}  {seconds / epoch['2 threads']:11.2f}  "
                  f"{seconds / epoch['1 thread']:10.2f}")
        step_bytes = cases["mpirun -n 2"][0]["step_bytes"]
        print(f"allreduce per step: one buffer of {step_bytes // 4:,} float32 = {step_bytes / 1e6:.2f} MB")
        for name in ("mpirun -n 2", "unbound"):
            step = epoch[name] / EPOCH_STEPS
            in_training = median([r["allreduce_in_training_per_step"] for r in cases[name]])
            alone = median([r["allreduce_alone"] for r in cases[name]])
            print(f"  {labels[name]}: {in_training * 1e3:.2f} ms of each {step * 1e3:.1f} ms step inside "
                  f"Allreduce ({in_training / step:.0%}, waiting for the other rank included); the same "
                  f"allreduce alone after a barrier {alone * 1e3:.3f} ms ({step_bytes / alone / 1e9:.1f} GB/s)")
        report["models"][model] = {"epoch_seconds": epoch, "runs": cases}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
