"""``TrackingStore`` in process memory: the reference implementation of the contract.

Used by tests and by ``memory://`` tracking URIs. Every ``open_memory_store`` call
starts a fresh, empty "database" (``kiln.store.memory.state``); several
``MemoryTrackingStore`` instances may share one ``MemoryTrackingState`` to act as
different workspaces of the same database.

The store imports only entities, errors and sibling store modules (never
``kiln.config``), so it cannot read ``$KILN_HOME``: without an explicit
``artifact_root`` it uses ``<tempdir>/kiln-memory-artifacts/<random hex>``, a fresh
folder name per state that is created only when an artifact store writes there.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Sequence
from urllib.parse import urlparse

from kiln.entities import (
    RUN_NAME_TAG,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Page,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.memory import history
from kiln.store.memory.state import ExperimentRecord, MemoryTrackingState, RunRecord
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.query.search import search_experiments_in, search_runs_in
from kiln.store.rules.audit import lifecycle_event
from kiln.store.rules.runs import (
    as_run_status,
    as_view_type,
    generate_run_name,
    new_run_tags,
    optional_ms,
    run_artifact_uri,
)
from kiln.store.rules.tracking import (
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_name,
    validate_experiment_tag,
    validate_new_experiment,
    validate_run_name,
)


class MemoryTrackingStore:
    """``TrackingStore`` in process memory. Thread-safe: one lock guards the state.

    Args:
        workspace: the tenant every call acts in.
        state: the database to use; a fresh one if None.
        artifact_root: root for experiments' artifact locations; overrides the
            state's root for experiments this store creates.
        clock: milliseconds since the epoch; used when ``state`` is None.
    """

    def __init__(
        self,
        *,
        workspace: str,
        state: MemoryTrackingState | None = None,
        artifact_root: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(workspace, str) or not workspace.strip():
            raise InvalidInput(f"workspace must be a non-empty string, got {workspace!r}")
        if state is None:
            if artifact_root:
                state = MemoryTrackingState(artifact_root, clock or wall_clock_ms)
            else:
                state = MemoryTrackingState(clock=clock or wall_clock_ms)
        self._state = state
        self._workspace = workspace
        self._artifact_root = artifact_root or state.artifact_root
        self._rng = random.Random()
        state.ensure_default(workspace)

    @property
    def workspace(self) -> str:
        return self._workspace

    @property
    def default_artifact_root(self) -> str:
        return self._artifact_root

    # lookups in this workspace (caller holds the lock) --------------------------
    def _experiment(self, experiment_id: str) -> ExperimentRecord:
        return self._state.experiment(self._workspace, experiment_id)

    def _active_experiment(self, experiment_id: str) -> ExperimentRecord:
        return self._state.active_experiment(self._workspace, experiment_id)

    def _run(self, run_id: str) -> RunRecord:
        return self._state.run(self._workspace, run_id)

    def _active_run(self, run_id: str) -> RunRecord:
        return self._state.active_run(self._workspace, run_id)

    # experiments -------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        validate_new_experiment(name, tags)
        with self._state.lock:
            self._state.check_name_free(self._workspace, name)
            record = self._state.add_experiment(
                self._workspace,
                name,
                artifact_location or None,
                {t.key: t.value for t in tags},
                self._artifact_root,
            )
            return record.experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._state.lock:
            return self._experiment(experiment_id).snapshot()

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._state.lock:
            record = self._state.by_name(self._workspace, name)
            return None if record is None else record.snapshot()

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        view = as_view_type(view_type)
        with self._state.lock:
            candidates = [
                r.snapshot()
                for r in self._state.experiments.values()
                if r.workspace == self._workspace and view.admits(r.lifecycle_stage)
            ]
        return search_experiments_in(candidates, filter_string, order_by, max_results, page_token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        with self._state.lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise Conflict(f"experiment {experiment_id} is deleted; cannot rename it")
            if record.name == new_name:
                return
            self._state.check_name_free(self._workspace, new_name)
            record.name = new_name
            record.last_update_time = self._state.clock()

    def delete_experiment(self, experiment_id: str) -> None:
        self._move_experiment(experiment_id, LifecycleStage.ACTIVE, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._move_experiment(experiment_id, LifecycleStage.DELETED, LifecycleStage.ACTIVE)

    def _move_experiment(
        self, experiment_id: str, current: LifecycleStage, target: LifecycleStage
    ) -> None:
        """Move an experiment in stage ``current``, and its runs, to stage ``target``."""
        with self._state.lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage is not current:
                raise NotFound(f"no {current.value} experiment with id {experiment_id!r} exists")
            record.lifecycle_stage = target
            record.last_update_time = self._state.clock()
            self._state.set_runs_stage(self._workspace, experiment_id, target)
            self._state.audit.append(
                lifecycle_event(
                    self._workspace, "experiment", experiment_id, current.value, target.value
                )
            )

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        validate_experiment_tag(tag)
        with self._state.lock:
            self._active_experiment(experiment_id).tags[tag.key] = tag.value

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with self._state.lock:
            _drop_tag(
                self._active_experiment(experiment_id).tags, key, f"experiment {experiment_id}"
            )

    # runs --------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        name, tag_values = new_run_tags(tags, run_name, user_id, start_time, self._rng)
        with self._state.lock:
            experiment = self._active_experiment(experiment_id)
            run_id = uuid.uuid4().hex
            info = RunInfo(
                run_id=run_id,
                experiment_id=experiment.experiment_id,
                run_name=name,
                user_id=user_id or "",
                status=RunStatus.RUNNING,
                start_time=self._state.clock() if start_time is None else start_time,
                end_time=None,
                artifact_uri=run_artifact_uri(experiment.artifact_location, run_id),
                lifecycle_stage=LifecycleStage.ACTIVE,
                workspace=self._workspace,
            )
            record = RunRecord(info=info, tags=tag_values)
            self._state.runs[run_id] = record
            return record.snapshot()

    def get_run(self, run_id: str) -> Run:
        with self._state.lock:
            return self._run(run_id).snapshot()

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        new_status = None if status is None else as_run_status(status)
        optional_ms(end_time, "end_time")
        if run_name:
            validate_run_name(run_name)
        with self._state.lock:
            record = self._active_run(run_id)
            record.info = dataclasses.replace(
                record.info,
                status=record.info.status if new_status is None else new_status,
                end_time=record.info.end_time if end_time is None else end_time,
            )
            if run_name:
                record.set_tag(RUN_NAME_TAG, run_name)
            return record.info

    def delete_run(self, run_id: str) -> None:
        self._move_run(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._move_run(run_id, LifecycleStage.ACTIVE)

    def _move_run(self, run_id: str, target: LifecycleStage) -> None:
        with self._state.lock:
            record = self._run(run_id)
            before = record.info.lifecycle_stage
            record.set_stage(target)
            self._state.audit.append(
                lifecycle_event(self._workspace, "run", run_id, before.value, target.value)
            )

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._state.lock:
            _drop_tag(self._active_run(run_id).tags, key, f"run {run_id}")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        validate_batch(metrics, params, tags)
        with self._state.lock:
            record = self._active_run(run_id)
            for param in params:
                stored = record.params.get(param.key)
                if stored is not None and stored != param.value:
                    raise Conflict(
                        f"param {param.key!r} of run {run_id} is already {stored!r}; params "
                        f"are write-once, so it cannot become {param.value!r}"
                    )
            # Everything is checked: from here on nothing can fail.
            for param in params:
                record.params[param.key] = param.value
            for metric in metrics:
                record.add_metric(metric)
            for tag in tags:
                record.set_tag(tag.key, tag.value)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        inputs = validate_dataset_inputs(datasets)
        with self._state.lock:
            self._state.link_inputs(self._active_run(run_id), inputs)

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        with self._state.lock:
            points = list(self._run(run_id).history.get(metric_key, ()))
        return sorted(points, key=lambda m: (m.step, m.timestamp))

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        if isinstance(experiment_ids, str) or not all(isinstance(e, str) for e in experiment_ids):
            raise InvalidInput(f"experiment_ids must be a list of strings, got {experiment_ids!r}")
        view = as_view_type(run_view_type)
        wanted = set(experiment_ids)
        with self._state.lock:
            candidates = [
                r.snapshot()
                for r in self._state.runs.values()
                if r.info.workspace == self._workspace
                and r.info.experiment_id in wanted
                and view.admits(r.info.lifecycle_stage)
            ]
        return search_runs_in(candidates, filter_string, order_by, max_results, page_token)

    # history import (kiln.store.protocols.history.HistoryImport) ----------------------
    def import_experiment(self, experiment: Experiment) -> str:
        """See ``kiln.store.memory.history.import_experiment``."""
        return history.import_experiment(
            self._state, self._workspace, self._artifact_root, experiment
        )

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """See ``kiln.store.memory.history.import_run``."""
        return history.import_run(self._state, self._workspace, run, experiment_id, metrics)


def _drop_tag(tags: dict[str, str], key: str, owner: str) -> None:
    if key not in tags:
        raise NotFound(f"{owner} has no tag {key!r}")
    del tags[key]


def open_memory_store(
    uri: str = "memory://",
    *,
    workspace: str,
    artifact_root: str | None = None,
) -> MemoryTrackingStore:
    """Open a fresh, empty in-memory store for a ``memory://`` URI.

    Each call returns a new database: two calls never share runs.

    Raises:
        InvalidUri: the URI's scheme is not ``memory``.
    """
    if urlparse(uri).scheme.lower() != "memory":
        raise InvalidUri(f"not a memory URI: {uri!r} (use memory://)")
    return MemoryTrackingStore(workspace=workspace, artifact_root=artifact_root)


__all__ = [
    "MemoryTrackingState",
    "MemoryTrackingStore",
    "generate_run_name",
    "open_memory_store",
    "wall_clock_ms",
]
