"""The ``LoggedModelStore`` contract: MLflow 3 logged models of one workspace.

Contract, shared by all backends (memory, SQL, mlruns folder, a server's REST API;
the REST store logs a model's metrics through their run, so each needs a
``run_id``, and cannot ``import_logged_model``: ``kiln.testing.contracts.capabilities``):

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
* Names, keys and values obey MLflow's limits (``kiln.store.rules.logged_models``).
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

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from kiln.entities import Page
from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)


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


__all__ = ["LoggedModelStore"]
