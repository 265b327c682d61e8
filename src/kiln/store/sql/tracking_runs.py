"""Runs: create, read, rename, finish, delete and search, one part of the SQL tracking store.

The writes logged to a run (metrics, params, tags, inputs) are in
``kiln.store.sql.tracking_writes``; run search is compiled to SQL by
``kiln.store.sql.filters``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update

from kiln.entities import (
    RUN_NAME_TAG,
    Metric,
    Page,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import Conflict
from kiln.store.clock import wall_clock_ms
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.query.buckets import Series, SeriesQuery
from kiln.store.rules.audit import lifecycle_event
from kiln.store.rules.runs import new_run_tags, run_artifact_uri
from kiln.store.rules.tracking import validate_run_name
from kiln.store.sql import filters
from kiln.store.sql.audit import append_event
from kiln.store.sql.engine import read_transaction, write_transaction
from kiln.store.sql.rows import (
    experiment_key,
    experiment_key_or_none,
    to_metric,
    to_run_info,
)
from kiln.store.sql.schema import metrics, runs
from kiln.store.sql.tracking_base import ACTIVE, DELETED, SqlTrackingBase


class SqlRuns(SqlTrackingBase):
    """The run methods of ``SqlTrackingStore`` but the logging ones."""

    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        key = experiment_key(experiment_id)
        name, tag_values = new_run_tags(tags, run_name, user_id, start_time)
        run_id = uuid.uuid4().hex
        start = wall_clock_ms() if start_time is None else start_time
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, key, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise Conflict(f"cannot create a run in experiment {experiment_id}: it is deleted")
            artifact_uri = run_artifact_uri(row.artifact_location, run_id)
            values = {
                "run_uuid": run_id,
                "workspace": self._workspace,
                "experiment_id": key,
                "name": name,
                "user_id": user_id or "",
                "status": RunStatus.RUNNING.value,
                "start_time": start,
                "end_time": None,
                "lifecycle_stage": ACTIVE,
                "deleted_time": None,
                "artifact_uri": artifact_uri,
            }
            conn.execute(insert(runs), values)
            conn.execute(
                self._sql.upsert_tag,
                [
                    {"workspace": self._workspace, "run_uuid": run_id, "key": k, "value": v}
                    for k, v in tag_values.items()
                ],
            )
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(key),
            run_name=name,
            user_id=user_id or "",
            status=RunStatus.RUNNING,
            start_time=start,
            end_time=None,
            artifact_uri=artifact_uri,
            workspace=self._workspace,
        )
        return Run(info=info, data=RunData(tags=tag_values))

    def get_run(self, run_id: str) -> Run:
        with read_transaction(self._engine) as conn:
            row = self._run_row(conn, run_id)
            return filters.load_runs(conn, self._workspace, [row])[0]

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(status).value
        if end_time is not None:
            values["end_time"] = end_time
        if run_name:
            values["name"] = validate_run_name(run_name)
        with write_transaction(self._engine) as conn:
            self._check_active(conn, run_id)
            if values:
                conn.execute(update(runs).where(runs.c.run_uuid == run_id).values(**values))
            if run_name:
                conn.execute(
                    self._sql.upsert_tag,
                    {
                        "workspace": self._workspace,
                        "run_uuid": run_id,
                        "key": RUN_NAME_TAG,
                        "value": run_name,
                    },
                )
            return to_run_info(self._run_row(conn, run_id))

    def _set_stage(self, run_id: str, stage: str, deleted_time: int | None) -> None:
        with write_transaction(self._engine) as conn:
            row = self._run_row(conn, run_id)
            conn.execute(
                update(runs)
                .where(runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage, deleted_time=deleted_time)
            )
            event = lifecycle_event(self._workspace, "run", run_id, row.lifecycle_stage, stage)
            append_event(conn, event)

    def delete_run(self, run_id: str) -> None:
        self._set_stage(run_id, DELETED, wall_clock_ms())

    def restore_run(self, run_id: str) -> None:
        self._set_stage(run_id, ACTIVE, None)

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        with read_transaction(self._engine) as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(
                select(
                    metrics.c.key,
                    metrics.c.value,
                    metrics.c.timestamp,
                    metrics.c.step,
                    metrics.c.is_nan,
                )
                .where(
                    metrics.c.run_uuid == run_id,
                    metrics.c.key == metric_key,
                    metrics.c.workspace == self._workspace,
                )
                .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
            )
            return [to_metric(row) for row in rows]

    def metric_series(self, run_id: str, key: str, query: SeriesQuery) -> Series:
        """``MetricSeries``: a chart's buckets of ``key`` (``kiln.store.sql.series``)."""
        from kiln.store.sql import series  # numpy: only where charts are drawn

        return series.metric_series(self, run_id, key, query)

    def metric_sample(
        self, run_id: str, key: str, max_results: int, steps: tuple[int, int] | None = None
    ) -> list[Metric]:
        """``MetricSample``: MLflow's bulk-interval sample (``kiln.store.sql.series``)."""
        from kiln.store.sql import series

        return series.metric_sample(self, run_id, key, max_results, steps)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        keys = []
        for experiment_id in experiment_ids:
            key = experiment_key_or_none(experiment_id)
            if key is not None:
                keys.append(key)
        with read_transaction(self._engine) as conn:
            return filters.search_runs(
                conn,
                self._workspace,
                keys,
                filter_string,
                run_view_type,
                max_results,
                order_by,
                page_token,
            )


__all__ = ["SqlRuns"]
