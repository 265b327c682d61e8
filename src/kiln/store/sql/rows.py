"""Database rows -> Kiln entities, and the few values the SQL store derives.

Pure functions: nothing here touches a connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kiln.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    RunInfo,
    RunStatus,
    ViewType,
)
from kiln.errors import NotFound
from kiln.store.rules.tracking import validate_experiment_id
from kiln.wire.fields import int_from_digits

MAX_EXPERIMENT_KEY = 2**31 - 1  # experiment ids are 32-bit integers in the database


def experiment_key(experiment_id: str) -> int:
    """The integer key of an experiment id.

    Raises:
        InvalidInput: not a decimal id.
        NotFound: too large for any row to have it.
    """
    key = experiment_key_or_none(experiment_id)
    if key is None:
        raise NotFound(f"no experiment with id {experiment_id[:40]!r}")
    return key


def experiment_key_or_none(experiment_id: str) -> int | None:
    """The integer key of an experiment id; None when too large for any row to have it
    (checked on the text first: ``int()`` refuses more than 4,300 digits).

    Raises:
        InvalidInput: not a decimal id.
    """
    validate_experiment_id(experiment_id)
    key = int_from_digits(experiment_id)
    return key if key is not None and key <= MAX_EXPERIMENT_KEY else None


def metric_row(workspace: str, run_id: str, metric: Metric) -> tuple[Any, ...]:
    """One metric point as a row tuple in ``METRIC_ROW_COLUMNS`` order.

    A NaN is stored as 0 with ``is_nan`` true (SQLite would turn it into NULL).
    """
    value = float(metric.value)
    if value != value:
        return (workspace, run_id, metric.key, 0.0, metric.timestamp, metric.step, True)
    return (workspace, run_id, metric.key, value, metric.timestamp, metric.step, False)


def latest_points(metrics: Iterable[Metric]) -> list[Metric]:
    """The latest point of each key among ``metrics``, first-seen key order.

    ``kiln.entities.latest_metric_key`` decides (highest step, timestamp, value;
    NaN lowest); on a tie the point logged later wins, as in the memory store.
    It is inlined here because a 1000-point batch calls it 1000 times.
    """
    latest: dict[str, tuple[tuple[int, int, float], Metric]] = {}
    minus_inf = float("-inf")
    for metric in metrics:
        value = metric.value
        rank = (metric.step, metric.timestamp, value if value == value else minus_inf)
        current = latest.get(metric.key)
        if current is None or rank >= current[0]:
            latest[metric.key] = (rank, metric)
    return [metric for _, metric in latest.values()]


def to_metric(row: Any) -> Metric:
    """A metric entity from a row with key, value, timestamp, step, is_nan."""
    value = float("nan") if row.is_nan else float(row.value)
    return Metric(key=row.key, value=value, timestamp=int(row.timestamp), step=int(row.step))


def to_run_info(row: Any) -> RunInfo:
    """A RunInfo from a ``runs`` row."""
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=RunStatus(row.status),
        start_time=int(row.start_time),
        end_time=None if row.end_time is None else int(row.end_time),
        artifact_uri=row.artifact_uri,
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
        workspace=row.workspace,
    )


_STATUSES = {status.value: status for status in RunStatus}
_STAGES = {stage.value: stage for stage in LifecycleStage}


def run_info_of(row: Sequence[Any]) -> RunInfo:
    """A RunInfo from the ``runs`` columns in table order (a tuple or a ``select(runs)`` row).

    Same result as ``to_run_info``, read by position (the search hot path).
    """
    run_uuid, workspace, experiment_id, name, user_id, status, start, end, stage = row[:9]
    artifact_uri = row[10]
    return RunInfo(
        run_id=run_uuid,
        experiment_id=str(experiment_id),
        run_name=name,
        user_id=user_id,
        status=_STATUSES.get(status) or RunStatus(status),
        start_time=int(start),
        end_time=None if end is None else int(end),
        artifact_uri=artifact_uri,
        lifecycle_stage=_STAGES.get(stage) or LifecycleStage(stage),
        workspace=workspace,
    )


def to_experiment(row: Any, tags: Mapping[str, str]) -> Experiment:
    """An Experiment from an ``experiments`` row and its tags."""
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=dict(tags),
        workspace=row.workspace,
    )


def view_stages(view_type: ViewType) -> list[str]:
    """The ``lifecycle_stage`` values a search with ``view_type`` admits."""
    view = ViewType(view_type)
    return [stage.value for stage in LifecycleStage if view.admits(stage)]


def chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """``items`` in slices of ``size`` (SQLite limits bound variables per statement)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def key_value_rows(columns: Mapping[str, Any], pairs: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rows of a key/value table (tags, params): ``columns`` plus each key and value."""
    return [{**columns, "key": k, "value": v} for k, v in pairs.items()]


__all__ = [
    "MAX_EXPERIMENT_KEY",
    "experiment_key",
    "experiment_key_or_none",
    "key_value_rows",
    "chunks",
    "latest_points",
    "metric_row",
    "to_experiment",
    "to_metric",
    "run_info_of",
    "to_run_info",
    "view_stages",
]
