"""Size limits of a search, checked where filters, ``order_by`` and page tokens are parsed.

Every backend parses with the same grammar, so the limits hold whichever store
answers and a search that one store takes, every store takes. They keep requests
inside what SQLite and PostgreSQL can plan: the SQL store joins one table alias per
metric, param or tag key that a run filter or ``order_by`` names (SQLite allows 64
tables in a join and 200 FROM terms), ANDs every clause into one expression (SQLite
refuses expressions deeper than 1,000 levels; a metric clause adds two) and
binds every ``IN`` item as a parameter (PostgreSQL's protocol allows 65,535).
Without them such a search failed inside the database, a 500 that the official
client retries; here it is an ``InvalidInput`` (400) that names the limit.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiln.errors import InvalidInput

MAX_FILTER_CLAUSES = 200
# Distinct metric/param/tag/dataset keys in one filter, and order_by entries: at most
# 24 + 8 joined aliases, well inside SQLite's 64 tables per join. PostgreSQL plans
# such a join in under a second (its planning time grows fast with the joins).
MAX_FILTER_KEYS = 24
MAX_ORDER_BY_KEYS = 8
MAX_FILTER_LIST_ITEMS = 10_000  # IN/NOT IN items of one filter, all lists together
# PostgreSQL binds OFFSET as a 32-bit integer; no store pages that far anyway.
MAX_PAGE_OFFSET = 2**31 - 1


def check_clause_count(count: int, what: str = "filter") -> None:
    """Raises: InvalidInput when a filter holds more than ``MAX_FILTER_CLAUSES`` clauses."""
    if count > MAX_FILTER_CLAUSES:
        raise InvalidInput(
            f"the {what} has more than {MAX_FILTER_CLAUSES} clauses; the limit is "
            f"{MAX_FILTER_CLAUSES} clauses joined with AND"
        )


def check_filter_keys(keys: Iterable[tuple[str, str]], what: str = "filter") -> None:
    """Raises: InvalidInput when more than ``MAX_FILTER_KEYS`` distinct (kind, key) pairs."""
    distinct = set(keys)
    if len(distinct) > MAX_FILTER_KEYS:
        raise InvalidInput(
            f"the {what} names {len(distinct)} distinct metric, param, tag or dataset keys; "
            f"the limit is {MAX_FILTER_KEYS}"
        )


def check_list_items(lists: Iterable[object], what: str = "filter") -> None:
    """Raises: InvalidInput when the IN lists hold more than ``MAX_FILTER_LIST_ITEMS`` items."""
    total = sum(len(items) for items in lists if isinstance(items, tuple))
    if total > MAX_FILTER_LIST_ITEMS:
        raise InvalidInput(
            f"the {what}'s IN lists hold {total} items; the limit is {MAX_FILTER_LIST_ITEMS} in all"
        )


def check_order_by_count(count: int) -> None:
    """Raises: InvalidInput when ``order_by`` has more than ``MAX_ORDER_BY_KEYS`` entries."""
    if count > MAX_ORDER_BY_KEYS:
        raise InvalidInput(f"order_by has {count} entries; the limit is {MAX_ORDER_BY_KEYS} keys")


__all__ = [
    "MAX_FILTER_CLAUSES",
    "MAX_FILTER_KEYS",
    "MAX_FILTER_LIST_ITEMS",
    "MAX_ORDER_BY_KEYS",
    "MAX_PAGE_OFFSET",
    "check_clause_count",
    "check_filter_keys",
    "check_list_items",
    "check_order_by_count",
]
