"""The ``LoggedModelStore`` contract: MLflow 3 logged models of one workspace.

Contract, shared by all backends (memory, SQL, mlruns folder):

* A store is bound to one workspace; ids of other workspaces raise ``NotFound``.
* ``create_logged_model`` makes an id ``m-<32 hex>``, status ``PENDING``, a random
  name when none is given (names may not contain ``/ : . % " '``), and the
  artifact location ``<artifact_root>/models/<id>/artifacts`` where
  ``artifact_root`` is the experiment's artifact location (the caller knows the
  experiment; this store does not check it).
* ``get_logged_model`` hides soft-deleted models unless ``allow_deleted``;
  every write to a deleted or missing model raises ``NotFound``.
* Params are write-once (the same value again is a no-op, another raises
  ``Conflict``); tags are upserts; deleting a missing tag raises ``NotFound``.
* Keys and values obey MLflow's limits (``kiln.store.rules.tracking``).
* Searches follow ``kiln.store.query.logged_models``.
* Metrics are points (MLflow 3 logs a run's metric with a ``model_id`` here too);
  logging a point already stored (same key, value, timestamp, step, run and
  dataset) again is a no-op, so a client's retry adds nothing.
* ``log_outputs`` records that a run produced models; ``get_outputs`` lists them.
* ``import_logged_model`` stores a copied model as it was (``kiln import``).
* ``log_model_inputs`` records that a run used models (MLflow's model inputs; the
  models are not checked, as MLflow does not); ``get_model_inputs`` lists their
  ids once each, sorted.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from kiln.entities import Page
from kiln.entities.logged_model import (
    LOGGED_MODEL_ID_PREFIX,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.rules.tracking import (
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
    validate_key,
)

MODELS_FOLDER = "models"
ARTIFACTS_FOLDER = "artifacts"
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
_ADJECTIVES = ("amber", "bold", "calm", "deft", "eager", "fair", "glad", "keen", "neat", "wise")
_NOUNS = ("ash", "birch", "cedar", "elm", "fir", "larch", "maple", "oak", "pine", "yew")


@runtime_checkable
class LoggedModelStore(Protocol):
    """Logged models, their tags, params, metrics, and run outputs."""

    @property
    def workspace(self) -> str: ...

    def create_logged_model(
        self,
        experiment_id: str,
        artifact_root: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """Create a PENDING model. Raises: InvalidInput for a bad name, key or value."""
        ...

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        """Raises: NotFound."""
        ...

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        """Set the status (READY or FAILED, usually). Raises: NotFound."""
        ...

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None: ...

    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None: ...

    def log_logged_model_metrics(
        self, model_id: str, metrics: Sequence[LoggedModelMetric]
    ) -> None: ...

    def delete_logged_model(self, model_id: str) -> None:
        """Soft-delete. Raises: NotFound."""
        ...

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]: ...

    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None: ...

    def get_outputs(self, run_id: str) -> list[LoggedModelOutput]: ...

    def log_model_inputs(self, run_id: str, model_ids: Sequence[str]) -> None: ...

    def import_logged_model(self, model: LoggedModel) -> None:
        """Store ``model`` exactly as given (id, times, status, lifecycle, tags, params,
        metrics): ``kiln import`` keeps ids, which registry sources name.

        Raises:
            AlreadyExists: a model with this id exists.
        """
        ...

    def get_model_inputs(self, run_id: str) -> list[str]: ...


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
    "LoggedModelStore",
    "model_artifact_location",
    "model_exists",
    "model_not_found",
    "new_metrics",
    "new_model_id",
    "random_model_name",
    "tag_not_found",
    "validate_logged_model_name",
    "validate_params",
    "validate_tags",
]
