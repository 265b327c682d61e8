"""copy_history between real stores: kept ids, the create_run fallback, idempotency."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from kiln.entities import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import NotFound
from kiln.store.file.tracking import FileTrackingStore, open_file_store
from kiln.store.open import open_artifact_store
from kiln.store.protocols.history import HistoryImport
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.transfer.history import IMPORTED_FROM_TAG, TransferStep, copy_history


class PlainStore:
    """A real file store seen only through the TrackingStore Protocol (no HistoryImport)."""

    def __init__(self, inner: FileTrackingStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        if name.startswith("import_"):
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.fixture
def source(tmp_path: Path) -> FileTrackingStore:
    store = open_file_store((tmp_path / "src").as_uri(), workspace="default")
    experiment_id = store.create_experiment("exp", tags=[RunTag("team", "a")])
    parent = store.create_run(experiment_id, user_id="ann", start_time=100, run_name="parent")
    store.log_batch(
        parent.run_id,
        metrics=[
            Metric("loss", 1.0, 1, 0),
            Metric("loss", float("nan"), 2, 1),
            Metric("loss", float("-inf"), 3, 1),
            Metric("acc/top1", 0.5, 4, 7),
        ],
        params=[Param("alpha", "0.1"), Param("nested/p", "x")],
        tags=[RunTag("note", "line1\nline2")],
    )
    store.update_run_info(parent.run_id, status=RunStatus.FINISHED, end_time=200)
    child = store.create_run(
        experiment_id,
        start_time=150,
        tags=[RunTag("mlflow.parentRunId", parent.run_id)],
        run_name="child",
    )
    store.update_run_info(child.run_id, status=RunStatus.FAILED, end_time=160)
    wine = Dataset("wine", "a1b2c3d4", "local", '{"uri": "/d/wine.csv"}', '{"s": 1}', "{}")
    store.log_inputs(parent.run_id, [DatasetInput(wine, (InputTag(DATASET_CONTEXT_TAG, "train"),))])
    gone = store.create_run(experiment_id, start_time=170, run_name="gone")
    store.log_inputs(gone.run_id, [DatasetInput(wine)])
    store.delete_run(gone.run_id)
    artifacts = open_artifact_store(parent.info.artifact_uri)
    artifacts.write_stream("model.txt", io.BytesIO(b"weights"))
    artifacts.write_stream("plots/a/b.png", io.BytesIO(b"png-bytes"))
    deleted_experiment = store.create_experiment("old")
    store.create_run(deleted_experiment, start_time=50, run_name="in-old")
    store.delete_experiment(deleted_experiment)
    return store


def _snapshot(store: TrackingStore) -> dict[tuple[str, str], object]:
    """Everything copy_history promises to copy, keyed by (experiment name, run name)."""
    out: dict[tuple[str, str], object] = {}
    experiments = store.search_experiments(view_type=ViewType.ALL)
    for experiment in experiments:
        out[(experiment.name, "")] = (experiment.lifecycle_stage, experiment.tags)
        for run in store.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL):
            info = run.info
            history = {
                key: [
                    (m.timestamp, m.step, "nan" if math.isnan(m.value) else m.value)
                    for m in store.get_metric_history(info.run_id, key)
                ]
                for key in run.data.metrics
            }
            tags = {k: v for k, v in run.data.tags.items() if k != IMPORTED_FROM_TAG}
            tags.pop("mlflow.parentRunId", None)
            out[(experiment.name, info.run_name)] = (
                info.user_id,
                info.status,
                info.start_time,
                info.end_time,
                info.lifecycle_stage,
                run.data.params,
                tags,
                history,
                run.inputs,
            )
    return out


def _artifact_bytes(artifact_uri: str, path: str) -> bytes:
    with open_artifact_store(artifact_uri).open_read(path) as stream:
        return stream.read()


def test_copy_keeps_ids_and_every_field(source: FileTrackingStore, tmp_path: Path) -> None:
    dest = open_file_store((tmp_path / "dst").as_uri(), workspace="default")
    steps: list[TransferStep] = []
    report = copy_history(source, dest, progress=steps.append)

    assert report.ids_kept
    assert _snapshot(dest) == _snapshot(source)
    assert all(src == dst for src, dst in report.run_ids.items())
    assert (report.runs_copied, report.runs_skipped) == (4, 0)
    assert report.metric_points == 4
    assert (report.artifact_files, report.artifact_bytes) == (2, len(b"weights") + 9)
    assert {step.kind for step in steps} == {"experiment", "run", "artifacts"}

    parent = next(r for r in source.search_runs(["1"]) if r.info.run_name == "parent")
    copied = dest.get_run(parent.run_id)
    assert copied.info.artifact_uri.startswith(dest.default_artifact_root)
    assert _artifact_bytes(copied.info.artifact_uri, "plots/a/b.png") == b"png-bytes"
    old = dest.get_experiment_by_name("old")
    assert old is not None
    assert old.lifecycle_stage is LifecycleStage.DELETED


def test_copying_twice_adds_nothing_and_heals_missing_artifacts(
    source: FileTrackingStore, tmp_path: Path
) -> None:
    dest = open_file_store((tmp_path / "dst").as_uri(), workspace="default")
    copy_history(source, dest)
    parent = next(r for r in source.search_runs(["1"]) if r.info.run_name == "parent")
    open_artifact_store(dest.get_run(parent.run_id).info.artifact_uri).delete_artifacts("model.txt")
    before = _snapshot(dest)

    again = copy_history(source, dest)
    assert (again.runs_copied, again.runs_skipped, again.experiments_created) == (0, 4, 0)
    assert again.experiments_merged == 3
    assert again.artifact_files == 1
    assert _snapshot(dest) == before
    assert _artifact_bytes(dest.get_run(parent.run_id).info.artifact_uri, "model.txt") == (
        b"weights"
    )


def test_fallback_without_history_import_maps_ids(
    source: FileTrackingStore, tmp_path: Path
) -> None:
    dest = PlainStore(open_file_store((tmp_path / "dst").as_uri(), workspace="default"))
    assert isinstance(dest, TrackingStore)
    assert not isinstance(dest, HistoryImport)
    report = copy_history(source, dest)

    assert not report.ids_kept
    assert _snapshot(dest) == _snapshot(source)
    for source_id, dest_id in report.run_ids.items():
        assert source_id != dest_id
        assert dest.get_run(dest_id).data.tags[IMPORTED_FROM_TAG] == source_id
    experiment = dest.get_experiment_by_name("exp")
    assert experiment is not None
    runs = {r.info.run_name: r for r in dest.search_runs([experiment.experiment_id])}
    assert runs["child"].data.tags["mlflow.parentRunId"] == runs["parent"].run_id
    old = dest.get_experiment_by_name("old")
    assert old is not None
    assert old.lifecycle_stage is LifecycleStage.DELETED

    again = copy_history(source, dest)
    assert (again.runs_copied, again.runs_skipped) == (0, 4)
    assert _snapshot(dest) == _snapshot(source)


def test_existing_experiment_names_are_merged(source: FileTrackingStore, tmp_path: Path) -> None:
    dest = open_file_store((tmp_path / "dst").as_uri(), workspace="default")
    mine = dest.create_experiment("exp", tags=[RunTag("team", "mine")])
    own_run = dest.create_run(mine, run_name="already-here")
    report = copy_history(source, dest, experiment_ids=["1"], copy_artifacts=False)

    assert report.experiment_ids == {"1": mine}
    assert report.experiments_merged == 1
    names = {r.info.run_name for r in dest.search_runs([mine], run_view_type=ViewType.ALL)}
    assert names == {"already-here", "parent", "child", "gone"}
    assert dest.get_experiment(mine).tags == {"team": "mine"}  # the destination's tags win
    assert dest.get_run(own_run.run_id).info.run_name == "already-here"
    assert report.artifact_files == 0
    assert dest.get_experiment_by_name("old") is None


def test_unknown_source_experiment(source: FileTrackingStore, tmp_path: Path) -> None:
    dest = open_file_store((tmp_path / "dst").as_uri(), workspace="default")
    with pytest.raises(NotFound, match="'42'"):
        copy_history(source, dest, experiment_ids=["42"])


def test_artifact_uris_no_store_opens_are_reported_not_fatal(tmp_path: Path) -> None:
    source = open_file_store((tmp_path / "src").as_uri(), workspace="default")
    served = source.create_experiment("served", artifact_location="mlflow-artifacts:/served")
    run = source.create_run(served, run_name="r")
    source.log_param(run.run_id, Param("p", "1"))
    dest = open_file_store((tmp_path / "dst").as_uri(), workspace="default")
    steps: list[TransferStep] = []
    report = copy_history(source, dest, progress=steps.append)
    assert report.unreadable_artifacts == {
        run.run_id: f"mlflow-artifacts:/served/{run.run_id}/artifacts"
    }
    assert dest.get_run(run.run_id).data.params == {"p": "1"}
    assert [s.source_id for s in steps if s.kind == "artifacts_unreadable"] == [run.run_id]
