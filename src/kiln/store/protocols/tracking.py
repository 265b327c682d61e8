"""The storage contracts: one Protocol per kind of store.

Every backend (memory, SQL, mlruns folder, REST) implements ``TrackingStore`` and
passes the one contract suite in ``kiln.testing.contracts``. Callers never learn
which backend they hold.

Contract, shared by all backends:

* A store instance is bound to one workspace (tenant); it never returns or
  changes entities of another workspace. ``NotFound`` is raised for ids that exist
  only in other workspaces.
* Experiment ``"0"`` named ``"Default"`` exists in the ``default`` workspace.
* Run ids are 32 lowercase hex characters; experiment ids are decimal strings.
* Params are write-once: the same value again is a no-op, a different one raises
  ``Conflict``.
* Writes to a run that is not active (soft-deleted) raise ``Conflict``.
* ``log_batch`` is atomic: on any error nothing of the batch is stored.
* Metric writes are idempotent: a point (key, timestamp, step, value) is stored
  once, however often it is logged (in one batch or across calls), as MLflow's
  SQL store keeps it; a client's retry after a lost response adds nothing.
* Keys and values are validated with ``kiln.store.rules.tracking`` (MLflow's limits);
  violations raise ``InvalidInput`` before anything is written.
* Dataset inputs (``log_inputs``) are validated with MLflow's limits
  (``validate_dataset_inputs``: name 500, digest 36, source 64 KiB, schema 1 MiB,
  profile 16 MiB, input tag key 255 / value 500). Datasets belong to the run's
  experiment and are deduplicated there by ``(name, digest)``: the first stored
  copy wins and later ones only link to it. A run links a dataset at most once;
  linking it again is a no-op (the first input's tags stay). ``get_run`` and
  ``search_runs`` return the inputs in ``run.inputs``, ordered by (name, digest),
  each input's tags ordered by key; ``datasets.name``, ``datasets.digest`` and
  ``datasets.context`` (the ``mlflow.data.context`` input tag) filter runs.
* Searches take MLflow's filter/order_by grammar (``kiln.store.query.runs``) and return
  a ``Page``; passing its ``next_page_token`` back gives the next page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kiln.entities import (
    DatasetInput,
    Experiment,
    Metric,
    Page,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000


@runtime_checkable
class TrackingStore(Protocol):
    """Experiments, runs, params, metrics and tags of one workspace."""

    @property
    def workspace(self) -> str:
        """The workspace every call of this instance acts in."""
        ...

    @property
    def default_artifact_root(self) -> str:
        """URI under which new experiments get their artifact location."""
        ...

    # experiments -----------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        """Create an experiment and return its id.

        Raises:
            AlreadyExists: an experiment (active or deleted) has this name.
            InvalidInput: the name is empty or too long.
        """
        ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """Filter on ``name``, ``creation_time``, ``last_update_time`` and ``tags.<k>``.

        Default order: ``creation_time DESC`` then ``experiment_id ASC``.
        """
        ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete; its runs become deleted too (as in MLflow)."""
        ...

    def restore_experiment(self, experiment_id: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # runs ------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        """Create a RUNNING run.

        A missing ``run_name`` is taken from the ``mlflow.runName`` tag, else
        generated; the tag is always set to the final name.
        """
        ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    def delete_run(self, run_id: str) -> None: ...

    def restore_run(self, run_id: str) -> None: ...

    def log_metric(self, run_id: str, metric: Metric) -> None: ...

    def log_param(self, run_id: str, param: Param) -> None: ...

    def set_tag(self, run_id: str, tag: RunTag) -> None: ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Log all or nothing. Limits: 1000 metrics, 100 params, 100 tags, 1000 total."""
        ...

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Link dataset inputs to a run (MLflow's ``LogInputs``), all or nothing.

        Each dataset is stored once per experiment under its ``(name, digest)``;
        an input repeating a ``(name, digest)`` already linked to the run (or
        earlier in ``datasets``) is ignored.

        Raises:
            InvalidInput: a value over MLflow's limits, an empty name, digest or
                source type, a tag key repeated within one input, a bad run id.
            NotFound: no such run in this workspace.
            Conflict: the run is deleted.
        """
        ...

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        """Every logged point of the key, ordered by (step, timestamp)."""
        ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        """MLflow's run search. Default order: ``start_time DESC, run_id ASC``."""
        ...


__all__ = [
    "SEARCH_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_THRESHOLD",
    "TrackingStore",
]
