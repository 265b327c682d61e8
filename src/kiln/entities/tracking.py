"""Tracking entities: experiments, runs and what is logged to them.

Plain frozen values. Times are milliseconds since the epoch, as in MLflow.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiln.entities.datasets import RunInputs

DEFAULT_WORKSPACE = "default"
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"

# MLflow's system tags that the stores themselves read or write.
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
PARENT_RUN_ID_TAG = "mlflow.parentRunId"
# Kiln's: the seed kiln.seed_everything used (kiln run / kiln reproduce read it).
SEED_TAG = "kiln.seed"


class LifecycleStage(enum.StrEnum):
    """Whether an experiment or run is live or soft-deleted."""

    ACTIVE = "active"
    DELETED = "deleted"


class RunStatus(enum.StrEnum):
    """MLflow's run states."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class ViewType(enum.StrEnum):
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def admits(self, stage: LifecycleStage) -> bool:
        if self is ViewType.ALL:
            return True
        if self is ViewType.ACTIVE_ONLY:
            return stage is LifecycleStage.ACTIVE
        return stage is LifecycleStage.DELETED


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    workspace: str = DEFAULT_WORKSPACE


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    workspace: str = DEFAULT_WORKSPACE


class RunData:
    """What was logged to a run, shaped as MLflow's ``RunData``.

    ``metrics`` maps each key to the value of its latest point (a float, so
    ``run.data.metrics["rmse"] < 0.8`` works as with MLflow); ``params`` and
    ``tags`` map keys to strings. The latest points themselves, with step and
    timestamp, are ``metric_objects`` (MLflow's ``_metric_objs`` lists the same).

    "Latest" follows MLflow: the point with the highest step, then the highest
    timestamp, then the highest value. Treat an instance as read-only.
    """

    __slots__ = ("_latest", "_metrics", "_params", "_tags")

    def __init__(
        self,
        metrics: Mapping[str, Metric] | Iterable[Metric] = (),
        params: Mapping[str, str] | Iterable[Param] = (),
        tags: Mapping[str, str] | Iterable[RunTag] = (),
    ) -> None:
        latest: dict[str, Metric]
        if isinstance(metrics, Mapping):  # already the latest point of each key
            latest = dict(metrics)
        else:
            latest = {}
            for point in metrics:
                current = latest.get(point.key)
                if current is None or latest_metric_key(point) >= latest_metric_key(current):
                    latest[point.key] = point
        self._latest = latest
        self._metrics = {key: float(point.value) for key, point in latest.items()}
        self._params = _as_dict(params)
        self._tags = _as_dict(tags)

    @property
    def metrics(self) -> dict[str, float]:
        """Key -> value of the latest point of each metric."""
        return self._metrics

    @property
    def params(self) -> dict[str, str]:
        return self._params

    @property
    def tags(self) -> dict[str, str]:
        return self._tags

    @property
    def metric_objects(self) -> dict[str, Metric]:
        """Key -> latest point of each metric (value, timestamp and step)."""
        return self._latest

    @property
    def _metric_objs(self) -> list[Metric]:
        """The latest points as a list, under the name MLflow's ``RunData`` uses."""
        return list(self._latest.values())

    def to_dictionary(self) -> dict[str, dict[str, float] | dict[str, str]]:
        """``{"metrics": ..., "params": ..., "tags": ...}`` as MLflow returns it."""
        return {"metrics": self.metrics, "params": self.params, "tags": self.tags}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunData):
            return NotImplemented
        return (self._latest, self._params, self._tags) == (
            other._latest,
            other._params,
            other._tags,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable dicts inside, as before

    def __repr__(self) -> str:
        return f"RunData(metrics={self._metrics!r}, params={self._params!r}, tags={self._tags!r})"


def _as_dict(entries: Mapping[str, str] | Iterable[Param] | Iterable[RunTag]) -> dict[str, str]:
    if isinstance(entries, Mapping):
        return dict(entries)
    return {entry.key: entry.value for entry in entries}


@dataclass(frozen=True, slots=True)
class Run:
    """A run: its info, what was logged to it, and the dataset inputs it used."""

    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    @property
    def run_id(self) -> str:
        return self.info.run_id


def latest_metric_key(metric: Metric) -> tuple[int, int, float]:
    """Sort key that picks MLflow's "latest" point of a metric (max wins).

    NaN sorts as smaller than every number, so a NaN never displaces a real value
    logged at the same step and timestamp.
    """
    value = metric.value
    return (metric.step, metric.timestamp, value if value == value else float("-inf"))


def metric_point_id(metric: Metric) -> tuple[str, int, int, float, bool]:
    """What makes two logged points the same point: key, timestamp, step and value.

    Stores keep one point per identity, as MLflow's SQL store does (its primary
    key), so a client's retry after a lost response adds nothing. All NaNs are one
    value here; ``0.0`` and ``-0.0`` are one value, as in SQL.
    """
    value = float(metric.value)
    is_nan = value != value
    return (metric.key, metric.timestamp, metric.step, 0.0 if is_nan else value, is_nan)


__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "DEFAULT_WORKSPACE",
    "Experiment",
    "LifecycleStage",
    "Metric",
    "PARENT_RUN_ID_TAG",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RUN_NAME_TAG",
    "SEED_TAG",
    "RunTag",
    "USER_TAG",
    "ViewType",
    "latest_metric_key",
    "metric_point_id",
]
