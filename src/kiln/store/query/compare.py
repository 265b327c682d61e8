"""The one Python evaluation of a parsed comparison, for every kind.

The memory and file stores (and the SQL store's Python fallbacks) decide each clause
here, so ``=``, ``LIKE``, ``IN`` and ``IS NULL`` mean the same for runs, experiments,
registered models, model versions and logged models.
"""

from __future__ import annotations

from collections.abc import Callable

from kiln.store.query.grammar import LIST_OPS, Value
from kiln.store.query.like import like

_ORDERED: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def compare(lhs: str | float | None, op: str, value: Value) -> bool:
    """Whether ``lhs <op> value`` holds; a missing ``lhs`` (None) satisfies only
    ``IS NULL``, whatever the operator (``!=`` included)."""
    if op == "IS NULL":
        return lhs is None
    if op == "IS NOT NULL":
        return lhs is not None
    if lhs is None:
        return False
    if op in LIST_OPS:
        assert isinstance(value, tuple)
        return (lhs in value) == (op == "IN")
    if op in ("LIKE", "ILIKE"):
        assert isinstance(value, str)
        return like(str(lhs), value, case_insensitive=op == "ILIKE")
    if isinstance(lhs, str):
        rhs: str | float = str(value)
    else:
        assert isinstance(value, int | float)
        rhs = value
    return _ORDERED[op](lhs, rhs)


__all__ = ["compare"]
