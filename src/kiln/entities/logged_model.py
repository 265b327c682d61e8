"""MLflow 3 logged models: a model's files and metadata, apart from any run.

A ``LoggedModel`` lives in an experiment, may name the run that produced it
(``source_run_id``), and keeps its files under its own ``artifact_location``
(``<experiment artifact location>/models/<model_id>/artifacts``). Ids are
``m-`` followed by 32 lowercase hex characters, as MLflow makes them. Times are
milliseconds since the epoch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kiln.entities.tracking import LifecycleStage

LOGGED_MODEL_ID_PREFIX = "m-"


class LoggedModelStatus(enum.StrEnum):
    """MLflow's ``LoggedModelStatus``; ``code`` is the integer the REST API carries."""

    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"

    @property
    def code(self) -> int:
        return _STATUS_CODES[self]

    @property
    def proto_name(self) -> str:
        """The enum name in MLflow's protobuf (``LOGGED_MODEL_READY``...)."""
        return _PROTO_NAMES[self]

    @classmethod
    def from_code(cls, code: int) -> LoggedModelStatus:
        """Raises: ValueError for an unknown code."""
        for status, value in _STATUS_CODES.items():
            if value == code:
                return status
        raise ValueError(f"unknown logged model status code {code!r}")

    @classmethod
    def from_proto_name(cls, name: str) -> LoggedModelStatus:
        """Raises: ValueError for an unknown name."""
        for status, value in _PROTO_NAMES.items():
            if value == name:
                return status
        raise ValueError(f"unknown logged model status {name!r}")


_STATUS_CODES = {
    LoggedModelStatus.UNSPECIFIED: 0,
    LoggedModelStatus.PENDING: 1,
    LoggedModelStatus.READY: 2,
    LoggedModelStatus.FAILED: 3,
}
_PROTO_NAMES = {
    LoggedModelStatus.UNSPECIFIED: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """A metric recorded against a logged model, optionally on a dataset."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedModelOutput:
    """A run produced ``model_id`` at ``step`` (MLflow's ``LoggedModelOutput``)."""

    model_id: str
    step: int = 0


@dataclass(frozen=True, slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: LoggedModelStatus = LoggedModelStatus.PENDING
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: tuple[LoggedModelMetric, ...] = ()

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"


__all__ = [
    "LOGGED_MODEL_ID_PREFIX",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelOutput",
    "LoggedModelStatus",
]
