"""Page 1: the figures of ``layerwise graph`` as JSON, computed by :mod:`layerwise.figures.graph`.

The server computes; the browser only draws. Each figure's editable inputs are the keyword
arguments of its function in :data:`layerwise.figures.graph.FIGURES` (``apple(price, num, tax)``,
``softmax_loss(x, t)``...), read from its signature, so a figure added there appears here
with its inputs. A figure's own checks (NaN, a label out of range) become a 422 with the
figure's message.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
from typing import Any

import numpy as np

from layerwise.errors import ConfigError
from layerwise.figures.graph import FIGURES
from layerwise.figures.graph.core import CONST, INPUT, Graph
from layerwise.figures.graph.dot import edge_texts
from layerwise.figures.graph.fmt import format_value
from layerwise.playground.validation import BadRequest, describe, finite_float, get_number_list

__all__ = ["figure_specs", "figure_json", "compute_figure"]

#: Arrays up to this many numbers are sent as numbers too (the texts are always sent).
MAX_RAW = 64
#: The longest list an input of a figure may be (softmax-loss scores).
MAX_SCORES = 20
#: The largest integer input (a seed, a label) passed on to a figure; JSON carries any length.
MAX_INTEGER = 2**63 - 1


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "unsupported"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    if isinstance(default, tuple | list) and all(isinstance(v, int | float) for v in default):
        return "numbers"
    return "unsupported"


#: What the page fills in for an optional input whose default is ``None`` (the figure then
#: picks its own value; these are the values it picks, so the page shows them).
SHOWN_DEFAULTS: dict[tuple[str, str], list[float]] = {("softmax-loss", "x"): [0.3, 2.9, 4.0]}


def _figure_label(name: str, param: str, kind: str, default: Any) -> str:
    """The label the figure draws for the input ``param`` feeds (``apple`` for ``apple(price=)``),
    found by changing that input alone; ``param`` itself when no single drawn input changes."""
    if default is None or kind not in ("number", "integer", "numbers"):
        return param
    changed = [v + 1 for v in default] if kind == "numbers" else default + 1
    try:
        base, moved = FIGURES[name](**{param: default}), FIGURES[name](**{param: changed})
    except (ConfigError, TypeError, ValueError):
        return param
    labels = {a.label for a, b in zip(base.nodes, moved.nodes, strict=False)
              if a.op == INPUT and a.value is not None and b.value is not None
              and (a.value.shape != b.value.shape or not np.array_equal(a.value, b.value))}
    return labels.pop() if len(labels) == 1 else param


def figure_specs() -> list[dict[str, Any]]:
    """Every figure with its editable inputs: ``[{name, doc, title, params: [{name, label,
    kind, default, optional}]}]``: ``label`` is what the figure calls the input (``apple`` for
    ``price``), ``title`` the doc's words before its example. An input whose default is
    ``None`` and whose annotation names a ``Sequence`` is an optional list of numbers (left
    empty, the figure's own choice)."""
    return copy.deepcopy(_specs())


@functools.lru_cache(maxsize=1)
def _specs() -> list[dict[str, Any]]:
    specs = []
    for name, func in FIGURES.items():
        params = []
        for p in inspect.signature(func).parameters.values():
            if p.default is None and "Sequence" in str(p.annotation):
                shown = SHOWN_DEFAULTS.get((name, p.name))
                params.append({"name": p.name, "kind": "numbers", "optional": True, "default": shown,
                               "label": _figure_label(name, p.name, "numbers", shown)})
                continue
            kind = _kind(p.default)
            if kind != "unsupported":
                default = list(p.default) if kind == "numbers" else p.default
                params.append({"name": p.name, "kind": kind, "default": default, "optional": False,
                               "label": _figure_label(name, p.name, kind, default)})
        doc = (inspect.getdoc(func) or name).split("\n\n")[0].replace("\n", " ").replace("``", "")
        specs.append({"name": name, "doc": doc, "title": doc.split(":")[0].rstrip("."), "params": params})
    return specs


def _spec(name: str) -> dict[str, Any]:
    for spec in _specs():
        if spec["name"] == name:
            return spec
    raise BadRequest(f"unknown figure {name!r}; figures: {', '.join(FIGURES)}", 404)


def _checked_params(spec: dict[str, Any], given: Any) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise BadRequest("params: expected an object of the figure's inputs")
    kinds = {p["name"]: p["kind"] for p in spec["params"]}
    unknown = sorted(set(given) - set(kinds))
    if unknown:
        raise BadRequest(f"figure {spec['name']!r} has no input {unknown[0]!r}; "
                         f"inputs: {', '.join(kinds) or 'none'}", 422)
    out: dict[str, Any] = {}
    optional = {p["name"] for p in spec["params"] if p["optional"]}
    for key, value in given.items():
        kind = kinds[key]
        if value is None and key in optional:
            continue
        if kind == "numbers":
            out[key] = get_number_list(value, key, MAX_SCORES)
        elif kind == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest(f"{key}: expected an integer, got {describe(value)}")
            if abs(value) > MAX_INTEGER:
                raise BadRequest(f"{key}: expected an integer of at most {len(str(MAX_INTEGER))} digits, "
                                 f"got {describe(value)}", 422)
            out[key] = value
        else:
            number = finite_float(value)
            if number is None:
                raise BadRequest(f"{key}: expected a finite number, got {describe(value)}")
            out[key] = number
    return out


def compute_figure(name: str, params: Any = None) -> Graph:
    """The figure ``name`` computed by the library with ``params`` (checked) as its inputs."""
    spec = _spec(name)
    kwargs = _checked_params(spec, params)
    try:
        return FIGURES[name](**kwargs)
    except ConfigError as exc:
        raise BadRequest(str(exc), 422) from None


#: How a number JSON cannot carry is sent in ``value`` and ``grad`` (the texts show it as the
#: CLI's figure does: ``inf``).
NON_FINITE = {math.inf: "inf", -math.inf: "-inf"}


def _json_number(v: float) -> float | str:
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else NON_FINITE[v]


def _raw(value: np.ndarray[Any, Any] | None) -> Any:
    """The numbers of ``value`` as nested lists, ``inf``, ``-inf`` and ``nan`` as those strings
    (JSON has no such numbers: the sigmoid of x = -1000 has exp(1000) = inf on an edge)."""
    if value is None or value.size > MAX_RAW:
        return None
    flat = [_json_number(float(v)) for v in np.asarray(value, dtype=np.float64).ravel()]
    if value.ndim == 0:
        return flat[0]
    return np.array(flat, dtype=object).reshape(value.shape).tolist()


def _kind_of(op: str) -> str:
    return op if op in (INPUT, CONST, "output") else "op"


def figure_json(graph: Graph) -> dict[str, Any]:
    """What the page draws: nodes, edges with their forward and gradient texts, groups, notes.

    Edge texts are those of the DOT figure (:func:`layerwise.figures.graph.dot.edge_texts`), so the
    page and ``layerwise graph`` show the same numbers; ``value`` and ``grad`` are the numbers
    themselves (for arrays up to :data:`MAX_RAW` entries), for tests and tooltips; a number
    beyond float64 is the string ``"inf"``, ``"-inf"`` or ``"nan"`` there (:data:`NON_FINITE`).
    """
    nodes = []
    for n in graph.nodes:
        shape = n.impl.shape if n.impl is not None else "plain"
        nodes.append({
            "id": n.id, "op": n.op, "kind": _kind_of(n.op), "label": n.label, "group": n.group,
            "shape": shape, "value": _raw(n.value),
            "grad": _raw(n.grad), "text": format_value(n.value, shapes_only=graph.shapes_only),
        })
    edges = []
    for e in graph.edges:
        fwd, grad = edge_texts(e, shapes_only=graph.shapes_only)
        edges.append({"src": e.src.id, "dst": e.dst.id, "slot": e.slot, "fwd": fwd, "grad_text": grad,
                      "value": _raw(e.value), "grad": _raw(e.grad)})
    return {"name": graph.name, "shapes_only": graph.shapes_only, "nodes": nodes, "edges": edges,
            "groups": dict(graph.groups), "notes": list(graph.notes),
            "outputs": [n.id for n in graph.outputs]}
