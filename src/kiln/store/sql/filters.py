"""Run and experiment search: ``kiln.store.query.runs`` clauses compiled to SQL.

Run search is one SELECT over ``runs``. Each metric, param or tag comparison
becomes an inner join on its table aliased per key (``(run_uuid, key)`` is the
primary key, so a join never duplicates a run) — which lets the planner drive
the query from ``latest_metrics(key, value)`` or ``params(key, value)`` when that
is the selective side; ``IS NULL`` becomes ``NOT EXISTS``, and a dataset clause an
``EXISTS`` over ``inputs`` joined to ``datasets`` (or to the context ``input_tags``). Ordering by a
metric, param or tag left-joins it and sorts missing values last (and NaN
metrics after numbers) in both directions, then by ``start_time DESC`` and
``run_id ASC``, exactly as ``kiln.store.query.runs.sort_runs``. Strings order by code
point (``COLLATE "C"`` on PostgreSQL, SQLite's default). ``LIKE`` has no escape
character on either backend and is case-sensitive (see ``kiln.store.sql.engine``).

Experiments are few: they are filtered and sorted in Python with the search
module's own evaluator, so the semantics match the other stores by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import BindParameter, Join, Select

from kiln.entities import (
    Page,
    Run,
    ViewType,
)
from kiln.errors import InvalidInput
from kiln.store.query.page_token import decode_page_token, encode_page_token
from kiln.store.query.runs import (
    Comparison,
    OrderKey,
    parse_order_by,
    parse_run_filter,
    run_order_with_tiebreakers,
    validate_max_results,
)
from kiln.store.sql.inputs import dataset_condition
from kiln.store.sql.reads import load_runs, search_experiments
from kiln.store.sql.rows import view_stages
from kiln.store.sql.schema import (
    PARAM_VALUE_INDEX_PREFIX,
    latest_metrics,
    params,
    runs,
    tags,
)
from kiln.store.sql.search_index import (
    Unindexed,
    is_candidate,
    like_bounds,
    pattern_range,
    pinned_driver,
    tag_bounds,
    tag_value_prefix,
)

_ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
}


# Comparators compiled to (NOT) EXISTS rather than a join.
_NOT_JOINED = frozenset({"IS NULL", "IS NOT NULL"})
# Internal comparators of _ordered_groups (never produced by the parser).
_IS_NAN = "kiln:is-nan"
_PRESENT: dict[str, tuple[str, Any]] = {
    "metric": (">=", float("-inf")),  # a number, +-inf included; not NaN
    "param": ("LIKE", "%"),
    "tag": ("LIKE", "%"),
}


def _bind(name: str, value: Any, column: Any) -> BindParameter[Any]:
    """A named bound parameter typed as ``column`` (names are part of the cached SQL)."""
    return bindparam(name, value, type_=column.type)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    raise InvalidInput(f"comparator {op!r} cannot compare numbers")


class _Compiler:
    """Builds the run search SELECT for one dialect."""

    def __init__(
        self, dialect: str, pinned: int | None = None, driver: tuple[str, str] | None = None
    ) -> None:
        self.dialect = dialect
        # The comparison that drives the search (kiln.store.sql.search_index), and the
        # (kind, key) of its table when it is a tag or param: every other join, other
        # comparisons' values and the experiment scope are kept off the indexes.
        self.pinned = pinned
        self.driver = driver
        self.joins: list[tuple[Any, ColumnElement[bool], bool]] = []
        self.aliases: dict[tuple[str, str, bool], Any] = {}
        # Metrics a filter proves to be numbers (any comparator but "!=" excludes NaN):
        # ordering by them needs no NaN term, so an index on the value can give the order.
        self.finite: set[tuple[str, str]] = set()

    def _off_index(self, kind: str, key: str) -> bool:
        """Whether a tag join or the run name must not drive the plan (SQLite).

        Pinned to a comparison, nothing else drives. Not pinned (no filter value
        is rare, see ``search_index``), ``tags(key, value)`` and ``runs(name)``
        stay out as before migration 0005: a value most runs share is found
        fastest by walking the runs in order and stopping at the page's end.
        """
        if self.dialect != "sqlite":
            return False
        if self.pinned is not None:
            return kind in ("metric", "param", "tag") and (kind, key) != self.driver
        return kind == "tag" or (kind, key) == ("attribute", "run_name")

    def _alias(self, kind: str, key: str, outer: bool) -> Any:
        """One alias of metrics/params/tags per (kind, key), joined once."""
        inner_key = (kind, key, False)
        if inner_key in self.aliases:
            return self.aliases[inner_key]
        if outer and (kind, key, True) in self.aliases:
            return self.aliases[(kind, key, True)]
        table = {"metric": latest_metrics, "param": params, "tag": tags}[kind]
        alias = table.alias(f"{kind[0]}{len(self.joins)}")
        key_column: Any = alias.c.key
        if self._off_index(kind, key):
            key_column = Unindexed(key_column)  # found through run_uuid, never a driver
        on = and_(alias.c.run_uuid == runs.c.run_uuid, key_column == key)
        self.joins.append((alias, on, outer))
        self.aliases[(kind, key, outer)] = alias
        return alias

    def _like(self, column: Any, op: str, pattern: str) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            # PostgreSQL's default LIKE escape is a backslash; Kiln's LIKE has none.
            if op == "ILIKE":
                return column.ilike(pattern, escape="")  # type: ignore[no-any-return]
            return column.like(pattern, escape="")  # type: ignore[no-any-return]
        if op == "ILIKE":
            return func.lower(column).like(func.lower(pattern))
        return column.like(pattern)  # type: ignore[no-any-return]

    def _string(self, column: Any, op: str, value: Any, slot: str) -> ColumnElement[bool]:
        if op in ("LIKE", "ILIKE"):
            return self._like(column, op, _bind(slot, str(value), column))  # type: ignore[arg-type]
        if op in ("IN", "NOT IN"):
            items = [_bind(f"{slot}_{i}", item, column) for i, item in enumerate(value)]
            if op == "IN":
                return column.in_(items)  # type: ignore[no-any-return]
            return column.not_in(items)  # type: ignore[no-any-return]
        return _compare(column, op, _bind(slot, value, column))

    def where(self, comparison: Comparison, slot: str, index: int = -1) -> ColumnElement[bool]:
        """The condition of ``comparison``; its values are bound as ``slot`` (see ``_values``)."""
        kind, key, op, value = comparison.kind, comparison.key, comparison.op, comparison.value
        if kind == "dataset":
            return dataset_condition(key, lambda column: self._string(column, op, value, slot))
        off_index = (
            self.pinned not in (None, index) and is_candidate(comparison)
        ) or self._off_index(kind, key)
        if kind == "attribute":
            column = _ATTRIBUTE_COLUMNS[key]
            if key in ("start_time", "end_time"):
                return _compare(column, op, _bind(slot, value, column))
            condition = self._string(Unindexed(column) if off_index else column, op, value, slot)
            bounds = like_bounds(comparison)
            if key == "run_name" and bounds is not None and self.dialect == "postgresql":
                low, high = (
                    _bind(f"{slot}lo", bounds[0], column),
                    _bind(f"{slot}hi", bounds[1], column),
                )
                condition = and_(condition, pattern_range(column, low, high))
            return condition
        if op in _NOT_JOINED:
            table = {"metric": latest_metrics, "param": params, "tag": tags}[kind]
            found = exists().where(table.c.run_uuid == runs.c.run_uuid, table.c.key == key)
            return not_(found) if op == "IS NULL" else found
        alias = self._alias(kind, key, outer=False)
        if op == _IS_NAN:
            return alias.c.is_nan  # type: ignore[no-any-return]
        if kind == "metric":
            # IEEE semantics: a NaN satisfies only "!=".
            bound = _bind(slot, value, alias.c.value)
            if op == "!=":
                return or_(alias.c.is_nan, alias.c.value != bound)
            self.finite.add((kind, key))
            return and_(not_(alias.c.is_nan), _compare(alias.c.value, op, bound))
        value_column = Unindexed(alias.c.value) if off_index else alias.c.value
        condition = self._string(value_column, op, value, slot)
        if self.dialect != "postgresql" or kind not in ("param", "tag"):
            return condition
        # Terms PostgreSQL's (key, substr(value)) indexes serve (schema.py).
        if op == "=":
            prefix = _bind(f"{slot}p", str(value)[:PARAM_VALUE_INDEX_PREFIX], alias.c.value)
            return and_(
                condition, func.substr(alias.c.value, 1, PARAM_VALUE_INDEX_PREFIX) == prefix
            )
        bounds = like_bounds(comparison)
        if kind == "tag" and bounds is not None:
            tag_low, tag_high = tag_bounds(bounds)
            condition = and_(
                condition,
                pattern_range(
                    tag_value_prefix(alias.c.value),
                    _bind(f"{slot}lo", tag_low, alias.c.value),
                    _bind(f"{slot}hi", tag_high, alias.c.value),
                ),
            )
        return condition

    def _text(self, column: Any) -> Any:
        return column.collate("C") if self.dialect == "postgresql" else column

    def order(self, key: OrderKey, required: set[tuple[str, str]]) -> list[Any]:
        """ORDER BY terms: missing last, NaN metrics after numbers, then the value."""
        terms: list[Any] = []
        if key.kind == "attribute":
            column = _ATTRIBUTE_COLUMNS[key.key]
            if key.key == "end_time":
                terms.append(column.is_(None))
            elif key.key not in ("start_time",):
                column = self._text(column)
            terms.append(column.asc() if key.ascending else column.desc())
            return terms
        present = (key.kind, key.key) in required
        alias = self._alias(key.kind, key.key, outer=not present)
        if not present:
            terms.append(alias.c.run_uuid.is_(None))
        if key.kind == "metric":
            if (key.kind, key.key) not in self.finite:
                terms.append(alias.c.is_nan)
            value = alias.c.value
        else:
            value = self._text(alias.c.value)
        terms.append(value.asc() if key.ascending else value.desc())
        return terms

    def build(self, base: Select[Any], driver: Any | None) -> Select[Any]:
        """FROM runs and the joins; with a ``driver`` alias, read in its index order.

        The driver is the alias of the first order_by key when a filter makes it
        present for every match: scanning ``latest_metrics(key, value)`` (or
        ``params``/``tags``) in order and stopping at the page's end beats
        sorting every match. On SQLite ``CROSS JOIN`` pins that loop order.
        """
        if driver is None:
            source: Any = runs
            for alias, on, outer in self.joins:
                source = source.join(alias, on, isouter=outer)
            return base.select_from(source)
        driver_on = next(on for alias, on, _ in self.joins if alias is driver)
        source = _OrderedJoin(driver, runs, driver_on)
        for alias, on, outer in self.joins:
            if alias is driver:
                continue
            source = (
                source.join(alias, on, isouter=True) if outer else _OrderedJoin(source, alias, on)
            )
        return base.select_from(source)


class _OrderedJoin(Join):
    """An inner join whose left side stays the outer loop (SQLite ``CROSS JOIN``)."""

    inherit_cache = True


@compiles(_OrderedJoin, "sqlite")
def _sqlite_ordered_join(element: _OrderedJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    return f"{left} CROSS JOIN {right} ON {compiler.process(element.onclause, **kw)}"


@compiles(_OrderedJoin)
def _ordered_join(element: _OrderedJoin, compiler: Any, **kw: Any) -> str:
    return str(compiler.visit_join(element, **kw))


def _run_select(
    dialect: str,
    workspace: str,
    experiment_keys: Sequence[int],
    view_type: ViewType,
    comparisons: Sequence[Comparison],
    order: Sequence[OrderKey],
    pinned: int | None = None,
) -> Select[Any]:
    """The ordered SELECT of matching ``runs`` rows (no LIMIT/OFFSET yet).

    Every value that is not fixed by the filter's shape (``_shape``) is a bound
    parameter named as ``_values`` names it, so the compiled SQL can be cached.
    ``pinned``: the comparison whose index drives the search (``search_index``).
    """
    driver = None
    if pinned is not None and comparisons[pinned].kind in ("tag", "param"):
        driver = (comparisons[pinned].kind, comparisons[pinned].key)
    compiler = _Compiler(dialect, pinned, driver)
    conditions = [compiler.where(c, f"kiln_c{i}", i) for i, c in enumerate(comparisons)]
    scope: Any = Unindexed if pinned is not None else (lambda column: column)
    required: set[tuple[str, str]] = {
        (c.kind, c.key)
        for c in comparisons
        if c.kind in ("metric", "param", "tag") and c.op not in _NOT_JOINED
    }
    terms: list[Any] = []
    for key in run_order_with_tiebreakers(order):
        terms.extend(compiler.order(key, required))
    driver = None
    if order and order[0].kind != "attribute" and (order[0].kind, order[0].key) in required:
        first = order[0]
        if first.kind != "metric" or (first.kind, first.key) in compiler.finite:
            driver = compiler.aliases[(first.kind, first.key, False)]
    return (
        compiler.build(select(runs), driver)
        .where(
            scope(runs.c.workspace) == _bind("kiln_ws", workspace, runs.c.workspace),
            scope(runs.c.experiment_id).in_(
                [
                    _bind(f"kiln_e{i}", k, runs.c.experiment_id)
                    for i, k in enumerate(experiment_keys)
                ]
            ),
            scope(runs.c.lifecycle_stage).in_(
                [
                    _bind(f"kiln_s{i}", stage, runs.c.lifecycle_stage)
                    for i, stage in enumerate(view_stages(view_type))
                ]
            ),
            *conditions,
        )
        .order_by(*terms)
    )


def _values(
    dialect: str, workspace: str, experiment_keys: Sequence[int], comparisons: Sequence[Comparison]
) -> dict[str, Any]:
    """The bound values of ``_run_select``'s statement, by parameter name.

    Mirrors the binds of ``_Compiler.where``: ``kiln_c<i>`` (``_<j>`` per item of
    an ``IN`` tuple, ``p`` for PostgreSQL's param prefix). Parameters absent here
    are fixed by the shape and keep their compiled values.
    """
    values: dict[str, Any] = {"kiln_ws": workspace}
    for i, key in enumerate(experiment_keys):
        values[f"kiln_e{i}"] = key
    for i, c in enumerate(comparisons):
        slot, op, value = f"kiln_c{i}", c.op, c.value
        if op in _NOT_JOINED or op == _IS_NAN:
            continue
        if op in ("IN", "NOT IN"):
            for j, item in enumerate(value):  # type: ignore[arg-type]
                values[f"{slot}_{j}"] = item
        elif op in ("LIKE", "ILIKE"):
            values[slot] = str(value)
        else:
            values[slot] = value
        if dialect != "postgresql":
            continue
        if c.kind in ("param", "tag") and op == "=":
            values[f"{slot}p"] = str(value)[:PARAM_VALUE_INDEX_PREFIX]
        bounds = like_bounds(c)
        if bounds is not None and c.kind == "tag":
            values[f"{slot}lo"], values[f"{slot}hi"] = tag_bounds(bounds)
        elif bounds is not None and (c.kind, c.key) == ("attribute", "run_name"):
            values[f"{slot}lo"], values[f"{slot}hi"] = bounds
    return values


def _shape(comparison: Comparison) -> tuple[str, str, str, int]:
    """What of a comparison its SQL text depends on (not its value, bar a tuple's length)."""
    value = comparison.value
    size = len(value) if isinstance(value, tuple) else -1
    if comparison.op == "LIKE":  # a literal prefix adds range terms (PostgreSQL)
        size = 0 if like_bounds(comparison) is None else 1
    return (comparison.kind, comparison.key, comparison.op, size)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A compiled run search: SQL text, its parameter names and the shape's constants."""

    sql: str
    names: tuple[str, ...] | None  # positional order; None for a named paramstyle
    constants: dict[str, Any]
    processors: dict[str, Any]

    def parameters(self, values: dict[str, Any]) -> Any:
        """DBAPI parameters: ``values`` over the constants, bind-processed."""
        merged = {**self.constants, **values}
        for name, process in self.processors.items():
            if name in merged:
                merged[name] = process(merged[name])
        if self.names is None:
            return merged
        return [merged[name] for name in self.names]


_PREPARED: dict[tuple[Any, ...], _Prepared] = {}
_PREPARED_MAX = 512


def _prepared(
    conn: Connection,
    workspace: str,
    experiment_keys: Sequence[int],
    view_type: ViewType,
    comparisons: Sequence[Comparison],
    order: Sequence[OrderKey],
    pinned: int | None = None,
) -> _Prepared:
    """The compiled, paginated ``_run_select`` for the search's shape (cached)."""
    dialect = conn.dialect
    key = (
        dialect.name,
        dialect.paramstyle,
        tuple(_shape(c) for c in comparisons),
        tuple(order),
        ViewType(view_type),
        len(experiment_keys),
        pinned,
    )
    found = _PREPARED.get(key)
    if found is not None:
        return found
    statement = (
        _run_select(dialect.name, workspace, experiment_keys, view_type, comparisons, order, pinned)
        .limit(bindparam("kiln_limit", 1))
        .offset(bindparam("kiln_offset", 0))
    )
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string:
        raise AssertionError("run search SQL has an expanding parameter")
    names = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    found = _Prepared(
        sql=compiled.string,
        names=names,
        constants=dict(compiled.construct_params()),
        processors=dict(compiled._bind_processors),
    )
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[key] = found
    return found


def _ordered_groups(
    comparisons: list[Comparison], order: list[OrderKey]
) -> list[tuple[list[Comparison], list[OrderKey]]]:
    """Split a search ordered by a metric/param/tag that may be absent into groups.

    The groups come in MLflow's order: runs with a number (read in the value
    index's order, stopping at the page end), then NaN metrics, then runs without
    the key; inside the last two the first order key is a tie and is dropped. A
    single query would have to sort every run of the experiments instead.
    """
    first = order[0] if order else None
    joined = {(c.kind, c.key) for c in comparisons if c.op not in _NOT_JOINED}
    if first is None or first.kind == "attribute" or (first.kind, first.key) in joined:
        return [(comparisons, order)]
    rest = order[1:]
    present = Comparison(first.kind, first.key, *_PRESENT[first.kind])
    groups = [([*comparisons, present], order)]
    if first.kind == "metric":
        groups.append(([*comparisons, Comparison("metric", first.key, _IS_NAN, None)], rest))
    groups.append(([*comparisons, Comparison(first.kind, first.key, "IS NULL", None)], rest))
    return groups


def search_runs(
    conn: Connection,
    workspace: str,
    experiment_keys: Sequence[int],
    filter_string: str | None,
    view_type: ViewType,
    max_results: int,
    order_by: Sequence[str],
    page_token: str | None,
) -> Page[Run]:
    """One page of runs of ``experiment_keys`` matching the filter, in MLflow's order.

    Raises:
        InvalidInput: a bad filter, order_by, page token or max_results.
    """
    comparisons = parse_run_filter(filter_string)
    order = parse_order_by(order_by or ())
    limit = validate_max_results(max_results)
    offset = decode_page_token(page_token)
    if not experiment_keys:
        return Page(items=[], next_page_token=None)
    dialect = conn.dialect.name
    need, skip = limit + 1, offset
    rows: list[Any] = []
    pinned = None
    if dialect == "sqlite":
        cursor = conn.connection.cursor()
        try:
            pinned = pinned_driver(cursor, comparisons)
        finally:
            cursor.close()
    for group_filter, group_order in _ordered_groups(comparisons, order):
        prepared = _prepared(
            conn, workspace, experiment_keys, view_type, group_filter, group_order, pinned
        )
        values = _values(dialect, workspace, experiment_keys, group_filter)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(
                prepared.sql,
                prepared.parameters({**values, "kiln_limit": need, "kiln_offset": skip}),
            )
            found = cursor.fetchall()
        finally:
            cursor.close()
        rows.extend(found)
        need -= len(found)
        if need == 0:
            break
        if found:
            skip = 0
        elif skip:
            statement = _run_select(
                dialect, workspace, experiment_keys, view_type, group_filter, group_order, pinned
            )
            counted = select(func.count()).select_from(statement.order_by(None).subquery())
            skip -= min(skip, int(conn.execute(counted).scalar_one()))
    more = len(rows) > limit
    items = load_runs(conn, workspace, rows[:limit])
    return Page(items=items, next_page_token=encode_page_token(offset + limit) if more else None)


__all__ = ["load_runs", "search_experiments", "search_runs"]
