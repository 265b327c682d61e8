"""Logged models <-> MLflow REST JSON (``LoggedModel`` in ``mlflow/protos/service.proto``).

As MLflow's ``message_to_json`` writes them: ``{"info": {...}, "data": {...}}``,
timestamps as JSON numbers, ``status`` by enum name (``LOGGED_MODEL_READY``),
tags/params as ``[{"key", "value"}]``; unset fields and empty lists left out.
"""

from __future__ import annotations

from typing import Any

from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.errors import InvalidInput
from kiln.wire.fields import (
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
    require_object,
)

# protobuf enum numbers of LoggedModelStatus
LOGGED_MODEL_STATUS_NUMBERS: dict[int, str] = {s.code: s.proto_name for s in LoggedModelStatus}


def _pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def logged_model_metric_to_json(metric: LoggedModelMetric, model_id: str) -> dict[str, Any]:
    return compact(
        {
            "key": metric.key,
            "value": float_to_json(metric.value),
            "timestamp": metric.timestamp,
            "step": metric.step,
            "dataset_name": metric.dataset_name,
            "dataset_digest": metric.dataset_digest,
            "model_id": model_id,
            "run_id": metric.run_id,
        }
    )


def logged_model_to_json(model: LoggedModel) -> dict[str, Any]:
    info = compact(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp,
            "last_updated_timestamp_ms": model.last_updated_timestamp,
            "artifact_uri": model.artifact_location,
            "status": model.status.proto_name,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status_message": model.status_message,
            "tags": _pairs(model.tags),
        }
    )
    data = compact(
        {
            "params": _pairs(model.params),
            "metrics": [logged_model_metric_to_json(m, model.model_id) for m in model.metrics],
        }
    )
    return {"info": info, "data": data}


def logged_model_metric_from_json(obj: JsonObject, where: str = "metric") -> LoggedModelMetric:
    """One of ``LoggedModel.data.metrics``; unset strings (MLflow sends ``""``) read as None.

    Raises:
        InvalidInput: no value or timestamp, or a field of the wrong type.
    """
    for name in ("value", "timestamp"):
        if obj.get(name) is None:
            raise InvalidInput(f"missing value for required field {where}.{name}")
    return LoggedModelMetric(
        key=opt_str(obj, "key") or "",
        value=as_float(obj["value"], f"{where}.value"),
        timestamp=as_int(obj["timestamp"], f"{where}.timestamp"),
        step=opt_int(obj, "step") or 0,
        run_id=opt_str(obj, "run_id") or None,
        dataset_name=opt_str(obj, "dataset_name") or None,
        dataset_digest=opt_str(obj, "dataset_digest") or None,
    )


def logged_model_from_json(obj: JsonObject) -> LoggedModel:
    """A server's ``LoggedModel`` (Kiln's or MLflow's) back into the entity.

    The wire has no lifecycle stage: the model reads as active (the REST store
    knows better where it asked for deleted ones).

    Raises:
        InvalidInput: a missing id, or a field of the wrong type.
    """
    info = require_object(obj.get("info") or {}, "model.info")
    data = require_object(obj.get("data") or {}, "model.data")
    status = opt_enum(info, "status", LOGGED_MODEL_STATUS_NUMBERS)
    return LoggedModel(
        model_id=req_str(info, "model_id"),
        experiment_id=opt_str(info, "experiment_id") or "",
        name=opt_str(info, "name") or "",
        artifact_location=opt_str(info, "artifact_uri") or "",
        creation_timestamp=opt_int(info, "creation_timestamp_ms") or 0,
        last_updated_timestamp=opt_int(info, "last_updated_timestamp_ms") or 0,
        status=(
            LoggedModelStatus.UNSPECIFIED
            if status is None
            else LoggedModelStatus.from_proto_name(status)
        ),
        model_type=opt_str(info, "model_type") or None,
        source_run_id=opt_str(info, "source_run_id") or None,
        status_message=opt_str(info, "status_message") or None,
        tags=key_values_from_json(info, "tags"),
        params=key_values_from_json(data, "params"),
        metrics=tuple(
            logged_model_metric_from_json(m, f"metrics[{i}]")
            for i, m in enumerate(object_list(data, "metrics"))
        ),
    )


def key_values_from_json(body: JsonObject, name: str) -> dict[str, str]:
    """A repeated ``{"key", "value"}`` field; a missing value reads as ``""``.

    Raises:
        InvalidInput: an entry without a key.
    """
    out: dict[str, str] = {}
    for index, item in enumerate(object_list(body, name)):
        key = opt_str(item, "key")
        if not key:
            raise InvalidInput(f"missing value for required field 'key' in {name}[{index}]")
        out[key] = opt_str(item, "value") or ""
    return out


def logged_model_status_from_json(body: JsonObject, name: str = "status") -> LoggedModelStatus:
    """The status by protobuf number or enum name.

    Raises:
        InvalidInput: missing or unknown.
    """
    value = opt_enum(body, name, LOGGED_MODEL_STATUS_NUMBERS)
    if value is None:
        raise InvalidInput(f"Missing value for required parameter '{name}'.")
    return LoggedModelStatus.from_proto_name(value)


def logged_model_outputs_from_json(
    body: JsonObject, name: str = "models"
) -> list[LoggedModelOutput]:
    """``LogOutputs.models``: ``[{"model_id", "step"}]``.

    Raises:
        InvalidInput: an entry without a model id, or a bad step.
    """
    out: list[LoggedModelOutput] = []
    for index, item in enumerate(object_list(body, name)):
        model_id = opt_str(item, "model_id")
        if not model_id:
            raise InvalidInput(f"missing value for required field 'model_id' in {name}[{index}]")
        step = item.get("step")
        out.append(LoggedModelOutput(model_id, 0 if step is None else as_int(step, "step")))
    return out


def logged_model_output_to_json(output: LoggedModelOutput) -> dict[str, Any]:
    return {"model_id": output.model_id, "step": output.step}


__all__ = [
    "LOGGED_MODEL_STATUS_NUMBERS",
    "key_values_from_json",
    "logged_model_from_json",
    "logged_model_metric_from_json",
    "logged_model_metric_to_json",
    "logged_model_output_to_json",
    "logged_model_outputs_from_json",
    "logged_model_status_from_json",
    "logged_model_to_json",
]
