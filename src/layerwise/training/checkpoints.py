"""Checkpoint files: everything a training run needs to carry on exactly where it stopped.

A checkpoint is a safetensors file (as a model file is, see :mod:`layerwise.files.model_files`)
holding the network's weights as ``model/<key>`` tensors and the optimizer's state arrays as
``optimizer/<key>``; its metadata holds ``format`` (``"layerwise-checkpoint"``),
``format_version``, the ``architecture``, the optimizer's class and scalar state, the epoch,
the history, every random generator's state and the trainer's own metadata. Resuming from it
gives the very numbers of a run that was never interrupted.

:func:`save_checkpoint` and :func:`load_checkpoint` work on any object with the attributes of
:class:`TrainingState` (a :class:`~layerwise.training.trainer.Trainer` is one); :func:`read_checkpoint`
checks a file whole without one.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import DataError, short_repr
from layerwise.files.model_files import (
    FORMAT_VERSION,
    Metadata,
    build_network,
    check_finite_tensors,
    check_rng_state,
    parse_json,
    read_safetensors,
    write_safetensors,
)
from layerwise.files.safetensors_io import TensorSpec
from layerwise.networks.config import StateDictError
from layerwise.networks.sequential import Sequential
from layerwise.optimizers import SupportsUpdate
from layerwise.training.history import EpochRecord

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainingState",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "network_from_checkpoint",
]

CHECKPOINT_FORMAT = "layerwise-checkpoint"


class TrainingState(Protocol):
    """What a checkpoint saves and restores: the attributes of a training run.

    The optimizer's state is saved when it has ``state_dict()`` and restored when it has
    ``load_state_dict(state)`` (given ``params=`` too when it takes them).
    """

    network: Sequential
    optimizer: SupportsUpdate
    rng: np.random.Generator  # the generator that shuffles (and augments)
    epoch: int  # epochs completed
    epochs: int
    batch_size: int
    seconds: float  # training time so far
    history: list[EpochRecord]
    base_lr: float | None  # the learning rate a schedule scales
    metadata: dict[str, Any]  # the caller's own, saved as JSON


def _generators_of(network: Sequential) -> dict[str, np.random.Generator]:
    """Random generators owned by layers (Dropout), keyed by layer name."""
    return {name: getattr(layer, "rng") for name, layer in network.layers.items()  # noqa: B009
            if isinstance(getattr(layer, "rng", None), np.random.Generator)}


def _rng_state(gen: np.random.Generator) -> str:
    return json.dumps(gen.bit_generator.state)


def save_checkpoint(state: TrainingState, path: str | Path) -> None:
    """Write weights, optimizer state, random states, epoch and history, atomically."""
    tensors = {f"model/{k}": v for k, v in state.network.state_dict().items()}
    scalars: dict[str, Any] = {}
    state_fn = getattr(state.optimizer, "state_dict", None)
    if state_fn is not None:
        for key, value in state_fn().items():
            if isinstance(value, np.ndarray):
                tensors[f"optimizer/{key}"] = value
            else:
                scalars[key] = value
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": json.dumps(state.network.get_config()),
        "optimizer": json.dumps({"class": type(state.optimizer).__name__, "scalars": scalars}),
        "epoch": str(state.epoch),
        "epochs": str(state.epochs),
        "batch_size": str(state.batch_size),
        "seconds": repr(state.seconds),
        "history": json.dumps([asdict(r) for r in state.history]),
        "rng": _rng_state(state.rng),
        "base_lr": json.dumps(state.base_lr),
        "layer_rngs": json.dumps({k: _rng_state(g) for k, g in _generators_of(state.network).items()}),
        "trainer": json.dumps(state.metadata),
    }
    write_safetensors(path, tensors, metadata)


def load_checkpoint(state: TrainingState, path: str | Path) -> None:
    """Restore what :func:`save_checkpoint` wrote into ``state`` (a trainer).

    The file is checked whole first (:func:`read_checkpoint`), then against ``state`` (its
    optimizer's class, its generators' kind, the network's weights, the optimizer's own
    checks of its state). Any failure raises :class:`~layerwise.errors.DataError` naming the
    file and leaves ``state`` as it was.
    """
    tensors, meta = read_checkpoint(path)
    saved = meta.parsed
    opt_meta = saved["optimizer"]
    if opt_meta["class"] != type(state.optimizer).__name__:
        raise DataError(f"{path}: checkpoint was made with optimizer {short_repr(opt_meta['class'])}, "
                        f"not {type(state.optimizer).__name__}")
    gens = _generators_of(state.network)
    states = [("rng", saved["rng"], state.rng)] + [
        (f"layer_rngs[{name!r}]", rng_state, gens[name]) for name, rng_state in saved["layer_rngs"].items()
        if name in gens]
    for what, rng_state, gen in states:
        kind = type(gen.bit_generator).__name__
        if rng_state["bit_generator"] != kind:
            raise DataError(f"{path}: {what} is the state of a {rng_state['bit_generator']} generator; "
                            f"this trainer's is a {kind}")
    before = state.network.state_dict()
    try:
        state.network.load_state_dict(
            {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
    except StateDictError as exc:
        raise DataError(f"{path}: {exc}") from None
    opt_state: dict[str, Any] = {k[len("optimizer/"):]: v for k, v in tensors.items()
                                 if k.startswith("optimizer/")}
    opt_state.update(opt_meta["scalars"])
    load_fn = getattr(state.optimizer, "load_state_dict", None)
    if load_fn is not None:
        # layerwise's optimizers check each state array against its parameter now, when
        # given the parameters, rather than at the first update of the resumed run
        takes_params = "params" in inspect.signature(load_fn).parameters
        extra = {"params": state.network.params} if takes_params else {}
        try:
            load_fn(opt_state, **extra)
        except (ValueError, TypeError) as exc:  # the optimizer's own checks of its state
            state.network.load_state_dict(before)
            raise DataError(f"{path}: optimizer state: {exc}") from None
    state.epoch = saved["epoch"]
    state.seconds = saved["seconds"]
    state.history = saved["history"]
    if "base_lr" in meta:
        state.base_lr = saved["base_lr"]
        if state.base_lr is not None and hasattr(state.optimizer, "lr"):
            # The run goes on at its own rate (a schedule rescales it before each epoch).
            opt: Any = state.optimizer
            opt.lr = state.base_lr
    for _, rng_state, gen in states:
        gen.bit_generator.state = rng_state


def read_checkpoint(path: str | Path) -> tuple[dict[str, NDArray[Any]], Metadata]:
    """Tensors and metadata of a checkpoint file, every entry checked.

    The metadata is a :class:`~layerwise.files.model_files.Metadata` (a dict of text by key, as
    written), whose ``parsed`` dict holds each entry's value: ``architecture`` (checked
    against the ``model/`` tensors as a model file's is: shapes, dtype, finite), ``optimizer``
    (``{"class": name, "scalars": {...}}``), ``epoch``, ``epochs``, ``batch_size``,
    ``seconds``, ``history`` (:class:`~layerwise.training.history.EpochRecord` objects, one per epoch
    done), ``rng`` and ``layer_rngs`` (generator states), ``base_lr`` and ``trainer``.
    Anything else raises :class:`~layerwise.errors.DataError` naming the file and the entry.
    """
    tensors, meta = read_safetensors(path, CHECKPOINT_FORMAT, check=_fits_architecture)
    check_finite_tensors(path, tensors)
    shape = 'a JSON object {"class": name, "scalars": {name: number or text}}'
    opt = meta.json("optimizer", dict, shape)
    scalars = opt.get("scalars")
    if (set(opt) != {"class", "scalars"} or not isinstance(opt["class"], str) or not isinstance(scalars, dict)
            or not all(isinstance(v, (int, float, str, bool, type(None))) for v in scalars.values())):
        meta.fail("optimizer", shape, short_repr(opt))
    epoch = meta.integer("epoch", 0)
    meta.integer("epochs", 0, default=None)
    meta.integer("batch_size", 1, default=None)
    meta.number("seconds", 0.0, default=0.0)
    if len(meta.records("history", EpochRecord)) != epoch:
        meta.fail("history", f"one record per epoch done ({epoch})", f"{len(meta.parsed['history'])} records")
    meta.rng_state("rng")
    base_lr = meta.json("base_lr", (int, float, type(None)), "a finite number or null", default=None)
    if base_lr is not None and not math.isfinite(base_lr):
        meta.fail("base_lr", "a finite number or null", short_repr(base_lr))
    layer_shape = "a JSON object of layer name: the JSON of a PCG64 generator's state"
    layer_rngs = meta.json("layer_rngs", dict, layer_shape, default={})
    for name, text in layer_rngs.items():
        def fail(why: str, name: str = name) -> NoReturn:
            meta.fail("layer_rngs", layer_shape, f"{short_repr(name)}: {why}")
        if not isinstance(text, str):
            fail(short_repr(text))
        layer_rngs[name] = check_rng_state(parse_json(text, fail), fail)
    meta.json("trainer", dict, "a JSON object", default={})
    return tensors, meta


def _fits_architecture(meta: Metadata, specs: Mapping[str, TensorSpec]) -> None:
    """The tensors a checkpoint's header describes, checked before any is read: the
    ``model/`` ones are exactly the architecture's weights; an ``optimizer/<slot>.<key>`` one
    has the shape of weight ``<key>``, another none larger than the largest weight."""
    path = meta.path
    others = [k for k in specs if not k.startswith(("model/", "optimizer/"))]
    if others:
        raise DataError(f"{path}: unexpected tensors {short_repr(others)}; a checkpoint holds "
                        "'model/...' and 'optimizer/...' tensors only")
    meta.architecture(specs, prefix="model/")
    weights = {k[len("model/"):]: spec.shape for k, spec in specs.items() if k.startswith("model/")}
    largest = max((math.prod(shape) for shape in weights.values()), default=0)
    for name, spec in specs.items():
        if not name.startswith("optimizer/"):
            continue
        if spec.dtype.kind != "f":
            raise DataError(f"{path}: tensor {short_repr(name)} is {spec.dtype}, expected a floating dtype")
        key = name[len("optimizer/"):].rpartition(".")[2]
        if key in weights and spec.shape != weights[key]:
            raise DataError(f"{path}: tensor {short_repr(name)} has shape {spec.shape}, expected "
                            f"{weights[key]} like weight {key!r}")
        if math.prod(spec.shape) > largest:
            raise DataError(f"{path}: tensor {short_repr(name)} of shape {short_repr(spec.shape)} is larger "
                            f"than any weight of the architecture ({largest} values)")


def network_from_checkpoint(path: str | Path) -> Sequential:
    """Rebuild the network architecture stored in a checkpoint (weights not loaded)."""
    _, meta = read_checkpoint(path)
    return build_network(path, meta.parsed["architecture"])
