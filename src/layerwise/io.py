"""Model files: weights in safetensors, the architecture in its metadata; no pickle.

A model file holds one tensor per entry of the network's :meth:`state_dict` and, in the
header's metadata, ``format`` (``"layerwise-model"``), ``format_version`` and
``architecture`` (the JSON of :meth:`get_config`). Loading is strict: missing, unexpected or
mis-shaped tensors are named in the error, with the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from layerwise.errors import DataError
from layerwise.fileio import atomic_path
from layerwise.networks.sequential import Sequential, StateDictError, network_from_config

__all__ = [
    "save_model",
    "load_model",
    "load_weights",
    "read_safetensors",
    "write_safetensors",
    "MODEL_FORMAT",
    "FORMAT_VERSION",
]

MODEL_FORMAT = "layerwise-model"
FORMAT_VERSION = "1"

PathLike = str | os.PathLike[str]


def write_safetensors(path: PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` to ``path`` atomically (temp file, then rename)."""
    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(contiguous, str(tmp), metadata=metadata)


def read_safetensors(path: PathLike, expected_format: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read tensors and metadata, checking the ``format`` and ``format_version`` entries."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        tensors = load_file(str(p))
        with open(p, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(header_len))
    except (SafetensorError, ValueError, OSError) as exc:
        raise DataError(f"{p}: not a readable safetensors file ({exc})") from None
    metadata: dict[str, str] = header.get("__metadata__") or {}
    fmt = metadata.get("format")
    if fmt != expected_format:
        raise DataError(f"{p}: expected a {expected_format!r} file, found format {fmt!r}")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise DataError(
            f"{p}: expected format_version {FORMAT_VERSION}, found {version!r} "
            "(made by another layerwise version?)"
        )
    return tensors, metadata


def save_model(network: Sequential, path: PathLike, extra_metadata: dict[str, Any] | None = None) -> None:
    """Save ``network``'s architecture and weights to a safetensors file, atomically."""
    metadata = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": json.dumps(network.get_config()),
    }
    for key, value in (extra_metadata or {}).items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    write_safetensors(path, network.state_dict(), metadata)


def load_weights(network: Sequential, path: PathLike, strict: bool = True) -> None:
    """Load the weights of a model file into an existing ``network`` (strict by default)."""
    tensors, _ = read_safetensors(path, MODEL_FORMAT)
    try:
        network.load_state_dict(tensors, strict=strict)
    except StateDictError as exc:
        raise DataError(f"{path}: {exc}") from None


def load_model(path: PathLike) -> Sequential:
    """Rebuild the network saved in ``path`` and load its weights (strictly)."""
    tensors, metadata = read_safetensors(path, MODEL_FORMAT)
    try:
        config = json.loads(metadata["architecture"])
        if not isinstance(config, dict):
            raise TypeError(f"architecture is a JSON {type(config).__name__}, not an object")
        network = network_from_config(config)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: cannot rebuild the architecture from its metadata ({exc})") from None
    try:
        network.load_state_dict(tensors, strict=True)
    except StateDictError as exc:
        raise DataError(f"{path}: {exc}") from None
    return network
