"""Copy tracking history from one store to another: ``kiln import`` / ``kiln export``.

``copy_history(source, dest)`` copies experiments (name, tags, lifecycle stage),
runs (id, name, user, status, start/end time, lifecycle stage), params, tags,
every metric point (value, timestamp, step; NaN and infinities included), dataset
inputs (datasets with their tags) and artifacts. It works between any two
``TrackingStore`` backends.

Run ids are kept when the destination implements ``HistoryImport``; otherwise
runs are re-created with ``create_run`` (new ids) and each carries the tag
``kiln.importedFrom`` with its source run id, which also makes re-imports skip it.

Idempotent: copying the same source again adds nothing (a run whose id, or whose
``kiln.importedFrom`` tag, is already in the destination is skipped; only its
missing artifact files are copied). An experiment whose name already exists in the
destination is merged into it.

The model registry and MLflow 3 logged models are copied by
``kiln.store.transfer.models`` with the id mappings this returns. Not copied:
traces, and a dataset stored in an experiment but linked to no run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from kiln.entities import (
    PARENT_RUN_ID_TAG,
    RUN_NAME_TAG,
    USER_TAG,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, InvalidUri, NotFound
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.history import HistoryImport
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.rules.tracking import MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH
from kiln.store.transfer.pages import all_items

IMPORTED_FROM_TAG = "kiln.importedFrom"
_PAGE = 1000
T = TypeVar("T")


StepKind = Literal["experiment", "run", "run_skipped", "artifacts", "artifacts_unreadable"]


@dataclass(frozen=True, slots=True)
class TransferStep:
    """One progress event; ``source_id``/``dest_id`` are experiment or run ids."""

    kind: StepKind
    source_id: str
    dest_id: str
    name: str = ""
    artifact_files: int = 0


@dataclass(slots=True)
class TransferReport:
    """What ``copy_history`` did.

    ``run_ids`` maps source run id -> destination run id (equal when ids were
    kept); ``experiment_ids`` the same for experiments. ``unreadable_artifacts``
    maps source run id -> an artifact URI no Kiln artifact store opens (e.g.
    ``mlflow-artifacts:/...`` of runs logged through an MLflow server); those runs'
    metadata is copied, their artifacts are not.
    """

    experiments_created: int = 0
    experiments_merged: int = 0
    runs_copied: int = 0
    runs_skipped: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    ids_kept: bool = True
    experiment_ids: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    unreadable_artifacts: dict[str, str] = field(default_factory=dict)


Progress = Callable[[TransferStep], None]


def copy_history(
    source: TrackingStore,
    dest: TrackingStore,
    *,
    experiment_ids: Sequence[str] | None = None,
    copy_artifacts: bool = True,
    progress: Progress | None = None,
    artifact_options: ArtifactOptions | None = None,
) -> TransferReport:
    """Copy experiments, runs, metric histories, params, tags and artifacts.

    Args:
        source: the store to read (it is not changed).
        dest: the store to write.
        experiment_ids: source experiments to copy (default: all, deleted included).
        copy_artifacts: also copy each run's artifact files.
        progress: called once per experiment, run and artifact copy.
        artifact_options: how to reach the artifact stores (the caller's settings).

    Returns:
        Counts and id mappings.

    Raises:
        NotFound: an id in ``experiment_ids`` is not in ``source``.
        KilnError: whatever a store raises; what was copied before stays copied,
            and running the copy again resumes it.
    """
    report = TransferReport(ids_kept=isinstance(dest, HistoryImport))
    notify: Progress = progress if progress is not None else _ignore
    for experiment in _source_experiments(source, experiment_ids):
        dest_experiment_id, delete_after = _copy_experiment(experiment, dest, report)
        notify(
            TransferStep(
                "experiment", experiment.experiment_id, dest_experiment_id, experiment.name
            )
        )
        runs = sorted(_all_runs(source, experiment.experiment_id), key=_parents_first)
        already = _imported_run_ids(dest, dest_experiment_id, report.ids_kept)
        for run in runs:
            _copy_run(
                source,
                dest,
                run,
                dest_experiment_id,
                already,
                _Files(artifact_options) if copy_artifacts else None,
                report,
                notify,
            )
        if delete_after:
            dest.delete_experiment(dest_experiment_id)
    return report


def _ignore(_step: TransferStep) -> None:
    return None


def _source_experiments(
    source: TrackingStore, experiment_ids: Sequence[str] | None
) -> list[Experiment]:
    if experiment_ids is not None:
        return [source.get_experiment(experiment_id) for experiment_id in experiment_ids]
    found = all_items(
        lambda token: source.search_experiments(
            view_type=ViewType.ALL, max_results=_PAGE, page_token=token
        )
    )
    # Oldest first, so destination ids follow the source's creation order.
    return sorted(found, key=lambda e: (e.creation_time or 0, _id_key(e.experiment_id)))


def _id_key(experiment_id: str) -> tuple[int, str]:
    return (int(experiment_id), "") if experiment_id.isdecimal() else (0, experiment_id)


def _all_runs(store: TrackingStore, experiment_id: str) -> Iterator[Run]:
    return all_items(
        lambda token: store.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token
        )
    )


def _parents_first(run: Run) -> tuple[int, int, str]:
    """Runs without a parent tag first, then by start time, so parent ids can be mapped."""
    return (1 if PARENT_RUN_ID_TAG in run.data.tags else 0, run.info.start_time, run.info.run_id)


def _copy_experiment(
    experiment: Experiment, dest: TrackingStore, report: TransferReport
) -> tuple[str, bool]:
    """Find or create the destination experiment; return its id and whether to delete it
    once the runs are in (the plain API cannot create runs in a deleted experiment)."""
    existing = dest.get_experiment_by_name(experiment.name)
    if existing is not None:
        report.experiments_merged += 1
        dest_id = existing.experiment_id
        if existing.lifecycle_stage is LifecycleStage.ACTIVE:
            for key, value in experiment.tags.items():
                if key not in existing.tags:  # merge: the destination's own tags win
                    dest.set_experiment_tag(dest_id, RunTag(key, value))
        report.experiment_ids[experiment.experiment_id] = dest_id
        if existing.lifecycle_stage is LifecycleStage.DELETED and not report.ids_kept:
            dest.restore_experiment(dest_id)
            return dest_id, True
        return dest_id, False
    report.experiments_created += 1
    if isinstance(dest, HistoryImport):
        dest_id = dest.import_experiment(experiment)
        report.experiment_ids[experiment.experiment_id] = dest_id
        return dest_id, False
    tags = [RunTag(k, v) for k, v in experiment.tags.items()]
    dest_id = dest.create_experiment(experiment.name, tags=tags)
    report.experiment_ids[experiment.experiment_id] = dest_id
    return dest_id, experiment.lifecycle_stage is LifecycleStage.DELETED


def _imported_run_ids(dest: TrackingStore, experiment_id: str, ids_kept: bool) -> dict[str, str]:
    """Source run id -> dest run id of runs an earlier copy left in this experiment."""
    if ids_kept:
        return {}
    found: dict[str, str] = {}
    for run in _all_runs(dest, experiment_id):
        origin = run.data.tags.get(IMPORTED_FROM_TAG)
        if origin:
            found[origin] = run.info.run_id
    return found


def _existing_run(dest: TrackingStore, run_id: str) -> Run | None:
    try:
        return dest.get_run(run_id)
    except NotFound:
        return None


def _copy_run(
    source: TrackingStore,
    dest: TrackingStore,
    run: Run,
    dest_experiment_id: str,
    already: dict[str, str],
    files: _Files | None,
    report: TransferReport,
    notify: Progress,
) -> None:
    source_id = run.info.run_id
    existing: Run | None
    if isinstance(dest, HistoryImport):
        existing = _existing_run(dest, source_id)
    else:
        dest_id = already.get(source_id)
        existing = dest.get_run(dest_id) if dest_id is not None else None
    if existing is not None:
        report.runs_skipped += 1
        report.run_ids[source_id] = existing.info.run_id
        notify(TransferStep("run_skipped", source_id, existing.info.run_id, run.info.run_name))
        if files is not None:
            files.copy(run.info, existing.info, report, notify)
        return
    history = _metric_history(source, run)
    if isinstance(dest, HistoryImport):
        try:
            info = dest.import_run(run, dest_experiment_id, history)
        except AlreadyExists:
            # Created concurrently, or lives in another experiment of the destination.
            report.runs_skipped += 1
            report.run_ids[source_id] = source_id
            return
    else:
        info = _recreate_run(dest, run, dest_experiment_id, history, report.run_ids)
    report.runs_copied += 1
    report.params += len(run.data.params)
    report.tags += len(run.data.tags)
    report.metric_points += len(history)
    report.run_ids[source_id] = info.run_id
    notify(TransferStep("run", source_id, info.run_id, run.info.run_name))
    if files is not None:
        files.copy(run.info, info, report, notify)


def _metric_history(source: TrackingStore, run: Run) -> list[Metric]:
    points: list[Metric] = []
    for key in sorted(run.data.metrics):
        points.extend(source.get_metric_history(run.info.run_id, key))
    return points


def _recreate_run(
    dest: TrackingStore,
    run: Run,
    experiment_id: str,
    history: Sequence[Metric],
    run_ids: dict[str, str],
) -> RunInfo:
    """Re-create a run through the plain TrackingStore API (it gets a new id)."""
    info = run.info
    tags = [RunTag(k, v) for k, v in run.data.tags.items() if k != RUN_NAME_TAG]
    tags = [_map_parent(tag, run_ids) for tag in tags]
    tags.append(RunTag(IMPORTED_FROM_TAG, info.run_id))
    created = dest.create_run(
        experiment_id,
        user_id=info.user_id,
        start_time=info.start_time,
        tags=tags[:MAX_PARAMS_TAGS_PER_BATCH],
        run_name=info.run_name or None,
    )
    run_id = created.info.run_id
    if USER_TAG in created.data.tags and USER_TAG not in run.data.tags:
        dest.delete_tag(run_id, USER_TAG)  # create_run adds it from user_id; the source had none
    params = [Param(k, v) for k, v in run.data.params.items()]
    for chunk in _chunks(params, MAX_PARAMS_TAGS_PER_BATCH):
        dest.log_batch(run_id, params=chunk)
    for tag_chunk in _chunks(tags[MAX_PARAMS_TAGS_PER_BATCH:], MAX_PARAMS_TAGS_PER_BATCH):
        dest.log_batch(run_id, tags=tag_chunk)
    for metric_chunk in _chunks(list(history), MAX_METRICS_PER_BATCH):
        dest.log_batch(run_id, metrics=metric_chunk)
    if run.inputs.dataset_inputs:
        dest.log_inputs(run_id, run.inputs.dataset_inputs)
    updated = dest.update_run_info(run_id, status=info.status, end_time=info.end_time)
    if info.lifecycle_stage is LifecycleStage.DELETED:
        dest.delete_run(run_id)
    return updated


def _map_parent(tag: RunTag, run_ids: dict[str, str]) -> RunTag:
    if tag.key == PARENT_RUN_ID_TAG and tag.value in run_ids:
        return RunTag(tag.key, run_ids[tag.value])
    return tag


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# -- artifacts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Files:
    """Copies runs' artifact files, reaching the stores as ``options`` say."""

    options: ArtifactOptions | None

    def copy(
        self, source_info: RunInfo, dest_info: RunInfo, report: TransferReport, notify: Progress
    ) -> None:
        """Copy every artifact file the destination run does not have yet (same path and size)."""
        copied = copy_tree(source_info.artifact_uri, dest_info.artifact_uri, report, self.options)
        if copied is None:
            report.unreadable_artifacts[source_info.run_id] = source_info.artifact_uri
            notify(TransferStep("artifacts_unreadable", source_info.run_id, dest_info.run_id))
        elif copied:
            notify(
                TransferStep(
                    "artifacts", source_info.run_id, dest_info.run_id, artifact_files=copied
                )
            )


def copy_tree(
    source_uri: str,
    dest_uri: str,
    report: TransferReport,
    options: ArtifactOptions | None = None,
) -> int | None:
    """Copy the files under ``source_uri`` that ``dest_uri`` lacks (same path and size).

    ``options`` reach the artifact stores (the caller's settings: an S3 endpoint).
    Returns the number of files copied (counted in ``report`` too), or None when no
    Kiln artifact store opens ``source_uri`` (``mlflow-artifacts:/`` of another server).
    """
    if not source_uri or not dest_uri or source_uri.rstrip("/") == dest_uri.rstrip("/"):
        return 0
    try:
        source_store = open_artifact_store(source_uri, options=options)
    except InvalidUri:
        return None
    dest_store = open_artifact_store(dest_uri, options=options)
    present = {info.path: info.file_size for info in _walk(dest_store, None)}
    copied = 0
    for info in _walk(source_store, None):
        if info.path in present and present[info.path] == info.file_size:
            continue
        with source_store.open_read(info.path) as stream:
            report.artifact_bytes += dest_store.write_stream(info.path, stream)
        copied += 1
    report.artifact_files += copied
    return copied


def _walk(store: ArtifactStore, path: str | None) -> Iterator[FileInfo]:
    for info in store.list_artifacts(path):
        if info.is_dir:
            yield from _walk(store, info.path)
        else:
            yield info


__all__ = [
    "IMPORTED_FROM_TAG",
    "TransferReport",
    "TransferStep",
    "copy_history",
    "copy_tree",
]
