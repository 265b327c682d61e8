"""Logging to a run (metrics, params, tags, dataset inputs), one part of the SQL tracking store.

This is the hot path. On SQLite ``log_metric``, ``log_param``, ``set_tag`` and
``log_batch`` go through ``kiln.store.sql.group_commit`` (committed together with
concurrent writes) and the prepared statements of ``kiln.store.sql.statements``;
elsewhere each is one write transaction.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kiln.entities import RUN_NAME_TAG, DatasetInput, Metric, Param, RunTag
from kiln.errors import Conflict, NotFound
from kiln.store.rules.tracking import (
    validate_batch,
    validate_dataset_inputs,
    validate_key,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
)
from kiln.store.sql.engine import write_transaction
from kiln.store.sql.inputs import link_inputs
from kiln.store.sql.rows import latest_points, metric_row
from kiln.store.sql.schema import params, runs
from kiln.store.sql.tracking_base import SqlTrackingBase

# A metric row's (key, step, timestamp): the metrics index's order after the run.
_INDEX_ORDER = operator.itemgetter(2, 5, 4)


class SqlRunWrites(SqlTrackingBase):
    """The logging methods of ``SqlTrackingStore``."""

    def _write(self, run_id: str, job: Callable[[Connection], None]) -> None:
        """Run ``job`` on the active run ``run_id`` in a write transaction: grouped with
        concurrent ones on SQLite."""

        def checked(conn: Connection) -> None:
            self._check_active(conn, run_id)
            job(conn)

        if self._group is not None:
            self._group.run(checked)
            return
        with write_transaction(self._engine) as conn:
            checked(conn)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        validate_run_id(run_id)
        validate_metric(metric)
        rows = [metric_row(self._workspace, run_id, metric)]

        def write(conn: Connection) -> None:
            self._sql.insert_metric.execute(conn, rows)
            self._sql.upsert_latest.execute(conn, rows)

        self._write(run_id, write)

    def log_param(self, run_id: str, param: Param) -> None:
        validate_run_id(run_id)
        validate_param(param)
        self._write(run_id, lambda conn: self._write_params(conn, run_id, [param]))

    def _write_params(self, conn: Connection, run_id: str, new: Sequence[Param]) -> None:
        """Insert params; an existing key with another value raises Conflict."""
        if len(new) == 1:
            # The common case in one statement: insert, and look only if it existed.
            param = new[0]
            row = {"workspace": self._workspace, "run_uuid": run_id, "key": param.key}
            inserted = conn.execute(self._sql.insert_param, {**row, "value": param.value})
            if inserted.rowcount == 1:
                return
        wanted = {param.key: param.value for param in new}
        existing = conn.execute(
            select(params.c.key, params.c.value).where(
                params.c.run_uuid == run_id, params.c.key.in_(list(wanted))
            )
        ).all()
        for key, value in existing:
            if wanted[key] != value:
                raise Conflict(
                    f"param {key!r} of run {run_id} is already {value!r}; params are "
                    f"write-once and cannot be changed to {wanted[key]!r}"
                )
        known = {key for key, _ in existing}
        rows = [
            {"workspace": self._workspace, "run_uuid": run_id, "key": k, "value": v}
            for k, v in wanted.items()
            if k not in known
        ]
        if rows:
            conn.execute(self._sql.insert_param, rows)

    def _write_tags(self, conn: Connection, run_id: str, new: Sequence[RunTag]) -> None:
        values = {tag.key: tag.value for tag in new}
        conn.execute(
            self._sql.upsert_tag,
            [
                {"workspace": self._workspace, "run_uuid": run_id, "key": k, "value": v}
                for k, v in values.items()
            ],
        )
        name = values.get(RUN_NAME_TAG)
        if name:
            validate_run_name(name)
            conn.execute(
                self._sql.set_run_name, {"rid": run_id, "ws": self._workspace, "run_name": name}
            )

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        validate_run_id(run_id)
        validate_tag(tag)
        self._write(run_id, lambda conn: self._write_tags(conn, run_id, [tag]))

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_run_id(run_id)
        validate_key(key, "tag key")
        with write_transaction(self._engine) as conn:
            self._check_active(conn, run_id)
            deleted = conn.execute(
                self._sql.delete_tag, {"rid": run_id, "ws": self._workspace, "tag_key": key}
            )
            if deleted.rowcount == 0:
                raise NotFound(f"run {run_id} has no tag {key!r}")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        validate_run_id(run_id)
        validate_batch(metrics, params, tags)
        workspace = self._workspace
        # Rows are built here, outside the write transaction (and its lock), in the
        # metric index's order (key, step, timestamp): each insert lands beside the
        # previous one (a 1,000-point batch then costs ~40% less to insert). The sort
        # is stable, so equal points keep the order they were logged in.
        points = sorted((metric_row(workspace, run_id, m) for m in metrics), key=_INDEX_ORDER)
        latest = [metric_row(workspace, run_id, m) for m in latest_points(metrics)]

        def write(conn: Connection) -> None:
            if params:
                self._write_params(conn, run_id, params)
            if points:
                self._sql.insert_metric.insert_values(conn, points)
                self._sql.upsert_latest.execute(conn, latest)
            if tags:
                self._write_tags(conn, run_id, tags)

        self._write(run_id, write)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        validate_run_id(run_id)
        items = validate_dataset_inputs(datasets)
        try:
            self._link_inputs(run_id, items)
        except IntegrityError:
            # A concurrent writer stored one of these datasets or inputs first
            # (PostgreSQL); a second pass finds and reuses its rows.
            self._link_inputs(run_id, items)

    def _link_inputs(self, run_id: str, items: Sequence[DatasetInput]) -> None:
        with write_transaction(self._engine) as conn:
            self._check_active(conn, run_id)
            experiment = conn.execute(
                select(runs.c.experiment_id).where(runs.c.run_uuid == run_id)
            ).scalar_one()
            link_inputs(conn, self._workspace, int(experiment), run_id, items)


__all__ = ["SqlRunWrites"]
