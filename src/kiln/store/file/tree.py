"""``MlrunsTree``: where experiments and runs live in one ``mlruns`` folder, and the
writes that make or change them.

``FileTrackingStore`` (the live API) and ``kiln.store.file.history`` (imports) both
work through one tree, so an experiment or run is found, created and rewritten in
one way. Callers that change anything hold ``lock``.

A new experiment or run gets its ``meta.yaml`` last, so a crash mid-create leaves a
folder every reader skips rather than a half-made entity. New experiment ids are
the next free integer, claimed with an atomic ``mkdir`` (MLflow draws random
18-digit ids; both read fine either way).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from kiln.entities import DatasetInput, Experiment, LifecycleStage, Metric, Param, RunInfo, RunTag
from kiln.errors import AlreadyExists, Conflict, NotFound
from kiln.store.clock import Clock
from kiln.store.file import folders, inputs, layout
from kiln.store.rules.runs import join_uri
from kiln.store.rules.tracking import validate_experiment_id, validate_run_id

# Longer names exceed the file-name limit of common filesystems: no experiment has one.
MAX_FOLDER_NAME = 255


class MlrunsTree:
    """The experiment and run folders under ``root`` (deleted ones in ``root/.trash``)."""

    def __init__(self, root: Path, artifact_root: str, clock: Clock) -> None:
        self.root = root
        self.trash = root / layout.TRASH
        self.artifact_root = artifact_root
        self.clock = clock
        self.lock = threading.RLock()
        self._run_dirs: dict[str, Path] = {}
        self.root.mkdir(parents=True, exist_ok=True)
        self.trash.mkdir(exist_ok=True)

    # -- experiments ---------------------------------------------------------------------

    def experiment_dir(self, experiment_id: str) -> Path | None:
        """The folder of an experiment (active first, then ``.trash``), None if absent."""
        if len(experiment_id) > MAX_FOLDER_NAME:  # no such folder; stat() would raise
            return None
        for parent in (self.root, self.trash):
            folder = parent / experiment_id
            if (folder / layout.META).is_file():
                return folder
        return None

    def experiment_dir_or_raise(self, experiment_id: str) -> Path:
        validate_experiment_id(experiment_id)
        folder = self.experiment_dir(experiment_id)
        if folder is None:
            raise NotFound(f"experiment {experiment_id!r} does not exist")
        return folder

    def active_experiment_dir(self, experiment_id: str, action: str) -> Path:
        folder = self.experiment_dir_or_raise(experiment_id)
        if folder.parent == self.trash:
            raise Conflict(f"cannot {action} deleted experiment {experiment_id!r}; restore it")
        return folder

    def experiment(self, experiment_id: str) -> Experiment:
        folder = self.experiment_dir_or_raise(experiment_id)
        experiment = folders.read_experiment(folder)
        if experiment is None:
            raise NotFound(f"experiment {experiment_id!r} has a malformed meta.yaml in {folder}")
        return experiment

    def all_experiments(self) -> Iterator[Experiment]:
        seen: set[str] = set()
        for parent in (self.root, self.trash):
            for experiment_id in folders.experiment_ids(parent):
                if experiment_id in seen:
                    continue
                experiment = folders.read_experiment(parent / experiment_id)
                if experiment is not None:
                    seen.add(experiment_id)
                    yield experiment

    def by_name(self, name: str) -> Experiment | None:
        for experiment in self.all_experiments():
            if experiment.name == name:
                return experiment
        return None

    def check_name_free(self, name: str) -> None:
        existing = self.by_name(name)
        if existing is None:
            return
        if existing.lifecycle_stage is LifecycleStage.DELETED:
            raise AlreadyExists(
                f"experiment {name!r} already exists in deleted state (id "
                f"{existing.experiment_id}); restore it, or remove it from the .trash folder"
            )
        raise AlreadyExists(f"experiment {name!r} already exists (id {existing.experiment_id})")

    def claim_experiment_id(self, wanted: str | None = None) -> str:
        """Create the folder of ``wanted`` when it is a free id, else of the next free
        integer id; ``mkdir`` makes the claim atomic."""
        if wanted is not None and folders.is_id(wanted) and not (self.trash / wanted).exists():
            try:
                (self.root / wanted).mkdir()
                return wanted
            except FileExistsError:
                pass
        taken = {int(name) for name in folders.experiment_ids(self.root)}
        taken |= {int(name) for name in folders.experiment_ids(self.trash)}
        taken |= {int(p.name) for p in self.root.iterdir() if folders.is_id(p.name)}
        candidate = max(taken, default=0) + 1
        while True:
            if not (self.trash / str(candidate)).exists():
                try:
                    (self.root / str(candidate)).mkdir()
                    return str(candidate)
                except FileExistsError:
                    pass
            candidate += 1

    def write_new_experiment(
        self,
        experiment_id: str,
        name: str,
        artifact_location: str | None,
        tags: Sequence[RunTag],
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> Experiment:
        folder = self.root / experiment_id
        folder.mkdir(parents=True, exist_ok=True)
        for tag in tags:
            layout.write_atomic(folder / layout.TAGS / tag.key, tag.value, temp_dir=folder)
        now = self.clock()
        created = creation_time if creation_time is not None else now
        experiment = Experiment(
            experiment_id=experiment_id,
            name=name,
            artifact_location=artifact_location or join_uri(self.artifact_root, experiment_id),
            lifecycle_stage=LifecycleStage.ACTIVE,
            creation_time=created,
            last_update_time=last_update_time if last_update_time is not None else created,
            tags={tag.key: tag.value for tag in tags},
        )
        # meta.yaml last: a folder without it is skipped by every reader.
        meta = layout.experiment_to_meta(experiment, with_tags=False)
        layout.write_atomic(folder / layout.META, layout.dump_yaml(meta))
        return experiment

    def rewrite_experiment(self, folder: Path, experiment: Experiment) -> None:
        meta = layout.experiment_to_meta(experiment, with_tags=True)
        layout.write_atomic(folder / layout.META, layout.dump_yaml(meta))

    def delete_experiment(self, experiment: Experiment) -> None:
        """Mark an active experiment and its runs deleted and move it to ``.trash``,
        in MLflow's order: runs first, then the experiment's meta, then the move."""
        experiment_id = experiment.experiment_id
        folder, target = self.root / experiment_id, self.trash / experiment_id
        folders.make_room(target, f"cannot delete experiment {experiment_id!r}")
        now = self.clock()
        self._set_runs_stage(folder, LifecycleStage.DELETED, deleted_time=now)
        deleted = replace(experiment, lifecycle_stage=LifecycleStage.DELETED, last_update_time=now)
        self.rewrite_experiment(folder, deleted)
        folder.rename(target)
        self._run_dirs.clear()

    def restore_experiment(self, experiment_id: str) -> None:
        """Move a deleted experiment back from ``.trash`` and restore its runs.

        Raises:
            NotFound: no deleted experiment of that id (or an active one has it).
        """
        folder = self.trash / experiment_id
        active = (self.root / experiment_id / layout.META).is_file()
        experiment = folders.read_experiment(folder) if folder.is_dir() and not active else None
        if experiment is None:
            raise NotFound(f"no deleted experiment {experiment_id!r}")
        target = self.root / experiment_id
        folders.make_room(target, f"cannot restore experiment {experiment_id!r}")
        folder.rename(target)
        self._run_dirs.clear()
        self._set_runs_stage(target, LifecycleStage.ACTIVE)
        restored = replace(
            experiment, lifecycle_stage=LifecycleStage.ACTIVE, last_update_time=self.clock()
        )
        self.rewrite_experiment(target, restored)

    def _set_runs_stage(
        self,
        folder: Path,
        stage: LifecycleStage,
        deleted_time: int | layout.Absent | None = layout.ABSENT,
    ) -> None:
        for run_dir, info in folders.run_infos(folder):
            if info.lifecycle_stage is not stage:
                self.write_run_meta(run_dir, replace(info, lifecycle_stage=stage), deleted_time)

    # -- runs ----------------------------------------------------------------------------

    def find_run_dir(self, run_id: str) -> Path:
        validate_run_id(run_id)
        cached = self._run_dirs.get(run_id)
        if cached is not None and (cached / layout.META).is_file():
            return cached
        for parent in (self.root, self.trash):
            for experiment_id in folders.experiment_ids(parent):
                run_dir = parent / experiment_id / run_id
                if (run_dir / layout.META).is_file():
                    self._run_dirs[run_id] = run_dir
                    return run_dir
        raise NotFound(f"run {run_id!r} does not exist")

    def run_info(self, run_id: str) -> tuple[Path, RunInfo]:
        run_dir = self.find_run_dir(run_id)
        info = folders.read_run_info(run_dir, run_dir.parent.name)
        if info is None:
            raise NotFound(f"run {run_id!r} has a malformed meta.yaml in {run_dir}")
        return run_dir, info

    def active_run(self, run_id: str) -> tuple[Path, RunInfo]:
        run_dir, info = self.run_info(run_id)
        if info.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"run {run_id!r} is deleted; restore it before writing to it")
        return run_dir, info

    def write_run_meta(
        self, run_dir: Path, info: RunInfo, deleted_time: int | layout.Absent | None = layout.ABSENT
    ) -> None:
        meta = layout.run_info_to_meta(info, deleted_time)
        layout.write_atomic(run_dir / layout.META, layout.dump_yaml(meta))

    def write_new_run(
        self,
        experiment_id: str,
        info: RunInfo,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
        deleted_time: int | layout.Absent | None,
        dataset_inputs: Sequence[DatasetInput] = (),
    ) -> Path:
        """Write a whole run; meta.yaml last so a crash leaves a folder readers skip."""
        run_dir = self.experiment_dir_or_raise(experiment_id) / info.run_id
        run_dir.mkdir()
        for sub in (layout.METRICS, layout.PARAMS, layout.ARTIFACTS, layout.TAGS):
            # MLflow only finds runs whose metrics/, params/ and artifacts/ folders exist.
            (run_dir / sub).mkdir()
        self.write_keys(run_dir, layout.PARAMS, [(p.key, p.value) for p in params])
        self.write_keys(run_dir, layout.TAGS, [(t.key, t.value) for t in tags])
        folders.append_metrics(run_dir, metrics)
        inputs.write_inputs(run_dir, info.run_id, dataset_inputs)
        self.write_run_meta(run_dir, info, deleted_time)
        self._run_dirs[info.run_id] = run_dir
        return run_dir

    @staticmethod
    def write_keys(run_dir: Path, kind: str, items: Sequence[tuple[str, str]]) -> None:
        """One file per key under ``run_dir/kind`` (params or tags), each replaced atomically."""
        for key, value in items:
            layout.write_atomic(run_dir / kind / key, value, run_dir)


__all__ = ["MAX_FOLDER_NAME", "MlrunsTree"]
