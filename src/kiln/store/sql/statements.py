"""Prepared Core statements of the hot paths, built once per dialect.

SQLAlchemy caches the compiled form of each construct, so building them once
and executing them with parameter dicts (``executemany`` for lists) keeps a
``log_metric`` at a handful of driver calls.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

from sqlalchemy import Float, and_, bindparam, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Delete, Update

from kiln.store.sql.schema import latest_metrics, metrics, params, runs, tags


@dataclass(frozen=True, slots=True)
class RawStatement:
    """A statement compiled once to the driver's SQL, executed on the DBAPI cursor.

    Skips SQLAlchemy's per-row parameter processing, which dominates a
    1000-metric ``executemany``. Rows are tuples laid out as ``columns``, with
    driver-ready values; constants compiled into the statement are appended.
    """

    sql: str
    columns: tuple[str, ...]
    positional: bool
    tail: tuple[Any, ...]  # constants after the row values ("?"-style drivers)
    defaults: dict[str, Any]  # the same constants by name (named-style drivers)
    # PostgreSQL: the same insert as one statement over column arrays (see insert_values).
    unnest_sql: str | None = None

    def bind(self, row: tuple[Any, ...]) -> tuple[Any, ...] | dict[str, Any]:
        if self.positional:
            return row + self.tail if self.tail else row
        named = dict(zip(self.columns, row, strict=True))
        if self.defaults:
            named.update(self.defaults)
        return named

    def execute(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Run for every row (``executemany``)."""
        cursor = connection.connection.cursor()
        try:
            if len(rows) == 1:
                cursor.execute(self.sql, self.bind(rows[0]))
            else:
                cursor.executemany(self.sql, [self.bind(row) for row in rows])  # type: ignore[arg-type]
        finally:
            cursor.close()

    def insert_values(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert many rows in few statements.

        SQLite: multi-row ``VALUES`` lists of 100 rows (~1.5x ``executemany``).
        PostgreSQL: one ``INSERT ... SELECT FROM unnest(<column arrays>)``; psycopg
        would re-parse a long VALUES text on every call. Other statements fall
        back to ``execute``.
        """
        if len(rows) < 2:
            self.execute(connection, rows)
            return
        cursor = connection.connection.cursor()
        try:
            if self.unnest_sql is not None:
                cursor.execute(
                    self.unnest_sql, [list(column) for column in zip(*rows, strict=True)]
                )
            elif self.positional and not self.tail:
                for start in range(0, len(rows), _VALUES_PER_INSERT):
                    part = rows[start : start + _VALUES_PER_INSERT]
                    cursor.execute(
                        _values_sql(self.sql, len(part)), list(chain.from_iterable(part))
                    )
            else:
                cursor.executemany(self.sql, [self.bind(row) for row in rows])  # type: ignore[arg-type]
        finally:
            cursor.close()

    def scalar(self, connection: Connection, row: tuple[Any, ...]) -> Any:
        """Run once and return the first column of the first row, or None."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, self.bind(row))
            found = cursor.fetchone()
            return None if found is None else found[0]
        finally:
            cursor.close()


# 100 rows of 7 values stay far below SQLite's limit on bound variables (32766).
_VALUES_PER_INSERT = 100


@functools.lru_cache(maxsize=256)
def _values_sql(sql: str, count: int) -> str:
    """``INSERT ... VALUES (?, ...) [ON CONFLICT ...]`` with ``count`` value lists."""
    head, _, values = sql.partition(" VALUES ")
    row, close, tail = values.partition(")")
    return f"{head} VALUES {', '.join([row + close] * count)}{tail}"


def _raw(statement: Any, dialect: Dialect, columns: tuple[str, ...]) -> RawStatement:
    compiled = statement.compile(dialect=dialect)
    constants = {k: v for k, v in compiled.params.items() if k not in columns}
    if compiled.positional:
        order = tuple(compiled.positiontup)
        if order[: len(columns)] != columns:
            raise AssertionError(f"unexpected parameter order {order} for {columns}")
        tail = tuple(constants[name] for name in order[len(columns) :])
        return RawStatement(str(compiled), columns, True, tail, {})
    return RawStatement(str(compiled), columns, False, (), constants)


METRIC_ROW_COLUMNS = ("workspace", "run_uuid", "key", "value", "timestamp", "step", "is_nan")
# "%b": psycopg sends the arrays in binary, skipping per-element text quoting.
_UNNEST_METRICS = (
    f"INSERT INTO metrics ({', '.join(METRIC_ROW_COLUMNS)}) SELECT * FROM unnest("
    "%b::varchar[], %b::varchar[], %b::varchar[], %b::float8[], %b::bigint[], "
    "%b::bigint[], %b::boolean[]) ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements one dialect executes on every log call."""

    run_stage: RawStatement
    insert_metric: RawStatement
    upsert_latest: RawStatement
    insert_param: Any
    upsert_tag: Any
    delete_tag: Delete
    set_run_name: Update


def _dialect(name: str) -> tuple[Any, Dialect]:
    """The upsert-capable ``insert`` and a dialect instance to compile with."""
    if name == "sqlite":
        return sqlite.insert, sqlite.dialect()
    if name == "postgresql":
        # Positional "%s" parameters, so multi-row VALUES work as on SQLite.
        return postgresql.insert, postgresql.psycopg.dialect(paramstyle="format")  # type: ignore[no-untyped-call]
    raise ValueError(f"unsupported SQL dialect {name!r}")


def statements_for(dialect: Dialect) -> Statements:
    """The hot-path statements for an engine's dialect (SQLite or PostgreSQL)."""
    return _statements(dialect.name)


@functools.cache
def _statements(name: str) -> Statements:
    dialect_insert, dialect = _dialect(name)
    row_values: dict[str, Any] = {column: bindparam(column) for column in METRIC_ROW_COLUMNS}

    latest = dialect_insert(latest_metrics).values(row_values)
    new = latest.excluded
    old = latest_metrics.c
    # MLflow's "latest": highest (step, timestamp, value), NaN below every number;
    # on a tie the point logged later wins (kiln.entities.latest_metric_key).
    minus_inf = literal(float("-inf"), Float)
    new_value = case((new.is_nan, minus_inf), else_=new.value)
    old_value = case((old.is_nan, minus_inf), else_=old.value)
    newer = or_(
        new.step > old.step,
        and_(new.step == old.step, new.timestamp > old.timestamp),
        and_(new.step == old.step, new.timestamp == old.timestamp, new_value >= old_value),
    )
    upsert_latest = latest.on_conflict_do_update(
        index_elements=[old.run_uuid, old.key],
        set_={
            "value": new.value,
            "timestamp": new.timestamp,
            "step": new.step,
            "is_nan": new.is_nan,
        },
        where=newer,
    )

    tag = dialect_insert(tags)
    upsert_tag = tag.on_conflict_do_update(
        index_elements=[tags.c.run_uuid, tags.c.key], set_={"value": tag.excluded.value}
    )
    insert_param = dialect_insert(params).on_conflict_do_nothing(
        index_elements=[params.c.run_uuid, params.c.key]
    )

    return Statements(
        run_stage=_raw(
            select(runs.c.lifecycle_stage).where(
                runs.c.run_uuid == bindparam("rid"), runs.c.workspace == bindparam("ws")
            ),
            dialect,
            ("rid", "ws"),
        ),
        # A point already stored (uq_metrics_point) is skipped: retries add nothing.
        insert_metric=replace(
            _raw(
                dialect_insert(metrics).values(row_values).inline().on_conflict_do_nothing(),
                dialect,
                METRIC_ROW_COLUMNS,
            ),
            unnest_sql=_UNNEST_METRICS if name == "postgresql" else None,
        ),
        upsert_latest=_raw(upsert_latest, dialect, METRIC_ROW_COLUMNS),
        insert_param=insert_param,
        upsert_tag=upsert_tag,
        delete_tag=delete(tags).where(
            tags.c.run_uuid == bindparam("rid"),
            tags.c.key == bindparam("tag_key"),
            tags.c.workspace == bindparam("ws"),
        ),
        set_run_name=update(runs)
        .where(runs.c.run_uuid == bindparam("rid"), runs.c.workspace == bindparam("ws"))
        .values(name=bindparam("run_name")),
    )


__all__ = ["METRIC_ROW_COLUMNS", "RawStatement", "Statements", "statements_for"]
