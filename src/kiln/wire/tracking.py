"""Tracking entities <-> MLflow REST JSON, exactly as ``mlflow.utils.proto_json_utils``
writes them (``message_to_json``): snake_case field names, int64 fields as JSON
numbers, doubles NaN/Infinity as strings, unset and empty repeated fields left out.

Every ``*_to_json`` has a ``*_from_json`` inverse; the server uses the former on
answers and the latter on requests, the REST store the other way round. Readers
raise ``InvalidInput`` naming the offending field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kiln.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import InvalidInput
from kiln.wire.fields import (
    INT64_MAX,
    INT64_MIN,
    JsonObject,
    as_float,
    as_int,
    compact,
    float_to_json,
    object_list,
    opt_enum,
    opt_int,
    opt_str,
    req_str,
)

# protobuf enum numbers, from mlflow/protos/service.proto
RUN_STATUS_NUMBERS: dict[int, str] = {
    1: "RUNNING",
    2: "SCHEDULED",
    3: "FINISHED",
    4: "FAILED",
    5: "KILLED",
}
VIEW_TYPE_NUMBERS: dict[int, str] = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}


# --- tags, params, metrics ----------------------------------------------------
def tag_to_json(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": value}


def tags_to_json(tags: dict[str, str]) -> list[dict[str, Any]]:
    return [tag_to_json(k, v) for k, v in tags.items()]


def tag_from_json(obj: JsonObject, where: str = "tag") -> RunTag:
    """A ``{key, value}`` tag; missing fields read as "" as protobuf does.

    Keys are not judged here: every store validates them with the same messages.
    """
    return RunTag(opt_str(obj, "key") or "", opt_str(obj, "value") or "")


def tags_from_json(items: Iterable[JsonObject], where: str = "tags") -> list[RunTag]:
    return [tag_from_json(item, f"{where}[{i}]") for i, item in enumerate(items)]


def param_to_json(param: Param) -> dict[str, Any]:
    return {"key": param.key, "value": param.value}


def param_from_json(obj: JsonObject, where: str = "param") -> Param:
    return Param(opt_str(obj, "key") or "", opt_str(obj, "value") or "")


def metric_to_json(metric: Metric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "value": float_to_json(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }


def metric_from_json(obj: JsonObject, where: str = "metric") -> Metric:
    """A metric; ``value`` and ``timestamp`` are required, ``step`` defaults to 0.

    A missing key reads as "" and is left to the store's key validation.
    """
    # Fast path for what clients send nearly always (a 1,000-metric log-batch spent
    # more time here than in the database): exact types, in range.
    get = obj.get
    key, value, timestamp, step = get("key"), get("value"), get("timestamp"), get("step")
    if step is None:
        step = 0
    if (
        type(key) is str
        and type(value) is float
        and type(timestamp) is int
        and type(step) is int
        and INT64_MIN <= timestamp <= INT64_MAX
        and INT64_MIN <= step <= INT64_MAX
    ):
        return Metric(key, value, timestamp, step)
    key = opt_str(obj, "key") or ""
    if obj.get("value") is None:
        raise InvalidInput(f"missing value for required field {where}.value")
    if obj.get("timestamp") is None:
        raise InvalidInput(f"missing value for required field {where}.timestamp")
    return Metric(
        key=key,
        value=as_float(obj["value"], f"{where}.value"),
        timestamp=as_int(obj["timestamp"], f"{where}.timestamp"),
        step=opt_int(obj, "step") or 0,
    )


def metrics_from_json(items: Iterable[JsonObject], where: str = "metrics") -> list[Metric]:
    """``metric_from_json`` of each item; ``where[i]`` names a bad one."""
    metrics = []
    for i, item in enumerate(items):
        try:
            metrics.append(metric_from_json(item, where))
        except InvalidInput:
            metrics.append(metric_from_json(item, f"{where}[{i}]"))  # raises, naming the index
    return metrics


# --- experiments ----------------------------------------------------------------
def experiment_to_json(experiment: Experiment) -> dict[str, Any]:
    return compact(
        {
            "experiment_id": experiment.experiment_id,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage.value,
            "last_update_time": experiment.last_update_time,
            "creation_time": experiment.creation_time,
            "tags": tags_to_json(experiment.tags),
            "workspace": experiment.workspace,
        }
    )


def experiment_from_json(obj: JsonObject) -> Experiment:
    return Experiment(
        experiment_id=req_str(obj, "experiment_id"),
        name=opt_str(obj, "name") or "",
        artifact_location=opt_str(obj, "artifact_location") or "",
        lifecycle_stage=_stage(obj),
        creation_time=opt_int(obj, "creation_time"),
        last_update_time=opt_int(obj, "last_update_time"),
        tags={t.key: t.value for t in tags_from_json(object_list(obj, "tags"))},
        workspace=opt_str(obj, "workspace") or "default",
    )


def _stage(obj: JsonObject) -> LifecycleStage:
    stage = opt_str(obj, "lifecycle_stage") or "active"
    try:
        return LifecycleStage(stage)
    except ValueError:
        raise InvalidInput(f"unknown lifecycle_stage {stage!r}") from None


# --- runs -------------------------------------------------------------------------
def run_info_to_json(info: RunInfo) -> dict[str, Any]:
    # run_uuid is MLflow's deprecated duplicate of run_id; old clients still read it.
    return compact(
        {
            "run_uuid": info.run_id,
            "experiment_id": info.experiment_id,
            "run_name": info.run_name,
            "user_id": info.user_id,
            "status": info.status.value,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
            "lifecycle_stage": info.lifecycle_stage.value,
            "run_id": info.run_id,
        }
    )


def run_info_from_json(obj: JsonObject) -> RunInfo:
    run_id = opt_str(obj, "run_id") or req_str(obj, "run_uuid")
    status = parse_run_status(obj, "status") or RunStatus.RUNNING
    return RunInfo(
        run_id=run_id,
        experiment_id=opt_str(obj, "experiment_id") or "",
        run_name=opt_str(obj, "run_name") or "",
        user_id=opt_str(obj, "user_id") or "",
        status=status,
        start_time=opt_int(obj, "start_time") or 0,
        end_time=opt_int(obj, "end_time"),
        artifact_uri=opt_str(obj, "artifact_uri") or "",
        lifecycle_stage=_stage(obj),
    )


# --- dataset inputs -------------------------------------------------------------------
def dataset_to_json(dataset: Dataset) -> dict[str, Any]:
    return compact(
        {
            "name": dataset.name,
            "digest": dataset.digest,
            "source_type": dataset.source_type,
            "source": dataset.source,
            "schema": dataset.schema,
            "profile": dataset.profile,
        }
    )


def dataset_from_json(obj: JsonObject, where: str = "dataset") -> Dataset:
    """A dataset; missing strings read as "" (protobuf) and are judged by the store."""
    return Dataset(
        name=_str_field(obj, "name", where) or "",
        digest=_str_field(obj, "digest", where) or "",
        source_type=_str_field(obj, "source_type", where) or "",
        source=_str_field(obj, "source", where) or "",
        schema=_str_field(obj, "schema", where),
        profile=_str_field(obj, "profile", where),
    )


def _str_field(obj: JsonObject, name: str, where: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{where}.{name} must be a string, got {type(value).__name__}")
    return value


def dataset_input_to_json(item: DatasetInput) -> dict[str, Any]:
    return compact(
        {
            "tags": [tag_to_json(t.key, t.value) for t in item.tags],
            "dataset": dataset_to_json(item.dataset),
        }
    )


def dataset_input_from_json(obj: JsonObject, where: str = "dataset_input") -> DatasetInput:
    dataset = obj.get("dataset")
    if not isinstance(dataset, dict):
        raise InvalidInput(f"missing value for required field {where}.dataset")
    tags = tuple(
        InputTag(
            _str_field(t, "key", f"{where}.tags[{i}]") or "",
            _str_field(t, "value", f"{where}.tags[{i}]") or "",
        )
        for i, t in enumerate(object_list(obj, "tags"))
    )
    return DatasetInput(dataset_from_json(dataset, f"{where}.dataset"), tags)


def run_inputs_to_json(inputs: RunInputs) -> dict[str, Any]:
    return compact({"dataset_inputs": [dataset_input_to_json(d) for d in inputs.dataset_inputs]})


def run_inputs_from_json(obj: JsonObject) -> RunInputs:
    return RunInputs(
        tuple(
            dataset_input_from_json(d, f"inputs.dataset_inputs[{i}]")
            for i, d in enumerate(object_list(obj, "dataset_inputs"))
        )
    )


def run_to_json(run: Run) -> dict[str, Any]:
    data = compact(
        {
            "metrics": [metric_to_json(m) for m in run.data.metric_objects.values()],
            "params": [{"key": k, "value": v} for k, v in run.data.params.items()],
            "tags": tags_to_json(run.data.tags),
        }
    )
    return {
        "info": run_info_to_json(run.info),
        "data": data,
        "inputs": run_inputs_to_json(run.inputs),
        "outputs": {},
    }


def run_from_json(obj: JsonObject) -> Run:
    info_obj = obj.get("info")
    if not isinstance(info_obj, dict):
        raise InvalidInput("run.info must be a JSON object")
    data_obj = obj.get("data") or {}
    if not isinstance(data_obj, dict):
        raise InvalidInput("run.data must be a JSON object")
    metrics = [metric_from_json(m, "run.data.metrics") for m in object_list(data_obj, "metrics")]
    params = [param_from_json(p) for p in object_list(data_obj, "params")]
    tags = tags_from_json(object_list(data_obj, "tags"))
    inputs_obj = obj.get("inputs") or {}
    if not isinstance(inputs_obj, dict):
        raise InvalidInput("run.inputs must be a JSON object")
    return Run(
        info=run_info_from_json(info_obj),
        data=RunData(metrics=metrics, params=params, tags=tags),
        inputs=run_inputs_from_json(inputs_obj),
    )


def parse_run_status(obj: JsonObject, name: str = "status") -> RunStatus | None:
    value = opt_enum(obj, name, RUN_STATUS_NUMBERS)
    return None if value is None else RunStatus(value)


def parse_view_type(obj: JsonObject, name: str) -> ViewType:
    value = opt_enum(obj, name, VIEW_TYPE_NUMBERS)
    return ViewType.ACTIVE_ONLY if value is None else ViewType(value)


# --- artifacts ----------------------------------------------------------------------
def file_info_to_json(info: FileInfo) -> dict[str, Any]:
    return compact({"path": info.path, "is_dir": info.is_dir, "file_size": info.file_size})


def file_info_from_json(obj: JsonObject) -> FileInfo:
    size = opt_int(obj, "file_size")
    return FileInfo(
        path=req_str(obj, "path"), is_dir=bool(obj.get("is_dir", False)), file_size=size
    )


__all__ = [
    "RUN_STATUS_NUMBERS",
    "VIEW_TYPE_NUMBERS",
    "dataset_from_json",
    "dataset_input_from_json",
    "dataset_input_to_json",
    "dataset_to_json",
    "experiment_from_json",
    "experiment_to_json",
    "file_info_from_json",
    "file_info_to_json",
    "metric_from_json",
    "metrics_from_json",
    "metric_to_json",
    "param_from_json",
    "param_to_json",
    "parse_run_status",
    "parse_view_type",
    "run_from_json",
    "run_info_from_json",
    "run_info_to_json",
    "run_inputs_from_json",
    "run_inputs_to_json",
    "run_to_json",
    "tag_from_json",
    "tag_to_json",
    "tags_from_json",
    "tags_to_json",
]
