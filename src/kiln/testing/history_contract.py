"""The contract of the optional ``HistoryImport`` capability (``kiln.store.transfer.history``).

A backend's test module subclasses ``HistoryImportContract`` and provides a fixture
``store`` returning a fresh, empty destination store::

    class TestMemoryHistoryImport(HistoryImportContract):
        @pytest.fixture
        def store(self) -> TrackingStore:
            return open_memory_store("memory://")

Every test is skipped when the store does not implement ``HistoryImport``. The
history copied comes from the ``history_source`` fixture: by default a file store
(mlruns folder under ``tmp_path``) filled by ``fill_history``; override it to copy
from another backend. The tests use only the Protocols and never sleep.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from kiln.entities import (
    DATASET_CONTEXT_TAG,
    DEFAULT_EXPERIMENT_NAME,
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.file.tracking import open_file_store
from kiln.store.protocols.history import HistoryImport
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.transfer.history import copy_history

_T0 = 1_700_000_000_000
PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True, slots=True)
class FilledHistory:
    """What ``fill_history`` logged: names and ids the tests look up."""

    experiment_names: tuple[str, ...]
    run_ids: tuple[str, ...]
    parent_run_id: str
    child_run_id: str
    deleted_run_id: str
    deleted_experiment_name: str


def fill_history(store: TrackingStore) -> FilledHistory:
    """Log a history with the awkward cases a copy must keep.

    Two live experiments with tags, a deleted experiment holding a finished run, a
    parent run with a nested child and grandchild, a deleted run, metric points that
    are NaN and +/-inf, a point logged twice at the same step and time, params and
    tags with nested keys and multi-line values, runs in every status, dataset
    inputs (one dataset shared by runs, one in the deleted experiment).
    """
    vision = store.create_experiment("vision", tags=[RunTag("team", "cv"), RunTag("a/b", "x")])
    text = store.create_experiment("text")
    parent = store.create_run(vision, user_id="ann", start_time=_T0, run_name="parent")
    store.log_batch(
        parent.info.run_id,
        metrics=[
            Metric("loss", 1.0, _T0 + 1, 0),
            Metric("loss", 0.5, _T0 + 2, 1),
            Metric("loss", 0.5, _T0 + 2, 1),  # duplicated point
            Metric("loss", float("nan"), _T0 + 3, 2),
            Metric("loss", float("inf"), _T0 + 4, 3),
            Metric("loss", float("-inf"), _T0 + 5, 3),
            Metric("acc/top1", 0.25, _T0 + 6, -1),
        ],
        params=[Param("lr", "0.01"), Param("model/depth", "12"), Param("empty", "")],
        tags=[RunTag("note", "line one\nline two"), RunTag("x:y", "z")],
    )
    wine = Dataset("wine", "a1b2c3d4", "local", '{"uri": "/d/wine.csv"}', '{"x": 1}', "{}")
    store.log_inputs(
        parent.info.run_id,
        [
            DatasetInput(wine, (InputTag(DATASET_CONTEXT_TAG, "training"), InputTag("k", "v"))),
            DatasetInput(Dataset("raw", "ff", "s3", '{"uri": "s3://b/raw"}')),
        ],
    )
    store.update_run_info(parent.info.run_id, status=RunStatus.FINISHED, end_time=_T0 + 100)
    child = store.create_run(
        vision,
        user_id="bob",
        start_time=_T0 + 10,
        run_name="child",
        tags=[RunTag(PARENT_TAG, parent.info.run_id)],
    )
    store.log_batch(child.info.run_id, metrics=[Metric("loss", 2.0, _T0 + 11, 0)])
    store.update_run_info(child.info.run_id, status=RunStatus.FAILED, end_time=_T0 + 20)
    grandchild = store.create_run(
        vision,
        start_time=_T0 + 12,
        run_name="grandchild",
        tags=[RunTag(PARENT_TAG, child.info.run_id)],
    )
    store.update_run_info(grandchild.info.run_id, status=RunStatus.KILLED)
    deleted = store.create_run(vision, user_id="ann", start_time=_T0 + 30, run_name="gone")
    store.log_batch(deleted.info.run_id, params=[Param("p", "1")])
    store.log_inputs(deleted.info.run_id, [DatasetInput(wine)])
    store.delete_run(deleted.info.run_id)
    running = store.create_run(text, user_id="cy", start_time=_T0 + 40, run_name="running")
    store.log_batch(running.info.run_id, metrics=[Metric("bleu", 0.3, _T0 + 41, 5)])
    old = store.create_experiment("old", tags=[RunTag("why", "retired")])
    archived = store.create_run(old, user_id="dee", start_time=_T0 - 100, run_name="archived")
    store.log_batch(archived.info.run_id, metrics=[Metric("m", -1.5, _T0 - 99, 0)])
    store.log_inputs(archived.info.run_id, [DatasetInput(wine, (InputTag("k", "old"),))])
    store.update_run_info(archived.info.run_id, status=RunStatus.FINISHED, end_time=_T0 - 50)
    store.delete_experiment(old)
    run_ids = (
        parent.info.run_id,
        child.info.run_id,
        grandchild.info.run_id,
        deleted.info.run_id,
        running.info.run_id,
        archived.info.run_id,
    )
    return FilledHistory(
        experiment_names=("vision", "text", "old"),
        run_ids=run_ids,
        parent_run_id=parent.info.run_id,
        child_run_id=child.info.run_id,
        deleted_run_id=deleted.info.run_id,
        deleted_experiment_name="old",
    )


def _pages_of_runs(store: TrackingStore, experiment_id: str) -> Iterator[Run]:
    token: str | None = None
    while True:
        page = store.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token
        )
        yield from page.items
        token = page.next_page_token
        if not token:
            return


def _all_experiments(store: TrackingStore) -> list[Experiment]:
    out: list[Experiment] = []
    token: str | None = None
    while True:
        page = store.search_experiments(view_type=ViewType.ALL, page_token=token)
        out.extend(page.items)
        token = page.next_page_token
        if not token:
            return out


def _point(metric: Metric) -> tuple[str, str, int, int]:
    """A comparable form of a point; ``repr`` tells nan, inf and -inf apart."""
    return (metric.key, repr(float(metric.value)), metric.timestamp, metric.step)


def history_of(store: TrackingStore, run: Run) -> list[tuple[str, str, int, int]]:
    """Every stored point of every metric of ``run``, in a backend-independent order."""
    points = [
        _point(metric)
        for key in run.data.metrics
        for metric in store.get_metric_history(run.info.run_id, key)
    ]
    return sorted(points)


def run_fields(store: TrackingStore, run: Run) -> dict[str, object]:
    """Everything a history import keeps of a run (not its experiment id or artifact URI)."""
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "params": run.data.params,
        "tags": run.data.tags,
        "latest": sorted(_point(m) for m in run.data.metric_objects.values()),
        "history": history_of(store, run),
        "inputs": run.inputs,
    }


def snapshot(store: TrackingStore) -> dict[str, object]:
    """Experiments (by name, Default left out) and their runs' ``run_fields``."""
    out: dict[str, object] = {}
    for experiment in _all_experiments(store):
        if experiment.name == DEFAULT_EXPERIMENT_NAME:
            continue
        runs = {
            run.info.run_id: run_fields(store, run)
            for run in _pages_of_runs(store, experiment.experiment_id)
        }
        out[experiment.name] = (
            experiment.lifecycle_stage,
            experiment.tags,
            experiment.creation_time,
            experiment.last_update_time,
            runs,
        )
    return out


def _plain_run(run_id: str, **info_fields: object) -> Run:
    info = RunInfo(
        run_id=run_id,
        experiment_id="0",
        run_name="imported",
        user_id="ann",
        status=RunStatus.FINISHED,
        start_time=_T0,
        end_time=_T0 + 5,
        artifact_uri="file:///elsewhere/0/" + run_id + "/artifacts",
    )
    info = replace(info, **info_fields)  # type: ignore[arg-type]
    data = RunData(params={"lr": "0.1"}, tags={"mlflow.runName": "imported", "k": "v"})
    return Run(info=info, data=data)


_GOOD_POINTS = (Metric("loss", 1.0, _T0, 0), Metric("loss", float("nan"), _T0 + 1, 1))


class HistoryImportContract:
    """Subclass in a backend's test module and define the ``store`` fixture."""

    @pytest.fixture
    def history_source(self, tmp_path: Path) -> TrackingStore:
        """The store the history is copied from (override to use another backend)."""
        return open_file_store((tmp_path / "history-source").as_uri())

    @pytest.fixture
    def importer(self, store: TrackingStore) -> HistoryImport:
        if not isinstance(store, HistoryImport):
            pytest.skip(f"{type(store).__name__} does not implement HistoryImport")
        return store

    @pytest.fixture
    def experiment_id(self, importer: HistoryImport, store: TrackingStore) -> str:
        return store.create_experiment("import-target")

    # copy_history ---------------------------------------------------------------------
    def test_copy_keeps_every_field(
        self, importer: HistoryImport, store: TrackingStore, history_source: TrackingStore
    ) -> None:
        filled = fill_history(history_source)
        report = copy_history(history_source, store, copy_artifacts=False)

        assert report.ids_kept
        assert snapshot(store) == snapshot(history_source)
        assert report.runs_copied == len(filled.run_ids)
        assert report.runs_skipped == 0
        assert report.run_ids == {run_id: run_id for run_id in filled.run_ids}
        child = store.get_run(filled.child_run_id)
        assert child.data.tags[PARENT_TAG] == filled.parent_run_id
        assert store.get_run(filled.deleted_run_id).info.lifecycle_stage is LifecycleStage.DELETED
        parent = store.get_run(filled.parent_run_id)
        nan_points = [m for m in store.get_metric_history(parent.info.run_id, "loss")]
        assert sum(math.isnan(m.value) for m in nan_points) == 1
        assert sum(math.isinf(m.value) for m in nan_points) == 2
        assert len(nan_points) == 5  # the point logged twice is stored once

    def test_copied_runs_live_under_the_destination(
        self, importer: HistoryImport, store: TrackingStore, history_source: TrackingStore
    ) -> None:
        filled = fill_history(history_source)
        report = copy_history(history_source, store, copy_artifacts=False)

        for run_id in filled.run_ids:
            info = store.get_run(run_id).info
            experiment = store.get_experiment(info.experiment_id)
            source_experiment_id = history_source.get_run(run_id).info.experiment_id
            assert report.experiment_ids[source_experiment_id] == info.experiment_id
            assert info.artifact_uri == "/".join(
                [experiment.artifact_location.rstrip("/"), run_id, "artifacts"]
            )
        old = store.get_experiment_by_name(filled.deleted_experiment_name)
        assert old is not None
        assert old.lifecycle_stage is LifecycleStage.DELETED
        assert store.search_runs([old.experiment_id]).items == []

    def test_second_copy_adds_nothing(
        self, importer: HistoryImport, store: TrackingStore, history_source: TrackingStore
    ) -> None:
        filled = fill_history(history_source)
        copy_history(history_source, store, copy_artifacts=False)
        before = snapshot(store)
        experiments_before = len(_all_experiments(store))

        again = copy_history(history_source, store, copy_artifacts=False)

        assert (again.runs_copied, again.runs_skipped) == (0, len(filled.run_ids))
        assert again.experiments_created == 0
        assert len(_all_experiments(store)) == experiments_before
        assert snapshot(store) == before

    # import_run -------------------------------------------------------------------------
    def test_import_run_keeps_info_and_ignores_run_data_metrics(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        run = _plain_run("a" * 32, status=RunStatus.KILLED, end_time=None, user_id="")
        stale = Metric("stale", 9.0, _T0, 0)
        data = RunData(metrics=[stale], params=run.data.params, tags=run.data.tags)
        run = Run(info=run.info, data=data)

        info = importer.import_run(run, experiment_id, _GOOD_POINTS)

        stored = store.get_run("a" * 32)
        assert stored.info == info
        assert (info.experiment_id, info.status, info.end_time, info.user_id) == (
            experiment_id,
            RunStatus.KILLED,
            None,
            "",
        )
        assert stored.data.params == {"lr": "0.1"}
        assert stored.data.tags == {"mlflow.runName": "imported", "k": "v"}
        assert set(stored.data.metrics) == {"loss"}
        assert [_point(m) for m in store.get_metric_history(info.run_id, "loss")] == [
            _point(m) for m in _GOOD_POINTS
        ]

    def test_run_id_collision_raises_already_exists(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        importer.import_run(_plain_run("b" * 32), experiment_id, _GOOD_POINTS)
        before = run_fields(store, store.get_run("b" * 32))
        other = _plain_run("b" * 32, run_name="other", user_id="eve")

        with pytest.raises(AlreadyExists, match="b" * 32):
            importer.import_run(other, experiment_id, (Metric("acc", 1.0, _T0, 0),))

        assert run_fields(store, store.get_run("b" * 32)) == before

    def test_collision_with_a_live_run_raises_already_exists(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        live = store.create_run(experiment_id, start_time=_T0)

        with pytest.raises(AlreadyExists, match=live.info.run_id):
            importer.import_run(_plain_run(live.info.run_id), experiment_id)

    def test_unknown_experiment_raises_not_found(
        self, importer: HistoryImport, store: TrackingStore
    ) -> None:
        with pytest.raises(NotFound, match="987654321"):
            importer.import_run(_plain_run("c" * 32), "987654321", _GOOD_POINTS)

        with pytest.raises(NotFound, match="c" * 32):
            store.get_run("c" * 32)

    @pytest.mark.parametrize(
        ("where", "bad"),
        [
            ("metric", Metric("../escape", 1.0, _T0, 0)),
            ("metric", Metric("bad*key", 1.0, _T0, 0)),
            ("param", Param("bad*key", "1")),
            ("tag", RunTag("", "1")),
        ],
    )
    def test_bad_key_rolls_back_the_whole_run(
        self,
        importer: HistoryImport,
        store: TrackingStore,
        experiment_id: str,
        where: str,
        bad: Metric | Param | RunTag,
    ) -> None:
        good = _plain_run("d" * 32)
        points = list(_GOOD_POINTS)
        data = good.data
        if isinstance(bad, Metric):
            points.append(bad)
        elif isinstance(bad, Param):
            data = RunData(params={**data.params, bad.key: bad.value}, tags=data.tags)
        else:
            data = RunData(params=data.params, tags={**data.tags, bad.key: bad.value})
        broken = Run(info=good.info, data=data)

        with pytest.raises(InvalidInput, match=f"{where}"):
            importer.import_run(broken, experiment_id, points)

        with pytest.raises(NotFound, match="d" * 32):
            store.get_run("d" * 32)
        assert store.search_runs([experiment_id], run_view_type=ViewType.ALL).items == []
        # The id was not burned: the good run imports afterwards.
        importer.import_run(good, experiment_id, _GOOD_POINTS)
        assert len(store.get_metric_history("d" * 32, "loss")) == len(_GOOD_POINTS)

    def test_run_in_deleted_experiment_is_stored_deleted(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        store.delete_experiment(experiment_id)

        info = importer.import_run(_plain_run("e" * 32), experiment_id)

        assert info.lifecycle_stage is LifecycleStage.DELETED
        assert store.get_run("e" * 32).info.lifecycle_stage is LifecycleStage.DELETED

    # import_experiment ------------------------------------------------------------------
    def test_import_experiment_keeps_name_tags_stage_and_times(
        self, importer: HistoryImport, store: TrackingStore
    ) -> None:
        source = Experiment(
            experiment_id="42",
            name="imported",
            artifact_location="file:///elsewhere/42",
            lifecycle_stage=LifecycleStage.DELETED,
            creation_time=_T0,
            last_update_time=_T0 + 7,
            tags={"team": "cv"},
        )

        experiment_id = importer.import_experiment(source)

        stored = store.get_experiment(experiment_id)
        assert (stored.name, stored.tags, stored.lifecycle_stage) == (
            "imported",
            {"team": "cv"},
            LifecycleStage.DELETED,
        )
        assert (stored.creation_time, stored.last_update_time) == (_T0, _T0 + 7)
        assert stored.artifact_location != source.artifact_location

    def test_import_experiment_name_taken_raises_already_exists(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        taken = store.get_experiment(experiment_id)

        with pytest.raises(AlreadyExists, match="import-target"):
            importer.import_experiment(replace(taken, experiment_id="77"))


__all__ = [
    "FilledHistory",
    "HistoryImportContract",
    "fill_history",
    "history_of",
    "run_fields",
    "snapshot",
]
