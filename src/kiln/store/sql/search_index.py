"""Letting run search use the tag-value and run-name indexes (migration 0005).

A filter such as ``tags.`mlflow.runName` = 'run-999999'``, ``attributes.run_name =
...`` or ``attributes.run_name LIKE 'run-99999%'`` has an index that finds its few
runs at once: ``tags(key, value)``, ``params(key, value)``, ``runs(name)``. Two
things stood in the way:

* SQLite has no statistics on the value distribution, and without them its
  planner prefers ``ix_runs_search`` (workspace, experiment, stage: three equality
  terms, and the requested order for free), walking every run of the
  experiments when fewer than a page of them match (seconds at a million runs).
  The planner cannot know, so ``pinned_driver`` asks the index: it counts the
  matching entries up to ``PROBE_CAP`` (a bounded index range, well under a
  millisecond). When fewer match, the search pins the plan by making the
  experiment-scope terms unusable for an index (``Unindexed``, SQLite's unary
  ``+``), and the planner starts from the selective index. A common value (a tag
  every run has) keeps the ordered walk, which stops at the page's end.
* PostgreSQL indexes a prefix of a tag value with the pattern operator classes:
  ``tag_conditions`` adds the terms that index can serve (the prefix equality;
  for a ``LIKE`` with a literal prefix, the ``~>=~``/``~<~`` range that
  PostgreSQL itself derives from a ``LIKE`` on a plain column). ``run_name``
  gets the same range. SQLite's own ``LIKE`` optimization turns a literal
  prefix into an index range (``LIKE`` is case-sensitive there, see
  ``kiln.store.sql.engine``), so it needs no rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from kiln.store.query.runs import Comparison
from kiln.store.sql.schema import TAG_VALUE_INDEX_PREFIX

# A filter value matched by fewer index entries than this drives the search.
PROBE_CAP = 1000

_MAX_CHAR = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def like_prefix(pattern: str) -> str:
    """The literal start of a ``LIKE`` pattern (Kiln's ``LIKE`` has no escape character)."""
    for index, char in enumerate(pattern):
        if char in "%_":
            return pattern[:index]
    return pattern


def prefix_bounds(prefix: str) -> tuple[str, str] | None:
    """``(low, high)``: every string that starts with ``prefix`` is ``>= low`` and ``< high``
    in code point order (SQLite's BINARY, PostgreSQL's ``~<~``); None for an empty prefix."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _MAX_CHAR:
            following = last + 1
            if following in _SURROGATES:  # not encodable: skip to the next code point
                following = _SURROGATES.stop
            return prefix, "".join(chars) + chr(following)
    return None


def like_bounds(comparison: Comparison) -> tuple[str, str] | None:
    """The prefix bounds of a case-sensitive ``LIKE`` comparison, else None."""
    if comparison.op != "LIKE" or not isinstance(comparison.value, str):
        return None
    return prefix_bounds(like_prefix(comparison.value))


class Unindexed(FunctionElement[Any]):
    """``column`` as a value no index may serve: ``+column`` on SQLite, itself elsewhere."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


def pattern_range(column: Any, low: Any, high: Any) -> ColumnElement[bool]:
    """``low <= column < high`` with PostgreSQL's pattern operators (code point order),
    which a ``*_pattern_ops`` index serves whatever the database's collation."""
    return and_(column.op("~>=~")(low), column.op("~<~")(high))


def tag_value_prefix(value_column: Any) -> Any:
    """The indexed part of a tag value on PostgreSQL (``ix_tags_key_value_prefix``)."""
    return func.substr(value_column, 1, TAG_VALUE_INDEX_PREFIX)


def tag_bounds(bounds: tuple[str, str]) -> tuple[str, str]:
    """Prefix bounds cut to the indexed part of a tag value (``tag_value_prefix``)."""
    low, high = bounds
    if len(low) <= TAG_VALUE_INDEX_PREFIX:
        return low, high
    cut = prefix_bounds(low[:TAG_VALUE_INDEX_PREFIX])
    assert cut is not None  # a non-empty prefix of a string that had bounds has them too
    return cut


def _probe(comparison: Comparison) -> tuple[str, list[Any]] | None:
    """SQL counting (up to ``PROBE_CAP``) the index entries a comparison would read."""
    if comparison.kind == "attribute" and comparison.key == "run_name":
        table, keyed = "runs", False
        column = "name"
    elif comparison.kind in ("tag", "param"):
        table, keyed = ("tags" if comparison.kind == "tag" else "params"), True
        column = "value"
    else:
        return None
    if comparison.op == "=" and isinstance(comparison.value, str):
        condition, values = f"{column} = ?", [comparison.value]
    else:
        bounds = like_bounds(comparison)
        if bounds is None:
            return None
        condition, values = f"{column} >= ? AND {column} < ?", list(bounds)
    if keyed:
        condition, values = f'"key" = ? AND {condition}', [comparison.key, *values]
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {condition} LIMIT {PROBE_CAP})"
    return sql, values


def is_candidate(comparison: Comparison) -> bool:
    """Whether an index of migration 0005 (or ``params(key, value)``) could drive it."""
    return _probe(comparison) is not None


def pinned_driver(cursor: Any, comparisons: Sequence[Comparison]) -> int | None:
    """(SQLite) The first comparison whose index finds fewer than ``PROBE_CAP`` entries:
    the search should start from it rather than walk the experiments' runs in order."""
    for index, comparison in enumerate(comparisons):
        probe = _probe(comparison)
        if probe is None:
            continue
        cursor.execute(*probe)
        (count,) = cursor.fetchone()
        if int(count) < PROBE_CAP:
            return index
    return None


__all__ = [
    "PROBE_CAP",
    "Unindexed",
    "is_candidate",
    "like_bounds",
    "like_prefix",
    "pattern_range",
    "pinned_driver",
    "prefix_bounds",
    "tag_bounds",
    "tag_value_prefix",
]
