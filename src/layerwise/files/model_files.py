"""Model files: weights in safetensors, the architecture in its metadata; no pickle.

A model file holds one tensor per entry of the network's :meth:`state_dict` and, in the
header's metadata, ``format`` (``"layerwise-model"``), ``format_version`` and
``architecture`` (the JSON of :meth:`get_config`).

Reading is strict, and checks before it builds. The architecture is parsed by one validating
reader (:class:`Metadata`), the shapes of the weights it implies are computed without
allocating them (:func:`~layerwise.networks.sequential.config_shapes`) and compared with the
file's tensors, and every tensor must have the architecture's floating dtype and hold no NaN
or infinity; only then is a network built. So a file asking for a 5 TiB weight, holding
integer weights or an ``int8`` architecture, or NaN weights, is refused with a
:class:`~layerwise.errors.DataError` naming the file, the tensor or entry, what was expected
and what was found, and never yields a network that answers 10% on MNIST.

A float64 (or float16) tensor in a float32 architecture is refused, not cast: :func:`save_model`
always writes the two alike, so a mismatch means the file was made or edited elsewhere, and a
silent cast would hide that (and may lose precision). :func:`load_weights` does cast a
consistent file's weights to the dtype of the network it fills: that network's dtype is the
caller's explicit choice.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import save_file

from layerwise.errors import ConfigError, DataError, LayerwiseError, OutputError, short_repr
from layerwise.files.fileio import atomic_path
from layerwise.files.safetensors_io import DIGEST_KEY, TensorSpec, read_header, read_tensors, tensor_digest
from layerwise.networks.config import Shapes, StateDictError, mismatch_problems
from layerwise.networks.sequential import Sequential, config_shapes, network_from_config

__all__ = [
    "save_model",
    "load_model",
    "load_model_and_metadata",
    "load_weights",
    "read_safetensors",
    "write_safetensors",
    "Metadata",
    "check_tensors",
    "build_network",
    "MODEL_FORMAT",
    "FORMAT_VERSION",
    "MAX_JSON_DEPTH",
    "DIGEST_KEY",
    "UnverifiedFileWarning",
]

MODEL_FORMAT = "layerwise-model"
FORMAT_VERSION = "1"

#: The deepest nesting of lists and objects a metadata entry's JSON may have. A network's
#: config nests four deep; a limit keeps hostile input from exhausting the recursion limit.
MAX_JSON_DEPTH = 32

PathLike = str | os.PathLike[str]

#: What a reader before reading is given: the metadata, and the tensors as the header describes them.
Check = Callable[["Metadata", Mapping[str, TensorSpec]], None]


class UnverifiedFileWarning(UserWarning):
    """A model file or checkpoint holds no integrity digest (it was written before layerwise
    stored one), so its tensors were loaded unverified. The command line shows it as one
    ``layerwise: warning:`` line."""

_MISSING: Any = object()
_DECIMAL = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"


def write_safetensors(path: PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` to ``path`` atomically (temp file, then rename),
    with the tensors' SHA-256 digest in the metadata entry :data:`DIGEST_KEY`."""
    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    metadata = {**metadata, DIGEST_KEY: tensor_digest(contiguous)}
    with atomic_path(path) as tmp:
        try:
            save_file(contiguous, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSError
            raise OutputError(f"{path}: could not be written ({exc}); any earlier version of "
                              "it is intact") from None


def read_safetensors(path: PathLike, expected_format: str,
                     check: Check | None = None) -> tuple[dict[str, np.ndarray], Metadata]:
    """Read tensors and metadata, checking the ``format`` and ``format_version`` entries.

    Nothing is read before the header is checked whole (:func:`~layerwise.files.safetensors_io.read_header`:
    dtypes, shapes, offsets against the file's real size); then ``check(metadata, specs)``, if
    given, compares the tensors the header describes with what the caller expects (a model's
    architecture), still before any tensor is read. The tensors read are verified against the
    digest the file records (:data:`DIGEST_KEY`); a file without one (written before layerwise
    stored it) loads with an :class:`UnverifiedFileWarning`.

    The metadata comes back as a :class:`Metadata` (a ``dict`` of text by key) whose readers
    parse and check the other entries. Raises :class:`~layerwise.errors.DataError` for a file
    that is missing, not safetensors, of another format or version, or whose tensors do not
    match their digest.
    """
    p = Path(path)
    what = "layerwise checkpoint" if "checkpoint" in expected_format else "layerwise model file"
    header = read_header(p, what)
    metadata = Metadata(p, header.metadata)
    fmt = metadata.get("format")
    if fmt != expected_format:
        raise DataError(f"{p}: expected a {expected_format!r} file, found format {short_repr(fmt)}")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise DataError(
            f"{p}: expected format_version {FORMAT_VERSION}, found {short_repr(version)} "
            "(made by another layerwise version?)"
        )
    if check is not None:
        check(metadata, header.tensors)
    tensors = read_tensors(p, header)
    verify_digest(p, tensors, metadata)
    return tensors, metadata


def verify_digest(path: Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> None:
    """Check ``tensors`` against the digest in ``metadata`` (DataError naming the file, the
    recorded and the actual digest); warn (:class:`UnverifiedFileWarning`) when there is none."""
    recorded = metadata.get(DIGEST_KEY)
    if recorded is None:
        warnings.warn(f"{path}: holds no integrity digest (written before layerwise stored one); "
                      "its tensors are loaded unverified", UnverifiedFileWarning, stacklevel=3)
        return
    if not re.fullmatch(r"[0-9a-f]{64}", recorded):
        raise DataError(f"{path}: metadata {DIGEST_KEY!r}: expected 64 hex digits (a SHA-256 "
                        f"digest), found {short_repr(recorded)}")
    actual = tensor_digest(tensors)
    if actual != recorded:
        raise DataError(f"{path}: the tensors do not match the file's digest: expected SHA-256 "
                        f"{recorded}, found {actual}; the file was damaged or edited after it was written")


class Metadata(dict[str, str]):
    """The metadata of a safetensors file (text by key), with validating readers.

    Each reader parses one entry, checks its kind and range and returns the value, also kept
    in :attr:`parsed` by key; anything else raises a :class:`~layerwise.errors.DataError`
    naming the file, the entry, what was expected and what was found. A reader given a
    ``default`` returns it for a missing entry.
    """

    def __init__(self, path: Path, entries: Mapping[str, str]) -> None:
        super().__init__(entries)
        self.path = path
        #: The values the readers returned, by key.
        self.parsed: dict[str, Any] = {}

    def fail(self, key: str, expected: str, found: str) -> NoReturn:
        """Raise the DataError of entry ``key``."""
        raise DataError(f"{self.path}: metadata {key!r}: expected {expected}, found {found}")

    def _entry(self, key: str, expected: str, default: Any) -> str | None:
        """The text of entry ``key``; None when it is missing and has a default."""
        if key in self:
            return self[key]
        if default is _MISSING:
            self.fail(key, expected, "no such entry")
        return None

    def json(self, key: str, kinds: type | tuple[type, ...], expected: str, default: Any = _MISSING) -> Any:
        """Entry ``key`` parsed as JSON, checked to be of Python type ``kinds`` (a bool is not
        an int here unless ``kinds`` names bool)."""
        raw = self._entry(key, expected, default)
        value = default if raw is None else parse_json(raw, lambda why: self.fail(key, expected, why))
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            self.fail(key, expected, short_repr(value))
        self.parsed[key] = value
        return value

    def integer(self, key: str, minimum: int = 0, default: Any = _MISSING) -> Any:
        """Entry ``key`` as a decimal integer ``>= minimum`` (at most 18 digits)."""
        expected = f"an integer >= {minimum}"
        raw = self._entry(key, expected, default)
        if raw is None:
            value = default
        elif re.fullmatch(r"-?[0-9]{1,18}", raw) and int(raw) >= minimum:
            value = int(raw)
        else:
            self.fail(key, expected, short_repr(raw))
        self.parsed[key] = value
        return value

    def number(self, key: str, minimum: float = 0.0, default: Any = _MISSING) -> Any:
        """Entry ``key`` as a finite decimal number ``>= minimum`` (as ``repr(float)`` writes it)."""
        expected = f"a finite number >= {minimum:g}"
        raw = self._entry(key, expected, default)
        if raw is None:
            value = default
        elif len(raw) <= 64 and re.fullmatch(_DECIMAL, raw) and math.isfinite(float(raw)) \
                and float(raw) >= minimum:
            value = float(raw)
        else:
            self.fail(key, expected, short_repr(raw))
        self.parsed[key] = value
        return value

    def architecture(self, tensors: Mapping[str, np.ndarray | TensorSpec],
                     prefix: str = "") -> dict[str, Any]:
        """Entry ``"architecture"`` (a network's ``get_config()``), checked to describe a
        network whose weights are exactly the tensors named ``prefix + key`` (see
        :func:`check_tensors`; given the :class:`~layerwise.files.safetensors_io.TensorSpec` of a
        header, before the tensors are read): no network is built, nothing large is allocated."""
        config: dict[str, Any] = self.json("architecture", dict, "a JSON object (a network's get_config())")
        try:
            expected = config_shapes(config)
        except LayerwiseError as exc:  # ConfigError, ShapeError: a config that describes no network
            raise DataError(f"{self.path}: architecture: {exc}") from None
        dtype = np.dtype(config.get("dtype", "float32"))  # config_shapes checked it
        check_tensors(self.path, tensors, expected, dtype, prefix)
        return config

    def records(self, key: str, cls: type[Any]) -> list[Any]:
        """Entry ``key`` as a JSON list of objects, each the fields of dataclass ``cls`` (of
        the types its annotations give: ``int``, ``float``, ``str``, ``X | None``)."""
        expected = f"a JSON list of {cls.__name__} objects"
        items = self.json(key, list, expected)
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        required = [name for name, f in fields.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        out = []
        for k, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(key, expected, f"item {k}: {short_repr(item)}")
            missing = [name for name in required if name not in item]
            unknown = [str(name) for name in item if name not in fields]
            if missing or unknown:
                self.fail(key, expected, f"item {k}: missing {missing}, unknown {short_repr(unknown)}")
            for name, value in item.items():
                if not _has_type(value, hints[name]):
                    self.fail(key, expected, f"item {k}: {name} = {short_repr(value)}")
            out.append(cls(**item))
        self.parsed[key] = out
        return out

    def rng_state(self, key: str, default: Any = _MISSING) -> dict[str, Any] | None:
        """Entry ``key`` as the JSON of a NumPy bit generator's ``state`` (see
        :func:`check_rng_state`)."""
        expected = "the JSON of a PCG64 random generator's state"
        if key not in self and default is not _MISSING:
            self.parsed[key] = default
            return typing.cast("dict[str, Any] | None", default)
        state = check_rng_state(self.json(key, dict, expected), lambda why: self.fail(key, expected, why))
        self.parsed[key] = state
        return state


def _has_type(value: Any, hint: Any) -> bool:
    """Whether the JSON ``value`` fits the annotation ``hint``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_has_type(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def parse_json(text: str, fail: Any) -> Any:
    """``text`` as JSON nested at most :data:`MAX_JSON_DEPTH` deep; otherwise
    ``fail(why)``, which raises."""
    try:
        value = json.loads(text)
    except RecursionError:  # nested deeper than the interpreter's recursion limit
        fail("JSON nested too deep")
    except ValueError as exc:  # JSONDecodeError, and an integer of more than 4300 digits
        fail(f"invalid JSON ({exc})")
    stack = [(value, 1)]
    while stack:  # a loop, not recursion: the value may be deep
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > MAX_JSON_DEPTH:
                fail(f"JSON nested more than {MAX_JSON_DEPTH} deep")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value


#: Bounds of the integers in the state of a PCG64 generator (``state`` and ``inc`` are
#: 128-bit; ``uinteger`` a buffered 32-bit draw; ``has_uint32`` a flag).
_PCG64_BOUNDS = {"state": 2**128, "inc": 2**128, "has_uint32": 2, "uinteger": 2**32}
_PCG64_TEMPLATE = {"bit_generator": str, "state": {"state": int, "inc": int}, "has_uint32": int,
                   "uinteger": int}


def check_rng_state(state: Any, fail: Any) -> dict[str, Any]:
    """``state`` checked to be a ``PCG64`` or ``PCG64DXSM`` bit generator's ``state`` dict
    (the generators ``np.random.default_rng`` makes, and the only ones whose state is JSON),
    with every integer in range; otherwise ``fail(why)``, which raises."""

    def check(value: Any, template: Any, where: str) -> None:
        if isinstance(template, dict):
            if not isinstance(value, dict) or set(value) != set(template):
                fail(f"{where or 'the state'} = {short_repr(value)}, not an object with keys "
                     f"{sorted(template)}")
            for k, sub in template.items():
                check(value[k], sub, k)
        elif template is int:
            if not (isinstance(value, int) and not isinstance(value, bool)
                    and 0 <= value < _PCG64_BOUNDS[where]):
                fail(f"{where} = {short_repr(value)}, not an integer in [0, {_PCG64_BOUNDS[where]})")

    check(state, _PCG64_TEMPLATE, "")
    if state["bit_generator"] not in ("PCG64", "PCG64DXSM"):
        fail(f"bit_generator {short_repr(state['bit_generator'])}")
    return typing.cast("dict[str, Any]", state)


def check_tensors(path: PathLike, tensors: Mapping[str, np.ndarray | TensorSpec], expected: Shapes,
                  dtype: np.dtype[Any], prefix: str = "") -> None:
    """Check that the tensors named ``prefix + key`` are exactly the entries of ``expected``
    (the shapes an architecture implies), each of that shape, of ``dtype`` and (the arrays
    among them; a :class:`~layerwise.files.safetensors_io.TensorSpec` holds no values yet) finite.

    Raises :class:`~layerwise.errors.DataError` naming the file and every missing, unexpected
    and mis-shaped tensor, or the first of another dtype or holding NaN or infinity.
    """
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing = [prefix + k for k in expected if k not in state]
    unexpected = [_plain(prefix + k) for k in state if k not in expected]
    wrong = [f"{prefix}{k}: the architecture implies shape {short_repr(shape)}, "
             f"the file holds {state[k].shape}"
             for k, shape in expected.items() if k in state and state[k].shape != shape]
    problems = mismatch_problems(missing, unexpected, wrong)
    if problems:
        raise DataError(f"{path}: the tensors do not fit the architecture: " + " | ".join(problems))
    for key in expected:
        name, arr = prefix + key, state[key]
        if arr.dtype != dtype:
            raise DataError(f"{path}: tensor {name!r} is {arr.dtype}, expected {dtype} like the "
                            "architecture's dtype")
    check_finite_tensors(path, {prefix + key: arr for key in expected
                                if isinstance(arr := state[key], np.ndarray)})


def _plain(name: str) -> str:
    """A tensor's name as it is when it is short and plain, else quoted and cut short."""
    return name if re.fullmatch(r"[\w./-]{1,64}", name, re.ASCII) else short_repr(name)


def check_finite_tensors(path: PathLike, tensors: Mapping[str, np.ndarray]) -> None:
    """Check that every tensor is floating and holds no NaN or infinity (DataError naming
    the first that does, and how many such values it has)."""
    for name, arr in tensors.items():
        if arr.dtype.kind != "f":
            raise DataError(f"{path}: tensor {short_repr(name)} is {arr.dtype}, expected a floating dtype")
        if np.isfinite(arr).all():
            continue
        nan, inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
        counts = " and ".join(f"{n} {what} values" for n, what in ((nan, "NaN"), (inf, "infinite")) if n)
        raise DataError(f"{path}: tensor {short_repr(name)} has {counts} (of {arr.size}); "
                        "weights must be finite")


def build_network(path: PathLike, config: dict[str, Any]) -> Sequential:
    """The network of an architecture checked by :meth:`Metadata.architecture` (placeholder
    weights); a constructor's refusal (a BatchNorm momentum of 5, say) becomes a DataError."""
    try:
        return network_from_config(config)
    except LayerwiseError as exc:  # ConfigError, ShapeError: the library's own refusals
        raise DataError(f"{path}: architecture: {exc}") from None


def save_model(network: Sequential, path: PathLike, extra_metadata: dict[str, Any] | None = None) -> None:
    """Save ``network``'s architecture and weights to a safetensors file, atomically."""
    if not isinstance(network, Sequential):
        raise ConfigError(f"save_model: expected a network (a Sequential), got {type(network).__name__}")
    metadata = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": json.dumps(network.get_config()),
    }
    for key, value in (extra_metadata or {}).items():
        if key in metadata or key == DIGEST_KEY:
            raise ConfigError(f"save_model: extra_metadata may not set {key!r}, which the file "
                              "format itself holds")
        try:
            metadata[str(key)] = value if isinstance(value, str) else json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"save_model: extra_metadata[{key!r}] cannot be stored as JSON "
                              f"({exc})") from None
    state = network.state_dict()
    for key, value in state.items():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:  # load_model would refuse the file: refuse to write it
            raise ConfigError(f"save_model: {key} has {bad} NaN or infinite values (of "
                              f"{np.size(value)}); a model file holds finite weights only")
    write_safetensors(path, state, metadata)


def _fits_architecture(metadata: Metadata, specs: Mapping[str, TensorSpec]) -> None:
    metadata.architecture(specs)


def _read_model(path: PathLike) -> tuple[dict[str, np.ndarray], Metadata]:
    """The tensors and the metadata of a model file, checked against each other: the
    architecture against the header before any tensor is read, the values after."""
    tensors, metadata = read_safetensors(path, MODEL_FORMAT, check=_fits_architecture)
    check_finite_tensors(path, tensors)
    return tensors, metadata


def load_weights(network: Sequential, path: PathLike, strict: bool = True) -> None:
    """Load the weights of a model file into an existing ``network`` (strict by default).

    The file is checked whole first, as by :func:`load_model` (its tensors must fit its own
    architecture, in its dtype, finite); the weights are then cast to ``network``'s dtype.
    """
    tensors, _ = _read_model(path)
    try:
        network.load_state_dict(tensors, strict=strict)
    except StateDictError as exc:
        raise DataError(f"{path}: {exc}") from None


def load_model(path: PathLike) -> Sequential:
    """Rebuild the network saved in ``path`` and load its weights (strictly).

    Raises :class:`~layerwise.errors.DataError` for anything but a model file whose
    architecture describes a network and whose tensors are exactly that network's weights, in
    its dtype, finite (see the module docstring); nothing is allocated before that is known.
    """
    return load_model_and_metadata(path)[0]


def load_model_and_metadata(path: PathLike) -> tuple[Sequential, Metadata]:
    """:func:`load_model`, and the file's metadata from the same read (what ``save_model``'s
    ``extra_metadata`` stored, such as the data a model was trained on)."""
    tensors, metadata = _read_model(path)
    network = build_network(path, metadata.parsed["architecture"])
    try:
        network.load_state_dict(tensors, strict=True)
    except StateDictError as exc:
        raise DataError(f"{path}: {exc}") from None
    return network, metadata
