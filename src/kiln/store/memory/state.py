"""The in-memory tracking "database": its records and its workspace-scoped lookups.

Several ``MemoryTrackingStore`` instances may share one ``MemoryTrackingState`` to act
as different workspaces of the same database. Experiment ids count up from ``"0"``
across the whole state (as a SQL sequence would): the default workspace's
``Default`` experiment is ``"0"``; any other workspace gets its own ``Default``
experiment, with a fresh id, when a store for it is first built.

Every method that reads or changes records expects the caller to hold ``lock``
(``ensure_default`` takes it itself).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    RUN_NAME_TAG,
    Dataset,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    latest_metric_key,
    metric_point_id,
    normalized_inputs,
)
from kiln.errors import AlreadyExists, Conflict, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.rules.runs import join_uri


@dataclass
class ExperimentRecord:
    """One experiment, mutable under the state's lock; ``snapshot`` hands out a copy."""

    experiment_id: str
    workspace: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)

    def snapshot(self) -> Experiment:
        return Experiment(
            experiment_id=self.experiment_id,
            name=self.name,
            artifact_location=self.artifact_location,
            lifecycle_stage=self.lifecycle_stage,
            creation_time=self.creation_time,
            last_update_time=self.last_update_time,
            tags=dict(self.tags),
            workspace=self.workspace,
        )


@dataclass
class RunRecord:
    """One run with its full metric history, mutable under the state's lock."""

    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    history: dict[str, list[Metric]] = field(default_factory=dict)
    latest: dict[str, Metric] = field(default_factory=dict)
    point_ids: set[tuple[str, int, int, float, bool]] = field(default_factory=set)
    inputs: dict[tuple[str, str], DatasetInput] = field(default_factory=dict)

    def snapshot(self) -> Run:
        data = RunData(metrics=dict(self.latest), params=dict(self.params), tags=dict(self.tags))
        return Run(info=self.info, data=data, inputs=normalized_inputs(list(self.inputs.values())))

    def add_metric(self, metric: Metric) -> None:
        """Store a point (its value as a float); a point already stored (a retry) adds nothing."""
        metric = dataclasses.replace(metric, value=float(metric.value))
        point = metric_point_id(metric)
        if point in self.point_ids:
            return
        self.point_ids.add(point)
        self.history.setdefault(metric.key, []).append(metric)
        current = self.latest.get(metric.key)
        if current is None or latest_metric_key(metric) >= latest_metric_key(current):
            self.latest[metric.key] = metric

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = value
        if key == RUN_NAME_TAG:
            self.info = dataclasses.replace(self.info, run_name=value)

    def set_stage(self, stage: LifecycleStage) -> None:
        self.info = dataclasses.replace(self.info, lifecycle_stage=stage)


@dataclass
class MemoryTrackingState:
    """The shared "database" behind one or more ``MemoryTrackingStore`` instances."""

    artifact_root: str = field(
        default_factory=lambda: os.path.join(
            tempfile.gettempdir(), "kiln-memory-artifacts", uuid.uuid4().hex
        )
    )
    clock: Clock = wall_clock_ms
    lock: threading.RLock = field(default_factory=threading.RLock)
    experiments: dict[str, ExperimentRecord] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)
    # (experiment_id, name, digest) -> the dataset first logged under that key
    datasets: dict[tuple[str, str, str], Dataset] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)  # workspace -> Default's id
    next_experiment_id: int = 0
    # Where experiment and run deletes/restores are recorded (share one across states
    # to read every kind's events in one chain).
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)

    def __post_init__(self) -> None:
        self.ensure_default(DEFAULT_WORKSPACE)
        assert self.defaults[DEFAULT_WORKSPACE] == DEFAULT_EXPERIMENT_ID

    # lookups in one workspace ------------------------------------------------------
    def experiment(self, workspace: str, experiment_id: str) -> ExperimentRecord:
        record = self.experiments.get(experiment_id) if isinstance(experiment_id, str) else None
        if record is None or record.workspace != workspace:
            raise NotFound(f"no experiment with id {experiment_id!r} exists")
        return record

    def active_experiment(self, workspace: str, experiment_id: str) -> ExperimentRecord:
        record = self.experiment(workspace, experiment_id)
        if record.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"experiment {experiment_id} is deleted; restore it before changing it")
        return record

    def by_name(self, workspace: str, name: str) -> ExperimentRecord | None:
        for record in self.experiments.values():
            if record.workspace == workspace and record.name == name:
                return record
        return None

    def check_name_free(self, workspace: str, name: str) -> None:
        """Raises ``AlreadyExists`` when the workspace has an experiment named ``name``."""
        if self.by_name(workspace, name) is not None:
            raise AlreadyExists(f"an experiment named {name!r} already exists")

    def run(self, workspace: str, run_id: str) -> RunRecord:
        record = self.runs.get(run_id) if isinstance(run_id, str) else None
        if record is None or record.info.workspace != workspace:
            raise NotFound(f"no run with id {run_id!r} exists")
        return record

    def active_run(self, workspace: str, run_id: str) -> RunRecord:
        record = self.run(workspace, run_id)
        if record.info.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it")
        return record

    # changes ------------------------------------------------------------------------
    def add_experiment(
        self,
        workspace: str,
        name: str,
        artifact_location: str | None,
        tags: dict[str, str],
        artifact_root: str | None = None,
        experiment_id: str | None = None,
    ) -> ExperimentRecord:
        """Insert an experiment under ``experiment_id`` (a free one, see
        ``claim_experiment_id``) or the next id of the sequence; the caller checked the name.

        Without ``artifact_location`` it is ``<artifact_root>/<experiment_id>``.
        """
        if experiment_id is None:
            experiment_id = str(self.next_experiment_id)
            self.next_experiment_id += 1
        now = self.clock()
        record = ExperimentRecord(
            experiment_id=experiment_id,
            workspace=workspace,
            name=name,
            artifact_location=artifact_location
            or join_uri(artifact_root or self.artifact_root, experiment_id),
            lifecycle_stage=LifecycleStage.ACTIVE,
            creation_time=now,
            last_update_time=now,
            tags=tags,
        )
        self.experiments[experiment_id] = record
        return record

    def claim_experiment_id(self, wanted: str) -> str:
        """``wanted`` when it is a free decimal id (later ids count on from it), else the
        next id of the sequence."""
        canonical = wanted.isascii() and wanted.isdecimal() and str(int(wanted)) == wanted
        if canonical and wanted not in self.experiments:
            self.next_experiment_id = max(self.next_experiment_id, int(wanted) + 1)
            return wanted
        while str(self.next_experiment_id) in self.experiments:
            self.next_experiment_id += 1
        experiment_id = str(self.next_experiment_id)
        self.next_experiment_id += 1
        return experiment_id

    def set_runs_stage(self, workspace: str, experiment_id: str, stage: LifecycleStage) -> None:
        """Give every run of an experiment ``stage`` (the experiment was deleted or restored)."""
        for run in self.runs.values():
            if run.info.experiment_id == experiment_id and run.info.workspace == workspace:
                run.set_stage(stage)

    def link_inputs(self, record: RunRecord, inputs: Sequence[DatasetInput]) -> None:
        """Link validated, deduplicated inputs to a run."""
        experiment_id = record.info.experiment_id
        for item in inputs:
            name, digest = item.dataset.name, item.dataset.digest
            if (name, digest) in record.inputs:
                continue
            dataset = self.datasets.setdefault((experiment_id, name, digest), item.dataset)
            record.inputs[(name, digest)] = DatasetInput(dataset, tuple(item.tags))

    def ensure_default(self, workspace: str) -> None:
        """Create the workspace's ``Default`` experiment unless it has one."""
        with self.lock:
            if workspace not in self.defaults:
                record = self.add_experiment(workspace, DEFAULT_EXPERIMENT_NAME, None, {})
                self.defaults[workspace] = record.experiment_id


__all__ = ["ExperimentRecord", "MemoryTrackingState", "RunRecord"]
