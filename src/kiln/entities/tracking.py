"""Tracking entities: experiments, runs and what is logged to them.

Plain frozen values. Times are milliseconds since the epoch, as in MLflow.
"""

from __future__ import annotations

import enum
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


@dataclass(frozen=True, slots=True)
class RunData:
    """What was logged to a run. ``metrics`` holds the latest point of each key.

    "Latest" follows MLflow: the point with the highest step, then the highest
    timestamp, then the highest value.
    """

    metrics: dict[str, Metric] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


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
]
