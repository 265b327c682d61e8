"""Typed readers for fields of an MLflow REST request or response.

MLflow's JSON follows protobuf's JSON mapping: int64 fields may arrive as numbers
or decimal strings, doubles as numbers or the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"``, enums by name or number. Each reader accepts exactly what
protobuf's parser accepts for that field type and raises ``InvalidInput`` naming
the field otherwise, so a wrong type is a 400, never a 500.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

from kiln.errors import InvalidInput

JsonObject = Mapping[str, Any]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT64_DIGITS = len(str(INT64_MAX))  # 19
# MLflow's protobuf JSON parser refuses messages nested deeper (max_recursion_depth);
# Kiln's deepest message is a handful of levels. Past it, repr() and copies of a
# value would run out of Python's recursion limit.
MAX_JSON_DEPTH = 100
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


_PREVIEW = reprlib.Repr()
_PREVIEW.maxlevel = 3
_PREVIEW.maxstring = _PREVIEW.maxother = _PREVIEW.maxlong = 60


def _preview(value: object) -> str:
    """A short repr for error messages: bounded in length and nesting, so a hostile
    value (deeply nested, thousands of digits) cannot fail the error itself."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"<a {value.bit_length()}-bit integer>"
    return _PREVIEW.repr(value)


def nested_deeper_than(document: object, raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether decoded JSON nests arrays and objects more than ``limit`` levels deep.

    ``raw`` is the text it was decoded from: with at most ``limit`` brackets in it
    the answer is no without a walk (a ``log-metric`` body has one). The walk keeps
    its own stack, so a deep document cannot exhaust Python's.
    """
    if isinstance(raw, bytes):
        brackets = raw.count(b"[") + raw.count(b"{")
    else:
        brackets = raw.count("[") + raw.count("{")
    if brackets <= limit:
        return False
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        for child in children:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def require_object(value: object, what: str = "request body") -> JsonObject:
    """Check that a decoded JSON document is an object."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a JSON object, got {_type_name(value)}")
    return value


def opt_str(body: JsonObject, name: str) -> str | None:
    """A string field, or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(
            f"field {name!r} must be a string, got {_type_name(value)} {_preview(value)}"
        )
    return value


def req_str(body: JsonObject, name: str) -> str:
    """A required, non-empty string field."""
    value = opt_str(body, name)
    if value is None or value == "":
        raise InvalidInput(f"missing value for required field {name!r}")
    return value


def _int64(number: int, name: str) -> int:
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInput(f"field {name!r} is out of the int64 range: {_preview(number)}")
    return number


def int_from_digits(text: str) -> int | None:
    """``int(text)`` for ``[-]<ASCII digits>``; None past ``INT64_DIGITS`` significant
    digits (beyond int64 anyway, and ``int()`` raises a bare ValueError past 4,300
    digits, leading zeros included)."""
    negative = text.startswith("-")
    significant = text[1 if negative else 0 :].lstrip("0") or "0"
    if len(significant) > INT64_DIGITS:
        return None
    number = int(significant)
    return -number if negative else number


def as_int(value: object, name: str) -> int:
    """Read an int64 value: an integer, an integral float, or a decimal string,
    within ``[INT64_MIN, INT64_MAX]`` (protobuf refuses the rest; no store can keep it)."""
    if isinstance(value, bool):
        raise InvalidInput(f"field {name!r} must be an integer, got a boolean")
    if isinstance(value, int):
        return _int64(value, name)
    if isinstance(value, float) and value.is_integer():
        return _int64(int(value), name)
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        # ASCII only: str.isdigit() is also true for "³", which int() refuses
        if digits.isascii() and digits.isdigit():
            number = int_from_digits(text)
            if number is None:
                raise InvalidInput(
                    f"field {name!r} is out of the int64 range: {len(digits)} digits, "
                    f"the limit is {INT64_DIGITS}"
                )
            return _int64(number, name)
    raise InvalidInput(
        f"field {name!r} must be an integer, got {_type_name(value)} {_preview(value)}"
    )


def opt_int(body: JsonObject, name: str) -> int | None:
    value = body.get(name)
    return None if value is None else as_int(value, name)


def as_float(value: object, name: str) -> float:
    """Read a double: a number, a numeric string, or NaN/Infinity by name."""
    if isinstance(value, bool):
        raise InvalidInput(f"field {name!r} must be a number, got a boolean")
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer literal beyond the double range
            raise InvalidInput(f"field {name!r} is out of the double range") from None
    if isinstance(value, str):
        special = _SPECIAL_FLOATS.get(value)
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidInput(
        f"field {name!r} must be a number, got {_type_name(value)} {_preview(value)}"
    )


def float_to_json(value: float) -> float | str:
    """Encode a double the way protobuf's JSON mapping does (NaN and infinities as strings)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def opt_list(body: JsonObject, name: str) -> list[Any]:
    """A repeated field; absent or null reads as empty."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"field {name!r} must be a list, got {_type_name(value)}")
    return value


def str_list(body: JsonObject, name: str) -> list[str]:
    """A repeated string field."""
    items = opt_list(body, name)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInput(f"field {name!r}[{index}] must be a string, got {_type_name(item)}")
    return items


def object_list(body: JsonObject, name: str) -> list[JsonObject]:
    """A repeated message field."""
    items = opt_list(body, name)
    if all(type(item) is dict for item in items):  # decoded JSON: skip the per-item check
        return list(items)
    return [require_object(item, f"{name}[{index}]") for index, item in enumerate(items)]


def opt_enum(body: JsonObject, name: str, members: Mapping[int, str]) -> str | None:
    """An enum field given by name or by protobuf number; returns the member name."""
    value = body.get(name)
    if value is None:
        return None
    names = set(members.values())
    if isinstance(value, str):
        if value in names:
            return value
        if value.isascii() and value.isdigit() and len(value) <= INT64_DIGITS:
            number = int(value)
            if number in members:
                return members[number]
    elif isinstance(value, int) and not isinstance(value, bool) and value in members:
        return members[value]
    raise InvalidInput(
        f"field {name!r} must be one of {', '.join(sorted(names))}, got {_preview(value)}"
    )


def compact(document: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields (None) and empty repeated fields, as protobuf's JSON output does."""
    return {k: v for k, v in document.items() if v is not None and v != []}


__all__ = [
    "INT64_DIGITS",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_JSON_DEPTH",
    "JsonObject",
    "as_float",
    "as_int",
    "compact",
    "float_to_json",
    "int_from_digits",
    "nested_deeper_than",
    "object_list",
    "opt_enum",
    "opt_int",
    "opt_list",
    "opt_str",
    "req_str",
    "require_object",
    "str_list",
]
