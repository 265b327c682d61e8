"""``TrackingStore`` in process memory: the reference implementation of the contract.

Used by tests and by ``memory://`` tracking URIs. Every ``open_memory_store`` call
starts a fresh, empty "database"; several ``MemoryTrackingStore`` instances may share
one ``MemoryTrackingState`` to act as different workspaces of the same database.

Experiment ids count up from ``"0"`` across the whole state (as a SQL sequence
would): the default workspace's ``Default`` experiment is ``"0"``; any other
workspace gets its own ``Default`` experiment, with a fresh id, when a store for it
is first built.

The store imports only entities, errors and sibling store modules (never
``kiln.config``), so it cannot read ``$KILN_HOME``: without an explicit
``artifact_root`` it uses ``<tempdir>/kiln-memory-artifacts/<random hex>``, a fresh
folder name per state that is created only when an artifact store writes there.
"""

from __future__ import annotations

import dataclasses
import os
import random
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    RUN_NAME_TAG,
    USER_TAG,
    Dataset,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Page,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
    latest_metric_key,
    metric_point_id,
    normalized_inputs,
)
from kiln.errors import AlreadyExists, Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.query.experiments import (
    experiment_matches,
    parse_experiment_filter,
    parse_experiment_order_by,
    sort_experiments,
)
from kiln.store.query.page_token import paginate
from kiln.store.query.runs import (
    parse_order_by,
    parse_run_filter,
    run_matches,
    sort_runs,
    validate_max_results,
)
from kiln.store.rules.tracking import (
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
)

_ADJECTIVES = (
    "amber", "bold", "brave", "calm", "clever", "crisp", "dapper", "eager", "gentle",
    "glossy", "honest", "jolly", "keen", "lucid", "merry", "nimble", "placid", "proud",
    "quiet", "rare", "silent", "smooth", "sunny", "swift", "tidy", "vivid", "warm", "witty",
)  # fmt: skip
_NOUNS = (
    "badger", "bat", "bear", "crane", "deer", "dove", "eel", "falcon", "fox", "gnu",
    "hare", "heron", "ibis", "koala", "lark", "lynx", "mole", "newt", "otter", "owl",
    "panda", "quail", "robin", "seal", "shrew", "stork", "toad", "wolf", "yak", "zebra",
)  # fmt: skip


def generate_run_name(rng: random.Random | None = None) -> str:
    """An MLflow-style name such as ``"brave-otter-417"``."""
    rng = rng or random.Random()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(0, 999)}"


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


@dataclass
class _ExperimentRecord:
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
class _RunRecord:
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
        """Store a point; a point already stored (a retry) adds nothing."""
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
    experiments: dict[str, _ExperimentRecord] = field(default_factory=dict)
    runs: dict[str, _RunRecord] = field(default_factory=dict)
    # (experiment_id, name, digest) -> the dataset first logged under that key
    datasets: dict[tuple[str, str, str], Dataset] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)  # workspace -> Default's id
    next_experiment_id: int = 0

    def __post_init__(self) -> None:
        self.ensure_default(DEFAULT_WORKSPACE)
        assert self.defaults[DEFAULT_WORKSPACE] == DEFAULT_EXPERIMENT_ID

    def new_experiment(
        self,
        workspace: str,
        name: str,
        artifact_location: str | None,
        tags: dict[str, str],
        artifact_root: str | None = None,
    ) -> _ExperimentRecord:
        """Insert an experiment; the caller holds the lock and checked the name.

        Without ``artifact_location`` it is ``<artifact_root>/<experiment_id>``.
        """
        experiment_id = str(self.next_experiment_id)
        self.next_experiment_id += 1
        return self.insert_experiment(
            experiment_id, workspace, name, artifact_location, tags, artifact_root
        )

    def insert_experiment(
        self,
        experiment_id: str,
        workspace: str,
        name: str,
        artifact_location: str | None,
        tags: dict[str, str],
        artifact_root: str | None = None,
    ) -> _ExperimentRecord:
        """Insert an experiment under a free ``experiment_id``; the caller holds the lock."""
        now = self.clock()
        record = _ExperimentRecord(
            experiment_id=experiment_id,
            workspace=workspace,
            name=name,
            artifact_location=artifact_location
            or _join(artifact_root or self.artifact_root, experiment_id),
            lifecycle_stage=LifecycleStage.ACTIVE,
            creation_time=now,
            last_update_time=now,
            tags=tags,
        )
        self.experiments[experiment_id] = record
        return record

    def claim_experiment_id(self, wanted: str) -> str:
        """``wanted`` when it is a free decimal id (later ids count on from it), else the
        next id of the sequence; the caller holds the lock."""
        canonical = wanted.isascii() and wanted.isdecimal() and str(int(wanted)) == wanted
        if canonical and wanted not in self.experiments:
            self.next_experiment_id = max(self.next_experiment_id, int(wanted) + 1)
            return wanted
        while str(self.next_experiment_id) in self.experiments:
            self.next_experiment_id += 1
        experiment_id = str(self.next_experiment_id)
        self.next_experiment_id += 1
        return experiment_id

    def link_inputs(self, record: _RunRecord, inputs: Sequence[DatasetInput]) -> None:
        """Link validated, deduplicated inputs to a run; the caller holds the lock."""
        experiment_id = record.info.experiment_id
        for item in inputs:
            name, digest = item.dataset.name, item.dataset.digest
            if (name, digest) in record.inputs:
                continue
            dataset = self.datasets.setdefault((experiment_id, name, digest), item.dataset)
            record.inputs[(name, digest)] = DatasetInput(dataset, tuple(item.tags))

    def ensure_default(self, workspace: str) -> None:
        with self.lock:
            if workspace not in self.defaults:
                record = self.new_experiment(workspace, DEFAULT_EXPERIMENT_NAME, None, {})
                self.defaults[workspace] = record.experiment_id


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
        workspace: str = DEFAULT_WORKSPACE,
        *,
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

    # lookups (caller holds the lock) ----------------------------------------
    def _experiment(self, experiment_id: str) -> _ExperimentRecord:
        record = (
            self._state.experiments.get(experiment_id) if isinstance(experiment_id, str) else None
        )
        if record is None or record.workspace != self._workspace:
            raise NotFound(f"no experiment with id {experiment_id!r} exists")
        return record

    def _active_experiment(self, experiment_id: str) -> _ExperimentRecord:
        record = self._experiment(experiment_id)
        if record.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"experiment {experiment_id} is deleted; restore it before changing it")
        return record

    def _by_name(self, name: str) -> _ExperimentRecord | None:
        for record in self._state.experiments.values():
            if record.workspace == self._workspace and record.name == name:
                return record
        return None

    def _run(self, run_id: str) -> _RunRecord:
        record = self._state.runs.get(run_id) if isinstance(run_id, str) else None
        if record is None or record.info.workspace != self._workspace:
            raise NotFound(f"no run with id {run_id!r} exists")
        return record

    def _active_run(self, run_id: str) -> _RunRecord:
        record = self._run(run_id)
        if record.info.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it")
        return record

    # experiments -------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        validate_experiment_name(name)
        for tag in tags:
            validate_experiment_tag(tag)
        with self._state.lock:
            if self._by_name(name) is not None:
                raise AlreadyExists(f"an experiment named {name!r} already exists")
            record = self._state.new_experiment(
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
            record = self._by_name(name)
            return None if record is None else record.snapshot()

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        view = _view_type(view_type)
        comparisons = parse_experiment_filter(filter_string)
        order = parse_experiment_order_by(order_by)
        validate_max_results(max_results)
        with self._state.lock:
            candidates = [
                r.snapshot()
                for r in self._state.experiments.values()
                if r.workspace == self._workspace and view.admits(r.lifecycle_stage)
            ]
        matching = [e for e in candidates if experiment_matches(e, comparisons)]
        items, token = paginate(sort_experiments(matching, order), page_token, max_results)
        return Page(items, token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        with self._state.lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise Conflict(f"experiment {experiment_id} is deleted; cannot rename it")
            if record.name == new_name:
                return
            if self._by_name(new_name) is not None:
                raise AlreadyExists(f"an experiment named {new_name!r} already exists")
            record.name = new_name
            record.last_update_time = self._state.clock()

    def delete_experiment(self, experiment_id: str) -> None:
        with self._state.lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise NotFound(f"no active experiment with id {experiment_id!r} exists")
            record.lifecycle_stage = LifecycleStage.DELETED
            record.last_update_time = self._state.clock()
            self._set_runs_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        with self._state.lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage is not LifecycleStage.DELETED:
                raise NotFound(f"no deleted experiment with id {experiment_id!r} exists")
            record.lifecycle_stage = LifecycleStage.ACTIVE
            record.last_update_time = self._state.clock()
            self._set_runs_stage(experiment_id, LifecycleStage.ACTIVE)

    def _set_runs_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        for run in self._state.runs.values():
            if run.info.experiment_id == experiment_id and run.info.workspace == self._workspace:
                run.info = dataclasses.replace(run.info, lifecycle_stage=stage)

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        validate_experiment_tag(tag)
        with self._state.lock:
            self._active_experiment(experiment_id).tags[tag.key] = tag.value

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with self._state.lock:
            record = self._active_experiment(experiment_id)
            if key not in record.tags:
                raise NotFound(f"experiment {experiment_id} has no tag {key!r}")
            del record.tags[key]

    # runs --------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        for tag in tags:
            validate_tag(tag)
        tag_values = {t.key: t.value for t in tags}
        tagged_name = tag_values.get(RUN_NAME_TAG)
        if run_name and tagged_name is not None and tagged_name != run_name:
            raise InvalidInput(
                f"run_name {run_name!r} and tag {RUN_NAME_TAG}={tagged_name!r} disagree; "
                "pass one of them, or the same value in both"
            )
        name = run_name or tagged_name or generate_run_name(self._rng)
        validate_run_name(name)
        if start_time is not None and (
            isinstance(start_time, bool) or not isinstance(start_time, int)
        ):
            raise InvalidInput(f"start_time must be milliseconds as an int, got {start_time!r}")
        tag_values[RUN_NAME_TAG] = name
        if user_id:
            tag_values.setdefault(USER_TAG, user_id)
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
                artifact_uri=_join(experiment.artifact_location, run_id, "artifacts"),
                lifecycle_stage=LifecycleStage.ACTIVE,
                workspace=self._workspace,
            )
            record = _RunRecord(info=info, tags=tag_values)
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
        new_status = None if status is None else _run_status(status)
        if end_time is not None and (isinstance(end_time, bool) or not isinstance(end_time, int)):
            raise InvalidInput(f"end_time must be milliseconds as an int, got {end_time!r}")
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
        with self._state.lock:
            record = self._run(run_id)
            record.info = dataclasses.replace(record.info, lifecycle_stage=LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        with self._state.lock:
            record = self._run(run_id)
            record.info = dataclasses.replace(record.info, lifecycle_stage=LifecycleStage.ACTIVE)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._state.lock:
            record = self._active_run(run_id)
            if key not in record.tags:
                raise NotFound(f"run {run_id} has no tag {key!r}")
            del record.tags[key]

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
                record.add_metric(dataclasses.replace(metric, value=float(metric.value)))
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
        view = _view_type(run_view_type)
        comparisons = parse_run_filter(filter_string)
        order = parse_order_by(order_by)
        validate_max_results(max_results)
        wanted = set(experiment_ids)
        with self._state.lock:
            candidates = [
                r.snapshot()
                for r in self._state.runs.values()
                if r.info.workspace == self._workspace
                and r.info.experiment_id in wanted
                and view.admits(r.info.lifecycle_stage)
            ]
        matching = [run for run in candidates if run_matches(run, comparisons)]
        items, token = paginate(sort_runs(matching, order), page_token, max_results)
        return Page(items, token)

    # history import (kiln.store.protocols.history.HistoryImport) ----------------------
    def import_experiment(self, experiment: Experiment) -> str:
        """Create a copy of ``experiment``: name, tags, lifecycle stage and both times.

        Keeps ``experiment.experiment_id`` when it is a decimal id free in the whole
        state (every workspace), else takes the next id of the sequence. The artifact
        location is this store's default for the id; the copy is in this store's
        workspace.

        Raises:
            AlreadyExists: an experiment of that name exists here (active or deleted).
            InvalidInput: the name, a tag, the stage or a time fails validation.
        """
        validate_experiment_name(experiment.name)
        tags = {key: value for key, value in experiment.tags.items()}
        for key, value in tags.items():
            validate_experiment_tag(RunTag(key, value))
        stage = _lifecycle_stage(experiment.lifecycle_stage)
        creation_time = _optional_ms(experiment.creation_time, "creation_time")
        last_update_time = _optional_ms(experiment.last_update_time, "last_update_time")
        with self._state.lock:
            if self._by_name(experiment.name) is not None:
                raise AlreadyExists(f"an experiment named {experiment.name!r} already exists")
            experiment_id = self._state.claim_experiment_id(str(experiment.experiment_id))
            record = self._state.insert_experiment(
                experiment_id, self._workspace, experiment.name, None, tags, self._artifact_root
            )
            record.lifecycle_stage = stage
            if creation_time is not None:
                record.creation_time = creation_time
            if last_update_time is not None:
                record.last_update_time = last_update_time
            return experiment_id

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """Create a copy of ``run`` keeping its id, name, user, status, times and stage.

        ``run.data`` gives params and tags exactly (``mlflow.runName`` included; the
        run name comes from ``run.info``), ``run.inputs`` the dataset inputs;
        ``metrics`` is the full history, every point kept in the given order
        (a repeated point once); ``run.data.metrics`` is ignored. The run may go into a
        deleted experiment, where it is stored deleted. The artifact URI is
        ``<experiment artifact location>/<run_id>/artifacts``. Everything is
        validated before anything is written: on error nothing of the run exists.

        Raises:
            AlreadyExists: a run with this id exists in the state (any workspace).
            NotFound: no experiment ``experiment_id`` in this workspace.
            InvalidInput: the id, name, status, stage, a time, key or value is invalid.
        """
        info = run.info
        validate_run_id(info.run_id)
        validate_experiment_id(experiment_id)
        if not isinstance(info.run_name, str):
            raise InvalidInput(f"run name must be a string, got {info.run_name!r}")
        validate_run_name(info.run_name)
        if not isinstance(info.user_id, str):
            raise InvalidInput(f"user id must be a string, got {info.user_id!r}")
        status = _run_status(info.status)
        stage = _lifecycle_stage(info.lifecycle_stage)
        start_time = _optional_ms(info.start_time, "start_time")
        if start_time is None:
            raise InvalidInput("start_time must be milliseconds as an int, got None")
        end_time = _optional_ms(info.end_time, "end_time")
        params = dict(run.data.params)
        tags = dict(run.data.tags)
        for key, value in params.items():
            validate_param(Param(key, value))
        for key, value in tags.items():
            validate_tag(RunTag(key, value))
        points = [validate_metric(metric) for metric in metrics]
        inputs = validate_dataset_inputs(run.inputs.dataset_inputs)
        with self._state.lock:
            experiment = self._experiment(experiment_id)
            if info.run_id in self._state.runs:
                raise AlreadyExists(f"run {info.run_id!r} already exists")
            if experiment.lifecycle_stage is LifecycleStage.DELETED:
                stage = LifecycleStage.DELETED
            new_info = RunInfo(
                run_id=info.run_id,
                experiment_id=experiment.experiment_id,
                run_name=info.run_name,
                user_id=info.user_id,
                status=status,
                start_time=start_time,
                end_time=end_time,
                artifact_uri=_join(experiment.artifact_location, info.run_id, "artifacts"),
                lifecycle_stage=stage,
                workspace=self._workspace,
            )
            record = _RunRecord(info=new_info, params=params, tags=tags)
            for metric in points:
                record.add_metric(dataclasses.replace(metric, value=float(metric.value)))
            self._state.link_inputs(record, inputs)
            self._state.runs[info.run_id] = record
            return new_info


def _view_type(value: object) -> ViewType:
    try:
        return ViewType(str(value))
    except ValueError:
        names = ", ".join(v.value for v in ViewType)
        raise InvalidInput(f"invalid view type {value!r}: use one of {names}") from None


def _run_status(value: object) -> RunStatus:
    try:
        return RunStatus(str(value))
    except ValueError:
        names = ", ".join(s.value for s in RunStatus)
        raise InvalidInput(f"invalid run status {value!r}: use one of {names}") from None


def _lifecycle_stage(value: object) -> LifecycleStage:
    try:
        return LifecycleStage(str(value))
    except ValueError:
        names = ", ".join(s.value for s in LifecycleStage)
        raise InvalidInput(f"invalid lifecycle stage {value!r}: use one of {names}") from None


def _optional_ms(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be milliseconds as an int, got {value!r}")
    return value


def open_memory_store(
    uri: str = "memory://",
    *,
    workspace: str = DEFAULT_WORKSPACE,
    artifact_root: str | None = None,
) -> MemoryTrackingStore:
    """Open a fresh, empty in-memory store for a ``memory://`` URI.

    Each call returns a new database: two calls never share runs.

    Raises:
        InvalidUri: the URI's scheme is not ``memory``.
    """
    if urlparse(uri).scheme.lower() != "memory":
        raise InvalidUri(f"not a memory URI: {uri!r} (use memory://)")
    return MemoryTrackingStore(workspace, artifact_root=artifact_root)


__all__ = [
    "MemoryTrackingState",
    "MemoryTrackingStore",
    "generate_run_name",
    "open_memory_store",
    "wall_clock_ms",
]
