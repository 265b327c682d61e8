"""MLflow 3's fluent logged-model names: ``kiln.get_logged_model``, ``search_logged_models``...

Names, parameters and results follow ``mlflow.tracking.fluent``: a model made here
is PENDING until finalized (``create_external_model`` finalizes it READY at once),
``last_logged_model`` is the model this thread created last, and the active model
(``set_active_model``, else ``MLFLOW_ACTIVE_MODEL_ID``) receives the metrics logged
without a ``model_id``. The models live in the logged-model store kept where the
tracking URI's data lives (``logged_model_ops.fluent_store``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from kiln.entities.logged_model import LoggedModel, LoggedModelOutput, LoggedModelStatus
from kiln.errors import InvalidInput
from kiln.tracking import fluent
from kiln.tracking import logged_model_ops as ops

if TYPE_CHECKING:
    import pandas as pd

_log = logging.getLogger(__name__)
ACTIVE_MODEL_ID_ENV_VARS = ("MLFLOW_ACTIVE_MODEL_ID", "_MLFLOW_ACTIVE_MODEL_ID")


@dataclass(frozen=True, slots=True)
class _ActiveContext:
    model_id: str | None = None
    set_by_user: bool = False


_active = threading.local()


def _context() -> _ActiveContext:
    value = getattr(_active, "context", None)
    if isinstance(value, _ActiveContext):
        return value
    return _ActiveContext(_model_id_from_env())


def _model_id_from_env() -> str | None:
    for name in ACTIVE_MODEL_ID_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True)
class ActiveModel(LoggedModel):
    """The model ``set_active_model`` made active; leaving its ``with`` block makes the
    previous one active again, as MLflow's ``ActiveModel`` does."""

    previous: _ActiveContext | None = field(default=None, repr=False, compare=False)

    def __enter__(self) -> ActiveModel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _active.context = self.previous or _ActiveContext()


def _status(value: LoggedModelStatus | str) -> LoggedModelStatus:
    try:
        return LoggedModelStatus(str(getattr(value, "value", value)).upper())
    except ValueError:
        known = ", ".join(s.value for s in LoggedModelStatus)
        raise InvalidInput(f"invalid logged model status {value!r}: use one of {known}") from None


def get_logged_model(model_id: str) -> LoggedModel:
    """Raises: NotFound."""
    return ops.fluent_store().get_logged_model(model_id)


def last_logged_model() -> LoggedModel | None:
    """The model this thread created last (by ``log_model`` or here), or None."""
    model_id = ops.last_model_id()
    return None if model_id is None else get_logged_model(model_id)


def initialize_logged_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """A PENDING model with no files yet (the active run is its source)."""
    return ops.create_model(
        ops.fluent_store(),
        fluent._client(),
        name=name,
        source_run_id=source_run_id,
        tags=tags,
        params=params,
        model_type=model_type,
        experiment_id=experiment_id,
    )


def finalize_logged_model(
    model_id: str, status: Literal["READY", "FAILED"] | LoggedModelStatus
) -> LoggedModel:
    """Set the model's final status. Raises: NotFound, InvalidInput (a bad status)."""
    return ops.fluent_store().finalize_logged_model(model_id, _status(status))


def create_external_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """A READY model whose files live elsewhere: Kiln writes only an ``MLmodel`` with no
    flavors, as MLflow does, so the model can still be registered."""
    import yaml

    from kiln.store.open import open_artifact_store

    store = ops.fluent_store()
    client = fluent._client()
    model = ops.create_model(
        store,
        client,
        name=name,
        source_run_id=source_run_id,
        tags={**(tags or {}), ops.MODEL_IS_EXTERNAL_TAG: "true"},
        params=params,
        model_type=model_type,
        experiment_id=experiment_id,
    )
    with tempfile.TemporaryDirectory(prefix="kiln-external-model-") as tmp:
        # MLflow's external model spec: an MLmodel with no flavors (kiln.tracking sits
        # below kiln.models, so the file is written here, not by ModelMetadata).
        spec: dict[str, Any] = {
            "artifact_path": model.artifact_location,
            "flavors": {},
            "model_id": model.model_id,
            "model_uuid": model.model_id,
            "run_id": model.source_run_id,
            "utc_time_created": str(datetime.now(UTC).replace(tzinfo=None)),
        }
        (Path(tmp) / "MLmodel").write_text(yaml.safe_dump(spec), encoding="utf-8")
        artifacts = open_artifact_store(
            model.artifact_location,
            tracking_uri=fluent.get_tracking_uri(),
            options=client.artifact_options,
        )
        artifacts.log_artifacts(str(Path(tmp)))
    finalized = store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    ops.set_last_model_id(model.model_id)
    return finalized


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    ops.fluent_store().set_logged_model_tags(model_id, {str(k): str(v) for k, v in tags.items()})


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Raises: NotFound (the model or the tag)."""
    ops.fluent_store().delete_logged_model_tag(model_id, key)


def log_model_params(params: dict[str, str], model_id: str | None = None) -> None:
    """Params of ``model_id``, else of the active model (write-once, as a run's).

    Raises:
        InvalidInput: no ``model_id`` and no active model.
    """
    target = model_id or get_active_model_id()
    if target is None:
        raise InvalidInput("log_model_params: pass model_id or set an active model first")
    ops.fluent_store().log_logged_model_params(target, {str(k): str(v) for k, v in params.items()})


def log_outputs(models: list[LoggedModelOutput] | None = None) -> None:
    """Record that the active run (started if none) produced these models."""
    _, run_id = fluent._target(None)
    outputs = [LoggedModelOutput(m.model_id, int(getattr(m, "step", 0))) for m in models or ()]
    ops.fluent_store().log_outputs(run_id, outputs)
    for output in outputs:
        ops.record_output(run_id, output)


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
) -> list[LoggedModel] | pd.DataFrame:
    """Every page of MLflow's logged-model search (in the active experiment by default),
    as a DataFrame with MLflow's columns or as a list.

    Raises:
        InvalidInput: an unknown ``output_format``, or a bad filter or order.
    """
    if output_format not in ("pandas", "list"):
        raise InvalidInput(
            f"Unsupported output format: {output_format!r}. Supported string values are "
            "'pandas' or 'list'"
        )
    store = ops.fluent_store()
    ids = [str(i) for i in experiment_ids or [fluent._active_experiment_id(fluent._client())]]
    models: list[LoggedModel] = []
    token: str | None = None
    while True:
        page = store.search_logged_models(
            ids, filter_string, datasets, max_results, order_by, page_token=token
        )
        models.extend(page.items)
        token = page.next_page_token
        if not token or (max_results is not None and len(models) >= max_results):
            break
    if max_results is not None:
        models = models[:max_results]
    if output_format == "list":
        return models
    return _frame(models)


_FRAME_COLUMNS = (
    "artifact_location",
    "creation_timestamp",
    "experiment_id",
    "last_updated_timestamp",
    "metrics",
    "model_id",
    "model_type",
    "name",
    "params",
    "source_run_id",
    "status",
    "status_message",
    "tags",
)


def _frame(models: Sequence[LoggedModel]) -> pd.DataFrame:
    """MLflow's frame: one row per model, ``to_dictionary`` keys, the status by name."""
    import pandas as pd

    rows = [
        {
            **{column: getattr(model, column) for column in _FRAME_COLUMNS},
            "metrics": list(model.metrics),
            "params": dict(model.params),
            "tags": dict(model.tags),
            "status": model.status.value,
        }
        for model in models
    ]
    return pd.DataFrame(rows)


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a model active (by id, or the newest of that name, created external when
    missing); usable as a ``with`` block.

    Raises:
        InvalidInput: neither given, or a ``model_id`` whose model has another name.
        NotFound: no model has ``model_id``.
    """
    if name is None and model_id is None:
        raise InvalidInput("Either name or model_id must be provided")
    if model_id is not None:
        model = get_logged_model(model_id)
        if name is not None and model.name != name:
            raise InvalidInput(
                f"LoggedModel with model_id {model_id!r} has name {model.name!r}, which does "
                f"not match the provided name {name!r}."
            )
    else:
        found = search_logged_models(
            filter_string=f"name='{name}'", max_results=2, output_format="list"
        )
        assert isinstance(found, list)
        if len(found) > 1:
            _log.warning("Multiple LoggedModels found with name %r, setting the latest one", name)
        model = found[0] if found else create_external_model(name=name)
    previous = _context()
    _active.context = _ActiveContext(model.model_id, set_by_user=True)
    values = {f.name: getattr(model, f.name) for f in fields(LoggedModel)}
    return ActiveModel(**values, previous=previous)


def get_active_model_id() -> str | None:
    """The active model of this thread, else ``MLFLOW_ACTIVE_MODEL_ID``, else None."""
    return _context().model_id


def clear_active_model() -> None:
    """Forget the active model, ``MLFLOW_ACTIVE_MODEL_ID`` included (as MLflow does)."""
    for name in ACTIVE_MODEL_ID_ENV_VARS:
        os.environ.pop(name, None)
    _active.context = _ActiveContext()


__all__ = [
    "ActiveModel",
    "clear_active_model",
    "create_external_model",
    "delete_logged_model_tag",
    "finalize_logged_model",
    "get_active_model_id",
    "get_logged_model",
    "initialize_logged_model",
    "last_logged_model",
    "log_model_params",
    "log_outputs",
    "search_logged_models",
    "set_active_model",
    "set_logged_model_tags",
]
