"""MLflow's registry rules, checked by every registry backend before it writes.

Model names, versions, tags, aliases and stages are validated here, so each rule
holds (with MLflow's messages) whichever store answers; the registry search grammar
is ``kiln.store.query.registry``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence

from kiln.entities import ModelVersion, ModelVersionStage
from kiln.errors import InvalidInput
from kiln.wire.fields import INT64_DIGITS, int_from_digits

MAX_REGISTRY_TAG_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_MODEL_NAME_LENGTH = 256

# Stages get_latest_versions returns for an empty list, in MLflow's order.
ALL_STAGES = (
    ModelVersionStage.NONE,
    ModelVersionStage.STAGING,
    ModelVersionStage.PRODUCTION,
    ModelVersionStage.ARCHIVED,
)
ACTIVE_STAGES = (ModelVersionStage.STAGING, ModelVersionStage.PRODUCTION)
LATEST_ALIAS = "latest"

_ALIAS_CHARS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_TAG_KEY_CHARS = re.compile(r"^[\w\-. /:]+$")


def validate_model_name(name: object, what: str = "name") -> str:
    """MLflow's rule: non-empty, no ``/`` or ``:``, and not a path that normalises away."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"Missing value for required parameter '{what}'.")
    if "/" in name or ":" in name:
        raise InvalidInput(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidInput(
            f"model name is {len(name)} characters; the limit is {MAX_MODEL_NAME_LENGTH}"
        )
    norm = posixpath.normpath(name)  # as MLflow's path_not_unique: '.' too (/models/. is /models/)
    if norm != name or norm == "." or norm.startswith(".."):
        raise InvalidInput(f"Invalid value '{name}' for parameter '{what}': not a unique path")
    return name


def validate_version(version: object) -> int:
    """Accept ``3`` or ``"3"`` (ASCII digits, within int64); anything else raises
    ``InvalidInput``."""
    number: int | None = None
    if isinstance(version, int) and not isinstance(version, bool):
        number = version
    elif isinstance(version, str) and re.fullmatch(r"\s*-?\d+\s*", version, re.ASCII):
        number = int_from_digits(version.strip())
        if number is None:
            raise InvalidInput(
                f"Parameter 'version' is out of the int64 range (at most {INT64_DIGITS} digits)"
            )
    if number is None:
        raise InvalidInput(f"Parameter 'version' must be an integer, got {version!r}")
    if not -(2**63) <= number < 2**63:
        raise InvalidInput(f"Parameter 'version' is out of the int64 range: {number}")
    return number


def validate_registry_tag(key: object, value: object) -> tuple[str, str]:
    """Registry tag keys follow MLflow's key rule; values may be up to 100,000 characters."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("Missing value for required parameter 'key'.")
    if len(key) > MAX_REGISTRY_TAG_KEY_LENGTH:
        raise InvalidInput(
            f"tag key {key[:40]!r}... is {len(key)} characters; "
            f"the limit is {MAX_REGISTRY_TAG_KEY_LENGTH}"
        )
    if not _TAG_KEY_CHARS.match(key):
        raise InvalidInput(
            f"Invalid value {key!r} for parameter 'key': names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    if posixpath.isabs(key) or posixpath.normpath(key) != key or key.startswith(".."):
        raise InvalidInput(f"Invalid value {key!r} for parameter 'key': not a unique path")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"tag {key!r} value must be a string")
    if len(value) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {key!r} value is {len(value)} characters; "
            f"the limit is {MAX_REGISTRY_TAG_VALUE_LENGTH}"
        )
    return key, value


def validate_registry_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """The tags of a new model or version, each checked by ``validate_registry_tag``."""
    return dict(validate_registry_tag(k, v) for k, v in (tags or {}).items())


def validate_alias(alias: object) -> str:
    """Alias characters: alphanumerics, ``_`` and ``-``; at most 255 of them."""
    if not isinstance(alias, str) or not alias:
        raise InvalidInput("Registered model alias name cannot be empty.")
    if not _ALIAS_CHARS.match(alias):
        raise InvalidInput(
            f"Invalid alias name: '{alias}'. "
            "Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidInput(f"alias is {len(alias)} characters; the limit is {MAX_ALIAS_LENGTH}")
    return alias


def validate_settable_alias(alias: object) -> str:
    """An alias one may set: not ``latest`` (any case) and not ``v<digits>``."""
    name = validate_alias(alias)
    if name.lower() == LATEST_ALIAS:
        raise InvalidInput("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(name):
        raise InvalidInput(f"Version alias name '{name}' is reserved.")
    return name


def canonical_stage(stage: object) -> ModelVersionStage:
    """``"production"`` -> ``Production``; unknown stages raise ``InvalidInput``."""
    if isinstance(stage, str):
        for known in ALL_STAGES:
            if known.value.lower() == stage.lower():
                return known
    raise InvalidInput(
        f"Invalid Model Version stage: {stage}. "
        f"Value must be one of {', '.join(s.value for s in ALL_STAGES)}."
    )


def transition_target(stage: object, archive_existing_versions: bool) -> ModelVersionStage:
    """The stage a transition moves a version to; only an active stage may archive others."""
    target = canonical_stage(stage)
    if archive_existing_versions and target not in ACTIVE_STAGES:
        raise InvalidInput(
            "Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are "
            f"{[s.value for s in ACTIVE_STAGES]}"
        )
    return target


def latest_per_stage(versions: Sequence[ModelVersion]) -> tuple[ModelVersion, ...]:
    """The newest version of each stage, ordered by version (MLflow's latest_versions)."""
    latest: dict[ModelVersionStage, ModelVersion] = {}
    for version in versions:
        current = latest.get(version.current_stage)
        if current is None or version.version > current.version:
            latest[version.current_stage] = version
    return tuple(sorted(latest.values(), key=lambda mv: mv.version))


__all__ = [
    "ACTIVE_STAGES",
    "ALL_STAGES",
    "LATEST_ALIAS",
    "MAX_ALIAS_LENGTH",
    "MAX_MODEL_NAME_LENGTH",
    "MAX_REGISTRY_TAG_KEY_LENGTH",
    "MAX_REGISTRY_TAG_VALUE_LENGTH",
    "canonical_stage",
    "latest_per_stage",
    "transition_target",
    "validate_alias",
    "validate_model_name",
    "validate_registry_tag",
    "validate_registry_tags",
    "validate_settable_alias",
    "validate_version",
]
