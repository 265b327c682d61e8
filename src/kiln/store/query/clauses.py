"""What every kind does with scanned clauses: split keys, check comparators and
value types, and build the list of comparisons under the search limits.

``parse_filter`` is the one entry point of every filter grammar: a kind passes the
function that turns one ``RawClause`` into its comparison (checking the key, the
comparator and the value) and gets the AND-ed list back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from kiln.errors import InvalidInput
from kiln.store.query.grammar import LIST_OPS, NULL_OPS, RUNS, Dialect, KeyPart, RawClause, Scanner
from kiln.store.query.limits import check_filter_keys, check_list_items

_OP_ORDER = (
    *("=", "!=", "<", ">", "<=", ">="),
    *("LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"),
)

K = TypeVar("K", bound=str)


class Clause(Protocol):
    """What ``parse_filter`` reads of a kind's comparison."""

    @property
    def kind(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def value(self) -> object: ...


C = TypeVar("C", bound=Clause)


def parse_filter(
    filter_string: str | None, clause: Callable[[RawClause], C], dialect: Dialect = RUNS
) -> list[C]:
    """The comparisons of a filter, AND-ed; None or "" means no filter.

    Raises:
        InvalidInput: not a string, bad syntax, whatever ``clause`` refuses, or more
            distinct keys or IN items than the search limits allow.
    """
    if filter_string is None or filter_string == "":
        return []
    if not isinstance(filter_string, str):
        raise InvalidInput(f"filter must be a string, got {type(filter_string).__name__}")
    out = [clause(raw) for raw in Scanner(filter_string, dialect).clauses()]
    check_filter_keys((c.kind, c.key) for c in out if c.kind != "attribute")
    check_list_items(c.value for c in out)
    return out


def split_key(
    parts: tuple[KeyPart, ...],
    source: str,
    prefixes: Mapping[str, K],
    *,
    default: K,
    fold_case: bool = False,
    strict: bool = True,
    whole_keys: bool = True,
) -> tuple[K, str]:
    """``(kind, key)`` of a scanned key: the first part names the kind through
    ``prefixes`` (lower-cased first if ``fold_case``); a lone part is of ``default``.

    Raises:
        InvalidInput: an unknown prefix (unless not ``strict``: then the whole dotted
            name is a ``default`` key), or, with ``whole_keys``, a key quoted in pieces
            or an empty key (the logged-model grammar joins the pieces instead).
    """
    if len(parts) == 1:
        return default, parts[0].text
    prefix = parts[0].text
    kind = prefixes.get(prefix.lower() if fold_case else prefix)
    if kind is None:
        if not strict:
            return default, ".".join(part.text for part in parts)
        valid = ", ".join(sorted(prefixes))
        raise InvalidInput(
            f"invalid entity type {prefix!r} in {source!r}: use one of {valid} "
            "(quote keys that contain dots or spaces)"
        )
    rest = parts[1:]
    if whole_keys and len(rest) > 1 and any(part.quoted for part in rest):
        raise InvalidInput(f'invalid key in {source!r}: quote the whole key, e.g. {prefix}."a.b c"')
    key = ".".join(part.text for part in rest)
    if whole_keys and not key:
        raise InvalidInput(f"empty key in {source!r}")
    return kind, key


def check_op(op: str, allowed: frozenset[str], what: str, source: str) -> None:
    """Raises: InvalidInput naming the allowed comparators when ``op`` is not one."""
    if op not in allowed:
        names = ", ".join(o for o in _OP_ORDER if o in allowed)
        raise InvalidInput(
            f"comparator {op!r} is not allowed for {what} in {source!r}: use {names}"
        )


def check_value(raw: RawClause, expected: str, what: str) -> None:
    """Raises: InvalidInput when the value's type does not fit the comparator and key."""
    if raw.op in NULL_OPS:
        return
    if raw.op in LIST_OPS:
        if raw.value_kind != "list":
            raise InvalidInput(
                f"{raw.op} needs a parenthesised list of quoted strings in {raw.source!r}, "
                "e.g. ('a', 'b')"
            )
        return
    if raw.value_kind == "list":
        raise InvalidInput(f"a list value needs IN or NOT IN in {raw.source!r}")
    if raw.value_kind != expected:
        if expected == "number":
            raise InvalidInput(f"{what} compares with a number (unquoted) in {raw.source!r}")
        raise InvalidInput(f"{what} compares with a quoted string in {raw.source!r}")


__all__ = ["Clause", "check_op", "check_value", "parse_filter", "split_key"]
