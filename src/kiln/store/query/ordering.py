"""The one sort of search results, for every kind: stable passes, missing values last.

Each kind turns its ``order_by`` into a list of (value getter, ascending) keys, ending
with its tiebreakers, and ``sort_by`` applies them: values sort in the asked
direction, but NaN comes after every number and missing values (None) come last, in
both directions, as MLflow's SQL stores order them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

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


__all__ = ["SortKey", "SortValue", "sort_by", "sort_pass"]
