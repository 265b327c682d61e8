"""Registry entities <-> MLflow REST JSON (``mlflow/protos/model_registry.proto``).

As MLflow's ``message_to_json`` writes them: snake_case names, timestamps as
JSON numbers, ``version`` as a string, ``status`` by enum name, aliases of a
registered model as ``[{"alias", "version"}]`` and of a version as a list of
names; unset fields and empty lists are left out. ``*_from_json`` are the
inverses (the REST client reads answers with them).
"""

from __future__ import annotations

from typing import Any

from kiln.entities import ModelVersion, ModelVersionStage, ModelVersionStatus, RegisteredModel
from kiln.errors import InvalidInput
from kiln.wire.fields import (
    JsonObject,
    as_int,
    compact,
    object_list,
    opt_int,
    opt_str,
    req_str,
    str_list,
)

# protobuf enum numbers of ModelVersionStatus
MODEL_VERSION_STATUS_NUMBERS: dict[int, str] = {
    1: "PENDING_REGISTRATION",
    2: "FAILED_REGISTRATION",
    3: "READY",
}


def registry_tags_to_json(tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def registry_tags_from_json(body: JsonObject, name: str = "tags") -> dict[str, str]:
    """A repeated ``{"key", "value"}`` field as a dict; a missing value reads as ``""``."""
    tags: dict[str, str] = {}
    for index, item in enumerate(object_list(body, name)):
        where = f"{name}[{index}]"
        key = opt_str(item, "key")
        if not key:
            raise InvalidInput(f"missing value for required field 'key' in {where}")
        tags[key] = opt_str(item, "value") or ""
    return tags


def model_version_to_json(mv: ModelVersion) -> dict[str, Any]:
    return compact(
        {
            "name": mv.name,
            "version": str(mv.version),
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "user_id": mv.user_id,
            "current_stage": mv.current_stage.value,
            "description": mv.description,
            "source": mv.source,
            "run_id": mv.run_id,
            "status": mv.status.value,
            "status_message": mv.status_message or None,
            "tags": registry_tags_to_json(mv.tags),
            "run_link": mv.run_link,
            "aliases": list(mv.aliases),
            "model_id": mv.model_id,
        }
    )


def _stage(value: str | None) -> ModelVersionStage:
    if not value:
        return ModelVersionStage.NONE
    for stage in ModelVersionStage:
        if stage.value.lower() == value.lower():
            return stage
    raise InvalidInput(f"field 'current_stage' has an unknown stage {value!r}")


def _status(obj: JsonObject) -> ModelVersionStatus:
    value = obj.get("status")
    if value is None:
        return ModelVersionStatus.READY
    if isinstance(value, int) and not isinstance(value, bool):
        value = MODEL_VERSION_STATUS_NUMBERS.get(value, "")
    if isinstance(value, str) and value in ModelVersionStatus.__members__:
        return ModelVersionStatus(value)
    raise InvalidInput(f"field 'status' must be a ModelVersionStatus, got {value!r:.60}")


def model_version_from_json(obj: JsonObject) -> ModelVersion:
    return ModelVersion(
        name=req_str(obj, "name"),
        version=as_int(obj.get("version"), "version"),
        creation_timestamp=opt_int(obj, "creation_timestamp") or 0,
        last_updated_timestamp=opt_int(obj, "last_updated_timestamp") or 0,
        current_stage=_stage(opt_str(obj, "current_stage")),
        description=opt_str(obj, "description"),
        user_id=opt_str(obj, "user_id"),
        source=opt_str(obj, "source") or "",
        run_id=opt_str(obj, "run_id"),
        run_link=opt_str(obj, "run_link"),
        status=_status(obj),
        status_message=opt_str(obj, "status_message"),
        tags=registry_tags_from_json(obj),
        aliases=tuple(str_list(obj, "aliases")),
        model_id=opt_str(obj, "model_id"),
    )


def registered_model_to_json(model: RegisteredModel) -> dict[str, Any]:
    return compact(
        {
            "name": model.name,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
            "user_id": model.user_id,
            "description": model.description or None,
            "latest_versions": [model_version_to_json(mv) for mv in model.latest_versions],
            "tags": registry_tags_to_json(model.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()],
        }
    )


def registered_model_from_json(obj: JsonObject) -> RegisteredModel:
    aliases: dict[str, int] = {}
    for item in object_list(obj, "aliases"):
        aliases[req_str(item, "alias")] = as_int(item.get("version"), "aliases.version")
    return RegisteredModel(
        name=req_str(obj, "name"),
        creation_timestamp=opt_int(obj, "creation_timestamp") or 0,
        last_updated_timestamp=opt_int(obj, "last_updated_timestamp") or 0,
        description=opt_str(obj, "description"),
        user_id=opt_str(obj, "user_id"),
        tags=registry_tags_from_json(obj),
        aliases=aliases,
        latest_versions=tuple(
            model_version_from_json(mv) for mv in object_list(obj, "latest_versions")
        ),
    )


__all__ = [
    "MODEL_VERSION_STATUS_NUMBERS",
    "model_version_from_json",
    "model_version_to_json",
    "registered_model_from_json",
    "registered_model_to_json",
    "registry_tags_from_json",
    "registry_tags_to_json",
]
