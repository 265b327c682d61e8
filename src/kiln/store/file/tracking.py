"""``FileTrackingStore``: the ``TrackingStore`` contract over MLflow's ``mlruns`` folder.

What is written is byte-for-byte what MLflow's own FileStore writes (see
``kiln.store.file.layout``), so ``mlflow ui --backend-store-uri ./mlruns`` opens a
folder Kiln wrote and Kiln opens one MLflow wrote.

Differences from MLflow's FileStore, on purpose:

* Single files are replaced atomically (temp file + ``os.replace``); a new run or
  experiment gets its ``meta.yaml`` last, so a crash mid-create leaves a folder
  that every reader skips rather than a half-made entity.
* ``log_batch`` checks everything (limits, keys, param conflicts, key paths) before
  the first write.
* New experiment ids are the next free integer (``1``, ``2``, ...), claimed with an
  atomic ``mkdir``; MLflow draws random 18-digit ids. Both read fine either way.

Workspaces: the layout has no tenants. Only the ``default`` workspace opens;
any other raises ``InvalidInput``. (A per-workspace sub-folder is not an option:
MLflow takes every folder in the root except ``.trash`` and ``models`` for an
experiment and its search fails on a non-numeric one.)
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    RUN_NAME_TAG,
    USER_TAG,
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
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.clock import wall_clock_ms
from kiln.store.file import folders, inputs, layout
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.query import experiments
from kiln.store.query import runs as search
from kiln.store.query.page_token import decode_page_token, paginate
from kiln.store.rules.tracking import (
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
)

_ADJECTIVES = ("amber", "brisk", "calm", "deft", "eager", "fond", "glad", "keen", "lucid", "merry")
_NOUNS = ("ant", "bass", "crow", "doe", "eel", "finch", "gull", "hare", "ibis", "jay")
# Longer names exceed the file-name limit of common filesystems: no experiment has one.
_MAX_FOLDER_NAME = 255


def _generate_run_name() -> str:
    """A readable name like MLflow's ``bright-finch-42``."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"


class FileTrackingStore:
    """Experiments and runs of the ``default`` workspace in one ``mlruns`` folder.

    Safe to share between threads of one process (a lock serialises writes). Several
    processes may write the same folder as with MLflow; appends and single-file
    replaces are atomic, read-modify-write sequences are not coordinated.
    """

    def __init__(
        self,
        root: Path,
        artifact_root: str | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._root = root
        self._trash = root / layout.TRASH
        self._artifact_root = folders.artifact_root_uri(artifact_root, root)
        self._clock = clock
        self._lock = threading.RLock()
        self._run_dirs: dict[str, Path] = {}
        self._root.mkdir(parents=True, exist_ok=True)
        self._trash.mkdir(exist_ok=True)
        if self._experiment_dir(DEFAULT_EXPERIMENT_ID) is None:
            self._write_new_experiment(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None, ())

    @property
    def workspace(self) -> str:
        return DEFAULT_WORKSPACE

    @property
    def default_artifact_root(self) -> str:
        return self._artifact_root

    @property
    def root(self) -> Path:
        """The mlruns folder."""
        return self._root

    # -- experiment folders ------------------------------------------------------------

    def _experiment_dir(self, experiment_id: str) -> Path | None:
        """The folder of an experiment (active first, then ``.trash``), None if absent."""
        if len(experiment_id) > _MAX_FOLDER_NAME:  # no such folder; stat() would raise
            return None
        for parent in (self._root, self._trash):
            folder = parent / experiment_id
            if (folder / layout.META).is_file():
                return folder
        return None

    def _experiment_dir_or_raise(self, experiment_id: str) -> Path:
        validate_experiment_id(experiment_id)
        folder = self._experiment_dir(experiment_id)
        if folder is None:
            raise NotFound(f"experiment {experiment_id!r} does not exist")
        return folder

    def _all_experiments(self) -> Iterator[Experiment]:
        seen: set[str] = set()
        for parent in (self._root, self._trash):
            for experiment_id in folders.experiment_ids(parent):
                if experiment_id in seen:
                    continue
                experiment = folders.read_experiment(parent / experiment_id)
                if experiment is not None:
                    seen.add(experiment_id)
                    yield experiment

    def _claim_experiment_id(self) -> str:
        """Create the folder of the next free integer id; ``mkdir`` makes the claim atomic."""
        taken = {int(name) for name in folders.experiment_ids(self._root)}
        taken |= {int(name) for name in folders.experiment_ids(self._trash)}
        taken |= {int(p.name) for p in self._root.iterdir() if folders.is_id(p.name)}
        candidate = max(taken, default=0) + 1
        while True:
            if not (self._trash / str(candidate)).exists():
                try:
                    (self._root / str(candidate)).mkdir()
                    return str(candidate)
                except FileExistsError:
                    pass
            candidate += 1

    def _write_new_experiment(
        self,
        experiment_id: str,
        name: str,
        artifact_location: str | None,
        tags: Sequence[RunTag],
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> Experiment:
        folder = self._root / experiment_id
        folder.mkdir(parents=True, exist_ok=True)
        for tag in tags:
            layout.write_atomic(folder / layout.TAGS / tag.key, tag.value, temp_dir=folder)
        now = self._clock()
        created = creation_time if creation_time is not None else now
        experiment = Experiment(
            experiment_id=experiment_id,
            name=name,
            artifact_location=artifact_location
            or folders.join_uri(self._artifact_root, experiment_id),
            lifecycle_stage=LifecycleStage.ACTIVE,
            creation_time=created,
            last_update_time=last_update_time if last_update_time is not None else created,
            tags={tag.key: tag.value for tag in tags},
        )
        # meta.yaml last: a folder without it is skipped by every reader.
        meta = layout.experiment_to_meta(experiment, with_tags=False)
        layout.write_atomic(folder / layout.META, layout.dump_yaml(meta))
        return experiment

    def _rewrite_experiment(self, folder: Path, experiment: Experiment) -> None:
        meta = layout.experiment_to_meta(experiment, with_tags=True)
        layout.write_atomic(folder / layout.META, layout.dump_yaml(meta))

    # -- experiments -------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        validate_experiment_name(name)
        for tag in tags:
            validate_experiment_tag(tag)
        folders.check_keys_nest([t.key for t in tags], "experiment tag key")
        with self._lock:
            self._check_name_free(name)
            experiment_id = self._claim_experiment_id()
            self._write_new_experiment(experiment_id, name, artifact_location, tags)
            return experiment_id

    def _check_name_free(self, name: str) -> None:
        existing = self.get_experiment_by_name(name)
        if existing is None:
            return
        if existing.lifecycle_stage is LifecycleStage.DELETED:
            raise AlreadyExists(
                f"experiment {name!r} already exists in deleted state (id "
                f"{existing.experiment_id}); restore it, or remove it from the .trash folder"
            )
        raise AlreadyExists(f"experiment {name!r} already exists (id {existing.experiment_id})")

    def get_experiment(self, experiment_id: str) -> Experiment:
        folder = self._experiment_dir_or_raise(experiment_id)
        experiment = folders.read_experiment(folder)
        if experiment is None:
            raise NotFound(f"experiment {experiment_id!r} has a malformed meta.yaml in {folder}")
        return experiment

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        for experiment in self._all_experiments():
            if experiment.name == name:
                return experiment
        return None

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        search.validate_max_results(max_results)
        comparisons = experiments.parse_experiment_filter(filter_string)
        order = experiments.parse_experiment_order_by(order_by)
        decode_page_token(page_token)  # a bad token fails before any reading
        found = [
            experiment
            for experiment in self._all_experiments()
            if view_type.admits(experiment.lifecycle_stage)
            and experiments.experiment_matches(experiment, comparisons)
        ]
        items, token = paginate(experiments.sort_experiments(found, order), page_token, max_results)
        return Page(items=items, next_page_token=token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        with self._lock:
            experiment = self.get_experiment(experiment_id)
            if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise Conflict(f"cannot rename deleted experiment {experiment_id!r}; restore it")
            if new_name == experiment.name:
                return
            self._check_name_free(new_name)
            folder = self._experiment_dir_or_raise(experiment_id)
            renamed = replace(experiment, name=new_name, last_update_time=self._clock())
            self._rewrite_experiment(folder, renamed)

    def delete_experiment(self, experiment_id: str) -> None:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidInput("the default experiment '0' cannot be deleted")
        with self._lock:
            experiment = self.get_experiment(experiment_id)
            if experiment.lifecycle_stage is LifecycleStage.DELETED:
                raise NotFound(f"no active experiment {experiment_id!r} (it is already deleted)")
            folder = self._root / experiment_id
            target = self._trash / experiment_id
            folders.make_room(target, f"cannot delete experiment {experiment_id!r}")
            now = self._clock()
            # MLflow's order: runs first, then the experiment's meta, then the move.
            for run_dir, info in folders.run_infos(folder):
                if info.lifecycle_stage is LifecycleStage.ACTIVE:
                    deleted = replace(info, lifecycle_stage=LifecycleStage.DELETED)
                    self._write_run_meta(run_dir, deleted, deleted_time=now)
            deleted_experiment = replace(
                experiment, lifecycle_stage=LifecycleStage.DELETED, last_update_time=now
            )
            self._rewrite_experiment(folder, deleted_experiment)
            folder.rename(target)
            self._run_dirs.clear()

    def restore_experiment(self, experiment_id: str) -> None:
        validate_experiment_id(experiment_id)
        if len(experiment_id) > _MAX_FOLDER_NAME:
            raise NotFound(f"no deleted experiment {experiment_id[:40]!r}")
        with self._lock:
            folder = self._trash / experiment_id
            active = (self._root / experiment_id / layout.META).is_file()
            experiment = folders.read_experiment(folder) if folder.is_dir() and not active else None
            if experiment is None:
                raise NotFound(f"no deleted experiment {experiment_id!r}")
            target = self._root / experiment_id
            folders.make_room(target, f"cannot restore experiment {experiment_id!r}")
            folder.rename(target)
            self._run_dirs.clear()
            for run_dir, info in folders.run_infos(target):
                if info.lifecycle_stage is LifecycleStage.DELETED:
                    restored = replace(info, lifecycle_stage=LifecycleStage.ACTIVE)
                    self._write_run_meta(run_dir, restored)
            restored_experiment = replace(
                experiment, lifecycle_stage=LifecycleStage.ACTIVE, last_update_time=self._clock()
            )
            self._rewrite_experiment(target, restored_experiment)

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        validate_experiment_tag(tag)
        with self._lock:
            folder = self._active_experiment_dir(experiment_id, "set tags on")
            layout.check_key_path_free(folder / layout.TAGS, tag.key, "experiment tag key")
            layout.write_atomic(folder / layout.TAGS / tag.key, tag.value, temp_dir=folder)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        validate_key(key, "experiment tag key")
        with self._lock:
            folder = self._active_experiment_dir(experiment_id, "delete tags of")
            path = folder / layout.TAGS / key
            if not path.is_file():
                raise NotFound(f"experiment {experiment_id!r} has no tag {key!r}")
            path.unlink()

    def _active_experiment_dir(self, experiment_id: str, action: str) -> Path:
        folder = self._experiment_dir_or_raise(experiment_id)
        if folder.parent == self._trash:
            raise Conflict(f"cannot {action} deleted experiment {experiment_id!r}; restore it")
        return folder

    # -- run folders -------------------------------------------------------------------

    def _find_run_dir(self, run_id: str) -> Path:
        validate_run_id(run_id)
        cached = self._run_dirs.get(run_id)
        if cached is not None and (cached / layout.META).is_file():
            return cached
        for parent in (self._root, self._trash):
            for experiment_id in folders.experiment_ids(parent):
                run_dir = parent / experiment_id / run_id
                if (run_dir / layout.META).is_file():
                    self._run_dirs[run_id] = run_dir
                    return run_dir
        raise NotFound(f"run {run_id!r} does not exist")

    def _load_run_info(self, run_id: str) -> tuple[Path, RunInfo]:
        run_dir = self._find_run_dir(run_id)
        info = folders.read_run_info(run_dir, run_dir.parent.name)
        if info is None:
            raise NotFound(f"run {run_id!r} has a malformed meta.yaml in {run_dir}")
        return run_dir, info

    def _active_run(self, run_id: str) -> tuple[Path, RunInfo]:
        run_dir, info = self._load_run_info(run_id)
        if info.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"run {run_id!r} is deleted; restore it before writing to it")
        return run_dir, info

    def _write_run_meta(
        self, run_dir: Path, info: RunInfo, deleted_time: int | layout.Absent | None = layout.ABSENT
    ) -> None:
        meta = layout.run_info_to_meta(info, deleted_time)
        layout.write_atomic(run_dir / layout.META, layout.dump_yaml(meta))

    # -- runs --------------------------------------------------------------------------

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
        folders.check_keys_nest([t.key for t in tags], "tag key")
        tag_name = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidInput(
                f"run_name {run_name!r} and tag {RUN_NAME_TAG}={tag_name!r} disagree; pass one"
            )
        final_name = run_name or tag_name or _generate_run_name()
        validate_run_name(final_name)
        all_tags = [t for t in tags if t.key != RUN_NAME_TAG]
        all_tags.append(RunTag(RUN_NAME_TAG, final_name))
        if user_id and not any(t.key == USER_TAG for t in tags):
            all_tags.append(RunTag(USER_TAG, user_id))
        with self._lock:
            experiment = self.get_experiment(experiment_id)
            if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise Conflict(f"cannot create a run in deleted experiment {experiment_id!r}")
            run_id = uuid.uuid4().hex
            info = RunInfo(
                run_id=run_id,
                experiment_id=experiment_id,
                run_name=final_name,
                user_id=user_id or "",
                status=RunStatus.RUNNING,
                start_time=start_time if start_time is not None else self._clock(),
                end_time=None,
                artifact_uri=folders.join_uri(
                    experiment.artifact_location, run_id, layout.ARTIFACTS
                ),
            )
            self._write_new_run(experiment, info, (), (), all_tags, deleted_time=None)
            return self.get_run(run_id)

    def _write_new_run(
        self,
        experiment: Experiment,
        info: RunInfo,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
        deleted_time: int | layout.Absent | None,
        dataset_inputs: Sequence[DatasetInput] = (),
    ) -> Path:
        """Write a whole run; meta.yaml last so a crash leaves a folder readers skip."""
        experiment_dir = self._experiment_dir_or_raise(experiment.experiment_id)
        run_dir = experiment_dir / info.run_id
        run_dir.mkdir()
        for sub in (layout.METRICS, layout.PARAMS, layout.ARTIFACTS, layout.TAGS):
            # MLflow only finds runs whose metrics/, params/ and artifacts/ folders exist.
            (run_dir / sub).mkdir()
        for param in params:
            layout.write_atomic(run_dir / layout.PARAMS / param.key, param.value, run_dir)
        for tag in tags:
            layout.write_atomic(run_dir / layout.TAGS / tag.key, tag.value, run_dir)
        folders.append_metrics(run_dir, metrics)
        inputs.write_inputs(run_dir, info.run_id, dataset_inputs)
        self._write_run_meta(run_dir, info, deleted_time)
        self._run_dirs[info.run_id] = run_dir
        return run_dir

    def get_run(self, run_id: str) -> Run:
        run_dir, info = self._load_run_info(run_id)
        return folders.read_run(run_dir, info)

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        if run_name is not None:
            validate_run_name(run_name)
        with self._lock:
            run_dir, info = self._active_run(run_id)
            updated = replace(
                info,
                status=status if status is not None else info.status,
                end_time=end_time if end_time is not None else info.end_time,
                run_name=run_name if run_name else info.run_name,
            )
            if run_name:
                layout.write_atomic(run_dir / layout.TAGS / RUN_NAME_TAG, run_name, run_dir)
            self._write_run_meta(run_dir, updated)
            return updated

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            run_dir, info = self._load_run_info(run_id)
            deleted = replace(info, lifecycle_stage=LifecycleStage.DELETED)
            self._write_run_meta(run_dir, deleted, deleted_time=self._clock())

    def restore_run(self, run_id: str) -> None:
        with self._lock:
            run_dir, info = self._load_run_info(run_id)
            if run_dir.parent.parent == self._trash:
                raise Conflict(
                    f"run {run_id!r} belongs to deleted experiment {info.experiment_id!r}; "
                    "restore the experiment"
                )
            restored = replace(info, lifecycle_stage=LifecycleStage.ACTIVE)
            self._write_run_meta(run_dir, restored)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        validate_metric(metric)
        with self._lock:
            run_dir, _info = self._active_run(run_id)
            layout.check_key_path_free(run_dir / layout.METRICS, metric.key, "metric key")
            folders.append_metrics(run_dir, [metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_key(key, "tag key")
        with self._lock:
            run_dir, _info = self._active_run(run_id)
            path = run_dir / layout.TAGS / key
            if not path.is_file():
                raise NotFound(f"run {run_id!r} has no tag {key!r}")
            path.unlink()

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        validate_batch(metrics, params, tags)
        run_name = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
        if run_name is not None:
            validate_run_name(run_name)
        with self._lock:
            run_dir, info = self._active_run(run_id)
            new_params = self._check_batch(run_dir, run_id, metrics, params, tags)
            for param in new_params:
                layout.write_atomic(run_dir / layout.PARAMS / param.key, param.value, run_dir)
            folders.append_metrics(run_dir, metrics)
            for tag in tags:
                layout.write_atomic(run_dir / layout.TAGS / tag.key, tag.value, run_dir)
            if run_name is not None and run_name != info.run_name:
                # MLflow keeps meta.yaml's run_name in step with the mlflow.runName tag.
                self._write_run_meta(run_dir, replace(info, run_name=run_name))

    def _check_batch(
        self,
        run_dir: Path,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> list[Param]:
        """Everything that could fail, before the first write; returns the params to write."""
        for folder, keys, kind in (
            (layout.METRICS, [m.key for m in metrics], "metric key"),
            (layout.PARAMS, [p.key for p in params], "param key"),
            (layout.TAGS, [t.key for t in tags], "tag key"),
        ):
            folders.check_keys_nest(keys, kind)
            for key in set(keys):
                layout.check_key_path_free(run_dir / folder, key, kind)
        new_params: dict[str, Param] = {}
        for param in params:
            path = run_dir / layout.PARAMS / param.key
            if path.is_file():
                current = layout.read_text(path)
                if current != param.value:
                    raise Conflict(
                        f"param {param.key!r} of run {run_id!r} was logged as {current!r}; "
                        f"params are write-once, cannot change it to {param.value!r}"
                    )
            else:
                new_params[param.key] = param
        return list(new_params.values())

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        items = validate_dataset_inputs(datasets)
        with self._lock:
            run_dir, _info = self._active_run(run_id)
            inputs.write_inputs(run_dir, run_id, items)

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        validate_key(metric_key, "metric key")
        run_dir, _info = self._load_run_info(run_id)
        path = run_dir / layout.METRICS / metric_key
        if not path.is_file():
            return []
        points = folders.read_metric_file(metric_key, path)
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
        search.validate_max_results(max_results)
        comparisons = search.parse_run_filter(filter_string)
        order = search.parse_order_by(order_by)
        decode_page_token(page_token)
        runs: list[Run] = []
        for experiment_id in dict.fromkeys(experiment_ids):
            validate_experiment_id(experiment_id)
            folder = self._experiment_dir(experiment_id)
            if folder is None:
                continue
            for run_dir, info in folders.run_infos(folder):
                if not run_view_type.admits(info.lifecycle_stage):
                    continue
                run = folders.read_run(run_dir, info)
                if search.run_matches(run, comparisons):
                    runs.append(run)
        items, token = paginate(search.sort_runs(runs, order), page_token, max_results)
        return Page(items=items, next_page_token=token)

    # -- history import (kiln.store.protocols.history.HistoryImport) -----------------------------

    def import_experiment(self, experiment: Experiment) -> str:
        """Create a copy of ``experiment`` (name, tags, lifecycle stage, times).

        Keeps ``experiment.experiment_id`` when that id is free here, else takes the
        next free one; the artifact location is this store's default for the id.

        Raises:
            AlreadyExists: an experiment of that name exists.
        """
        validate_experiment_name(experiment.name)
        tags = [RunTag(k, v) for k, v in experiment.tags.items()]
        for tag in tags:
            validate_experiment_tag(tag)
        folders.check_keys_nest([t.key for t in tags], "experiment tag key")
        with self._lock:
            self._check_name_free(experiment.name)
            experiment_id = self._claim_id(experiment.experiment_id)
            created = self._write_new_experiment(
                experiment_id,
                experiment.name,
                None,
                tags,
                creation_time=experiment.creation_time,
                last_update_time=experiment.last_update_time,
            )
            if experiment.lifecycle_stage is LifecycleStage.DELETED:
                folder = self._root / experiment_id
                deleted = replace(created, lifecycle_stage=LifecycleStage.DELETED)
                self._rewrite_experiment(folder, deleted)
                folder.rename(self._trash / experiment_id)
            return experiment_id

    def _claim_id(self, wanted: str) -> str:
        if folders.is_id(wanted) and not (self._trash / wanted).exists():
            try:
                (self._root / wanted).mkdir()
                return wanted
            except FileExistsError:
                pass
        return self._claim_experiment_id()

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """Create a copy of ``run`` keeping its id, name, user, status, times and stage.

        ``run.data`` gives params and tags, ``run.inputs`` the dataset inputs;
        ``metrics`` is the full history (every point). The run may go into a
        deleted experiment. The artifact URI is this store's
        (``<experiment artifact location>/<run_id>/artifacts``).

        Raises:
            AlreadyExists: a run with this id exists here.
            NotFound: no experiment ``experiment_id``.
        """
        info = run.info
        validate_run_id(info.run_id)
        validate_run_name(info.run_name)
        params = [Param(k, v) for k, v in run.data.params.items()]
        tags = [RunTag(k, v) for k, v in run.data.tags.items()]
        for param in params:
            validate_param(param)
        for tag in tags:
            validate_tag(tag)
        for metric in metrics:
            validate_metric(metric)
        folders.check_keys_nest([m.key for m in metrics], "metric key")
        folders.check_keys_nest([p.key for p in params], "param key")
        folders.check_keys_nest([t.key for t in tags], "tag key")
        dataset_inputs = validate_dataset_inputs(run.inputs.dataset_inputs)
        with self._lock:
            experiment = self.get_experiment(experiment_id)
            try:
                self._find_run_dir(info.run_id)
            except NotFound:
                pass
            else:
                raise AlreadyExists(f"run {info.run_id!r} already exists")
            deleted = experiment.lifecycle_stage is LifecycleStage.DELETED
            stage = LifecycleStage.DELETED if deleted else info.lifecycle_stage
            new_info = replace(
                info,
                experiment_id=experiment_id,
                lifecycle_stage=stage,
                artifact_uri=folders.join_uri(
                    experiment.artifact_location, info.run_id, layout.ARTIFACTS
                ),
                workspace=DEFAULT_WORKSPACE,
            )
            deleted_time: int | layout.Absent | None = (
                self._clock() if stage is LifecycleStage.DELETED else layout.ABSENT
            )
            self._write_new_run(
                experiment, new_info, metrics, params, tags, deleted_time, dataset_inputs
            )
            return new_info


# -- module helpers -----------------------------------------------------------------------


def open_file_store(
    uri: str,
    *,
    workspace: str = DEFAULT_WORKSPACE,
    artifact_root: str | None = None,
) -> FileTrackingStore:
    """Open (creating if needed) the mlruns folder a ``file:`` URI names.

    Args:
        uri: ``file:///abs/mlruns``, ``file:relative/mlruns`` or a bare path.
        workspace: must be ``default``: the mlruns layout has no tenants.
        artifact_root: where new experiments put artifacts (default: the folder itself,
            as MLflow does).

    Raises:
        InvalidInput: a workspace other than ``default``.
        InvalidUri: not a local file URI.
    """
    root = folders.mlruns_root(uri, workspace, "store")
    return FileTrackingStore(root, artifact_root=artifact_root)


__all__ = ["FileTrackingStore", "open_file_store"]
