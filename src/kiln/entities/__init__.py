"""Plain frozen values shared by every layer. Imports nothing else of Kiln."""

from kiln.entities.artifacts import FileInfo
from kiln.entities.paging import Page
from kiln.entities.registry import (
    PROMPT_TAG_KEY,
    ModelVersion,
    ModelVersionStage,
    ModelVersionStatus,
    RegisteredModel,
)
from kiln.entities.tracking import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
    latest_metric_key,
)

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "DEFAULT_WORKSPACE",
    "PROMPT_TAG_KEY",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "ModelVersion",
    "ModelVersionStage",
    "ModelVersionStatus",
    "Page",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
    "latest_metric_key",
]
