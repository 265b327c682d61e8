"""Reading whole runs for a page of search results, and listing experiments.

Split from ``kiln.store.sql.filters`` (which compiles run search to SQL); both
functions are re-exported there.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from kiln.entities import (
    Experiment,
    Metric,
    Page,
    Run,
    RunData,
    RunInputs,
    ViewType,
)
from kiln.store.query.search import prepare_experiment_search
from kiln.store.sql.inputs import load_inputs
from kiln.store.sql.rows import chunks, run_info_of, to_experiment, view_stages
from kiln.store.sql.schema import experiment_tags, experiments

_NAN = float("nan")


@functools.lru_cache(maxsize=128)
def _of_runs_sql(dialect: str, table: str, columns: str, count: int) -> str:
    """``SELECT columns FROM table WHERE workspace = ? AND run_uuid IN (?, ...)``."""
    mark = "?" if dialect == "sqlite" else "%s"
    marks = ", ".join([mark] * count)
    return f"SELECT {columns} FROM {table} WHERE workspace = {mark} AND run_uuid IN ({marks})"


def load_runs(conn: Connection, workspace: str, run_rows: Sequence[Any]) -> list[Run]:
    """Full Run entities (latest metrics, params, tags, inputs) for ``runs`` rows, in order.

    A row is a sequence of the ``runs`` columns in table order (a SQLAlchemy row
    of ``select(runs)`` or a DBAPI tuple). Reads through the DBAPI cursor: for a
    page of 1000 runs, SQLAlchemy's per-row result processing would cost more
    than the queries themselves.
    """
    ids = [row[0] for row in run_rows]
    dialect = conn.dialect.name
    found_metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    found_params: dict[str, dict[str, str]] = defaultdict(dict)
    found_tags: dict[str, dict[str, str]] = defaultdict(dict)
    cursor = conn.connection.cursor()
    try:
        for part in chunks(ids):
            bound = [workspace, *part]
            metric_sql = _of_runs_sql(
                dialect,
                "latest_metrics",
                'run_uuid, "key", value, timestamp, step, is_nan',
                len(part),
            )
            cursor.execute(metric_sql, bound)
            for run_id, key, value, timestamp, step, is_nan in cursor.fetchall():
                found_metrics[run_id][key] = Metric(
                    key, _NAN if is_nan else float(value), int(timestamp), int(step)
                )
            for table, found in (("params", found_params), ("tags", found_tags)):
                cursor.execute(
                    _of_runs_sql(dialect, table, 'run_uuid, "key", value', len(part)), bound
                )
                for run_id, key, value in cursor.fetchall():
                    found[run_id][key] = value
    finally:
        cursor.close()
    found_inputs = load_inputs(conn, workspace, ids)
    no_inputs = RunInputs()
    return [
        Run(
            info=run_info_of(row),
            data=RunData(
                metrics=found_metrics.get(row[0], {}),
                params=found_params.get(row[0], {}),
                tags=found_tags.get(row[0], {}),
            ),
            inputs=found_inputs.get(row[0], no_inputs),
        )
        for row in run_rows
    ]


def search_experiments(
    conn: Connection,
    workspace: str,
    view_type: ViewType,
    max_results: int,
    filter_string: str | None,
    order_by: Sequence[str],
    page_token: str | None,
) -> Page[Experiment]:
    """One page of the workspace's experiments (filtered and sorted in Python).

    Raises:
        InvalidInput: a bad filter, order_by, page token or max_results.
    """
    search = prepare_experiment_search(filter_string, order_by or (), max_results, page_token)
    tag_map: dict[int, dict[str, str]] = defaultdict(dict)
    for row in conn.execute(
        select(experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value)
        .select_from(
            experiment_tags.join(
                experiments, experiments.c.experiment_id == experiment_tags.c.experiment_id
            )
        )
        .where(
            experiment_tags.c.workspace == workspace,
            experiments.c.lifecycle_stage.in_(view_stages(view_type)),
        )
    ):
        tag_map[row.experiment_id][row.key] = row.value
    found = [
        to_experiment(row, tag_map.get(row.experiment_id, {}))
        for row in conn.execute(
            select(experiments).where(
                experiments.c.workspace == workspace,
                experiments.c.lifecycle_stage.in_(view_stages(view_type)),
            )
        )
    ]
    return search.page(found)


__all__ = ["load_runs", "search_experiments"]
