"""Rules every logged-model backend applies (MLflow 3 logged models): new ids, names
and artifact locations, the name, key and value checks, the write-once params and
idempotent metric points, and the errors' messages.

One copy, so the memory, SQL and mlruns stores (``kiln.store.protocols.logged_models``
is their contract) refuse the same writes with the same message.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Mapping, Sequence

from kiln.entities.logged_model import LOGGED_MODEL_ID_PREFIX, LoggedModelMetric
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.rules.tracking import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH, validate_key

MODELS_FOLDER = "models"
ARTIFACTS_FOLDER = "artifacts"
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
_ADJECTIVES = ("amber", "bold", "calm", "deft", "eager", "fair", "glad", "keen", "neat", "wise")
_NOUNS = ("ash", "birch", "cedar", "elm", "fir", "larch", "maple", "oak", "pine", "yew")


def new_params(
    model_id: str, stored: Mapping[str, str], params: Mapping[str, str]
) -> dict[str, str]:
    """The ``params`` not yet stored; logging a stored param again with its value is a
    no-op (a retry), with another value a ``Conflict`` (params are write-once).

    Raises:
        Conflict: a param of ``stored`` would change; MLflow's message, which
            clients may match on.
    """
    fresh: dict[str, str] = {}
    for key, value in params.items():
        old = stored.get(key)
        if old is None:
            fresh[key] = value
        elif old != value:
            raise Conflict(
                f"Changing param values is not allowed. Param with key={key!r} was "
                f"already logged with value={old!r} for model {model_id!r}; "
                f"the new value was {value!r}."
            )
    return fresh


def new_metrics(
    stored: Sequence[LoggedModelMetric], metrics: Sequence[LoggedModelMetric]
) -> list[LoggedModelMetric]:
    """``metrics`` not in ``stored`` nor earlier in ``metrics``: what a write adds."""
    seen = {_point(m) for m in stored}
    fresh = []
    for metric in metrics:
        point = _point(metric)
        if point not in seen:
            seen.add(point)
            fresh.append(metric)
    return fresh


def _point(metric: LoggedModelMetric) -> tuple[object, ...]:
    """Equality of points; NaN equals NaN here (a retried NaN is the same point)."""
    value: object = "nan" if math.isnan(metric.value) else metric.value
    key, stamp, step, run_id = metric.key, metric.timestamp, metric.step, metric.run_id
    return (key, value, stamp, step, run_id, metric.dataset_name, metric.dataset_digest)


def new_model_id() -> str:
    return f"{LOGGED_MODEL_ID_PREFIX}{uuid.uuid4().hex}"


def random_model_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"


def model_artifact_location(artifact_root: str, model_id: str) -> str:
    return f"{artifact_root.rstrip('/')}/{MODELS_FOLDER}/{model_id}/{ARTIFACTS_FOLDER}"


def validate_logged_model_name(name: str | None) -> str:
    """The name to store: ``name`` checked, or a random one when None.

    Raises:
        InvalidInput: empty, or containing one of ``/ : . % " '``.
    """
    if name is None:
        return random_model_name()
    if not isinstance(name, str) or not name or any(c in name for c in _BAD_NAME_CHARS):
        raise InvalidInput(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {_BAD_NAME_CHARS}"
        )
    return name


def validate_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Raises: InvalidInput for a bad key or an over-long value."""
    for key, value in tags.items():
        validate_key(key, "tag key")
        _check_value(value, MAX_TAG_VAL_LENGTH, f"tag {key!r}")
    return dict(tags)


def validate_params(params: Mapping[str, str]) -> dict[str, str]:
    """Raises: InvalidInput for a bad key or an over-long value."""
    for key, value in params.items():
        validate_key(key, "param key")
        _check_value(value, MAX_PARAM_VAL_LENGTH, f"param {key!r}")
    return dict(params)


def _check_value(value: object, limit: int, what: str) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} value must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{what} value is {len(value)} characters; the limit is {limit}")


def model_exists(model_id: str) -> AlreadyExists:
    return AlreadyExists(f"Logged model with ID '{model_id}' already exists.")


def model_not_found(model_id: str) -> NotFound:
    return NotFound(f"Logged model with ID '{model_id}' not found.")


def tag_not_found(model_id: str, key: str) -> NotFound:
    return NotFound(f"No tag with key {key!r} found for model with ID {model_id!r}.")


__all__ = [
    "ARTIFACTS_FOLDER",
    "MODELS_FOLDER",
    "model_artifact_location",
    "model_exists",
    "model_not_found",
    "new_metrics",
    "new_model_id",
    "new_params",
    "random_model_name",
    "tag_not_found",
    "validate_logged_model_name",
    "validate_params",
    "validate_tags",
]
