"""Request bodies: size-limited, parsed strictly, each field checked with a message naming it.

Every refusal is a :class:`BadRequest` carrying an HTTP status (400 malformed, 404 unknown,
409 not now, 413 too big, 415 not JSON, 422 a value out of range) and one line of text; the
server turns it into ``{"error": message}`` with that status, never a traceback.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

__all__ = ["BadRequest", "parse_json_body", "get_int", "get_float", "get_choice", "get_number_list",
           "finite_float", "describe", "MAX_BODY_BYTES"]

#: The largest request body accepted, in bytes (a drawn digit is about 100 kB of JSON).
MAX_BODY_BYTES = 1_000_000


class BadRequest(Exception):
    """A request the server refuses: ``status`` and a one-line ``message`` for the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _no_constants(name: str) -> Any:
    raise BadRequest(f"the body holds {name}, which is not a number JSON allows", 400)


def parse_json_body(body: bytes, content_type: str | None, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """``body`` as a JSON object; :class:`BadRequest` for anything else.

    JSON only (a form post from another site is refused, 415), at most ``limit`` bytes (413),
    UTF-8, no ``NaN`` or ``Infinity`` (Python's parser accepts them; the standard does not).
    """
    if len(body) > limit:
        raise BadRequest(f"request body of {len(body)} bytes is over the limit of {limit}", 413)
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime != "application/json":
        raise BadRequest(f"expected a JSON body (Content-Type: application/json), got {mime or 'none'!r}",
                         415)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"expected a JSON object, got {type(data).__name__}")
    return data


def describe(value: Any) -> str:
    """``value`` shown in a message: short JSON, or its type, or an integer's count of digits."""
    plain = isinstance(value, str | int | float | bool | type(None))
    text = json.dumps(value) if plain else type(value).__name__
    if len(text) <= 40:
        return text
    if isinstance(value, int) and not isinstance(value, bool):
        return f"an integer of {len(text.lstrip('-'))} digits"
    return text[:37] + "..."


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` if it is not a real number or is beyond float64
    (JSON carries integers of any length: ``10**400`` is a valid body, and no float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        v = float(value)
    except OverflowError:
        return None
    return v if math.isfinite(v) else None


def get_int(data: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    """``data[key]`` as an integer in ``low..high`` (422 outside it, 400 if not an integer)."""
    value = data.get(key, default)
    if value is None:
        raise BadRequest(f"{key}: missing (an integer in {low}..{high})")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key}: expected an integer in {low}..{high}, got {describe(value)}")
    if not low <= value <= high:
        raise BadRequest(f"{key}: expected an integer in {low}..{high}, got {describe(value)}", 422)
    return value


def get_float(data: dict[str, Any], key: str, low: float, high: float, default: float | None = None) -> float:
    """``data[key]`` as a finite number in ``(low, high]`` (exclusive low: learning rates)."""
    value = data.get(key, default)
    if value is None:
        raise BadRequest(f"{key}: missing (a number in ({low:g}, {high:g}])")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadRequest(f"{key}: expected a number, got {describe(value)}")
    v = finite_float(value)
    if v is None or not low < v <= high:
        raise BadRequest(f"{key}: expected a number in ({low:g}, {high:g}], got {describe(value)}", 422)
    return v


def get_choice(data: dict[str, Any], key: str, choices: tuple[str, ...] | list[str],
               default: str | None = None) -> str:
    """``data[key]``, one of ``choices``."""
    value = data.get(key, default)
    if not isinstance(value, str) or value not in choices:
        raise BadRequest(f"{key}: expected one of {', '.join(choices)}, got {describe(value)}", 422)
    return value


def get_number_list(value: Any, what: str, max_len: int) -> list[float]:
    """``value`` as a non-empty list of finite numbers, at most ``max_len`` of them."""
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{what}: expected a non-empty list of numbers, got {describe(value)}")
    if len(value) > max_len:
        raise BadRequest(f"{what}: at most {max_len} numbers, got {len(value)}", 422)
    out = []
    for i, v in enumerate(value):
        number = finite_float(v)
        if number is None:
            raise BadRequest(f"{what}[{i}]: expected a finite number, got {describe(v)}")
        out.append(number)
    return out
