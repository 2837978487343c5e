"""The old name of :mod:`layerwise.model_files`, kept so that existing code keeps working.

``layerwise.io.save_model`` / ``load_model`` (as the README has long shown them) are the very
functions of :mod:`layerwise.model_files`; new code should import from there, whose name says
what it holds (and does not shadow the standard library's :mod:`io`).
"""

from __future__ import annotations

from layerwise.model_files import (
    FORMAT_VERSION,
    MAX_JSON_DEPTH,
    MODEL_FORMAT,
    Metadata,
    build_network,
    check_tensors,
    load_model,
    load_weights,
    read_safetensors,
    save_model,
    write_safetensors,
)

__all__ = [
    "save_model",
    "load_model",
    "load_weights",
    "read_safetensors",
    "write_safetensors",
    "Metadata",
    "check_tensors",
    "build_network",
    "MODEL_FORMAT",
    "FORMAT_VERSION",
    "MAX_JSON_DEPTH",
]
