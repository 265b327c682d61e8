"""The one sort of search results, for every kind: stable passes, missing values last.

Each kind reads its ``order_by`` entries with ``split_order``, turns them into a list
of (value getter, ascending) keys ending with its tiebreakers, and ``sort_by`` applies
them: values sort in the asked direction, but NaN comes after every number and missing
values (None) come last, in both directions, as MLflow's SQL stores order them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from kiln.errors import InvalidInput
from kiln.store.query.grammar import RUNS, Dialect, KeyPart, Scanner

T = TypeVar("T")
SortValue = str | float | None
SortKey = tuple[Callable[[T], SortValue], bool]


def sort_pass(items: Iterable[T], value_of: Callable[[T], SortValue], ascending: bool) -> list[T]:
    """One stable pass: present values in the asked direction, then NaN, then missing."""
    present: list[tuple[Any, T]] = []
    nans: list[T] = []
    missing: list[T] = []
    for item in items:
        value = value_of(item)
        if value is None:
            missing.append(item)
        elif isinstance(value, float) and math.isnan(value):
            nans.append(item)
        else:
            present.append((value, item))
    present.sort(key=lambda pair: pair[0], reverse=not ascending)
    return [item for _, item in present] + nans + missing


def sort_by(items: Iterable[T], keys: Sequence[SortKey[T]]) -> list[T]:
    """Sort by ``keys``, the first the most significant (one stable pass per key)."""
    result = list(items)
    for value_of, ascending in reversed(keys):
        result = sort_pass(result, value_of, ascending)
    return result


def split_order(clause: object, dialect: Dialect = RUNS) -> tuple[tuple[KeyPart, ...], bool]:
    """``"<key> [ASC|DESC]"`` -> (key parts, ascending).

    Raises:
        InvalidInput: not a string, empty, or not one key and an optional direction.
    """
    if not isinstance(clause, str):
        raise InvalidInput(f"order_by entries must be strings, got {clause!r}")
    scanner = Scanner(clause, dialect)
    if scanner.at_end():
        raise InvalidInput("invalid order_by clause '': it is empty")
    try:
        parts = scanner.identifier()
    except InvalidInput:
        raise InvalidInput(
            f"invalid order_by clause {clause!r}: expected '<key> [ASC|DESC]'"
        ) from None
    ascending = True
    if not scanner.at_end():
        direction = scanner.word()
        if direction not in ("ASC", "DESC") or not scanner.at_end():
            raise InvalidInput(
                f"invalid order_by clause {clause!r}: expected '<key> [ASC|DESC]', "
                "one key per entry (use ASC or DESC)"
            )
        ascending = direction == "ASC"
    return parts, ascending


__all__ = ["SortKey", "SortValue", "sort_by", "sort_pass", "split_order"]
