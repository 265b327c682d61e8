"""The contract of the optional ``HistoryImport`` capability (``kiln.store.protocols.history``).

A backend with ``Capability.HISTORY_IMPORT`` subclasses ``HistoryImportContract`` in
its test module and provides a fixture ``store`` returning a fresh, empty
destination store::

    class TestMemoryHistoryImport(HistoryImportContract):
        @pytest.fixture
        def store(self) -> TrackingStore:
            return open_memory_store("memory://", workspace="default")

(A backend that lacks it declares so in its ``TrackingStoreContract`` class, whose
``test_kiln_import_keeps_run_ids_as_declared`` checks the fallback.) The history
copied comes from the ``history_source`` fixture: by default a file store (mlruns
folder under ``tmp_path``) filled by ``fill_history``; override it to copy from
another backend. The tests use only the Protocols and never sleep.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from kiln.entities import (
    DEFAULT_WORKSPACE,
    Experiment,
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
from kiln.testing.contracts.history_data import (
    PARENT_TAG,
    all_experiments,
    fill_history,
    point,
    run_fields,
    snapshot,
)
from kiln.testing.contracts.support import T0


def _plain_run(run_id: str, **info_fields: object) -> Run:
    info = RunInfo(
        run_id=run_id,
        experiment_id="0",
        run_name="imported",
        user_id="ann",
        status=RunStatus.FINISHED,
        start_time=T0,
        end_time=T0 + 5,
        artifact_uri="file:///elsewhere/0/" + run_id + "/artifacts",
    )
    info = replace(info, **info_fields)  # type: ignore[arg-type]
    data = RunData(params={"lr": "0.1"}, tags={"mlflow.runName": "imported", "k": "v"})
    return Run(info=info, data=data)


_GOOD_POINTS = (Metric("loss", 1.0, T0, 0), Metric("loss", float("nan"), T0 + 1, 1))


class HistoryImportContract:
    """Subclass in a backend's test module and define the ``store`` fixture."""

    @pytest.fixture
    def history_source(self, tmp_path: Path) -> TrackingStore:
        """The store the history is copied from (override to use another backend)."""
        uri = (tmp_path / "history-source").as_uri()
        return open_file_store(uri, workspace=DEFAULT_WORKSPACE)

    @pytest.fixture
    def importer(self, store: TrackingStore) -> HistoryImport:
        assert isinstance(store, HistoryImport), f"{type(store).__name__} lacks HistoryImport"
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
        experiments_before = len(all_experiments(store))

        again = copy_history(history_source, store, copy_artifacts=False)

        assert (again.runs_copied, again.runs_skipped) == (0, len(filled.run_ids))
        assert again.experiments_created == 0
        assert len(all_experiments(store)) == experiments_before
        assert snapshot(store) == before

    # import_run -------------------------------------------------------------------------
    def test_import_run_keeps_info_and_ignores_run_data_metrics(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        run = _plain_run("a" * 32, status=RunStatus.KILLED, end_time=None, user_id="")
        stale = Metric("stale", 9.0, T0, 0)
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
        assert [point(m) for m in store.get_metric_history(info.run_id, "loss")] == [
            point(m) for m in _GOOD_POINTS
        ]

    def test_run_id_collision_raises_already_exists(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        importer.import_run(_plain_run("b" * 32), experiment_id, _GOOD_POINTS)
        before = run_fields(store, store.get_run("b" * 32))
        other = _plain_run("b" * 32, run_name="other", user_id="eve")

        with pytest.raises(AlreadyExists, match="b" * 32):
            importer.import_run(other, experiment_id, (Metric("acc", 1.0, T0, 0),))

        assert run_fields(store, store.get_run("b" * 32)) == before

    def test_collision_with_a_live_run_raises_already_exists(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        live = store.create_run(experiment_id, start_time=T0)

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
            ("metric", Metric("../escape", 1.0, T0, 0)),
            ("metric", Metric("bad*key", 1.0, T0, 0)),
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

    @pytest.mark.parametrize(
        ("field", "bad", "message"),
        [
            ("status", "DONE", "invalid run status 'DONE'"),
            ("lifecycle_stage", "gone", "invalid lifecycle stage 'gone'"),
            ("start_time", None, "start_time must be milliseconds"),
            ("end_time", "soon", "end_time must be milliseconds"),
        ],
    )
    def test_bad_run_info_is_refused_before_writing(
        self,
        importer: HistoryImport,
        store: TrackingStore,
        experiment_id: str,
        field: str,
        bad: object,
        message: str,
    ) -> None:
        """An imported status, stage or time is checked as a live write would be:
        ``InvalidInput`` (a 400), not the database's error, and nothing is stored."""
        with pytest.raises(InvalidInput, match=message):
            importer.import_run(_plain_run("f" * 32, **{field: bad}), experiment_id, _GOOD_POINTS)

        with pytest.raises(NotFound, match="f" * 32):
            store.get_run("f" * 32)

    def test_bad_experiment_stage_is_refused_before_writing(
        self, importer: HistoryImport, store: TrackingStore
    ) -> None:
        source = Experiment(
            experiment_id="43",
            name="imported-bad-stage",
            artifact_location="file:///elsewhere/43",
            lifecycle_stage="gone",  # type: ignore[arg-type]
            creation_time=T0,
            last_update_time=T0,
        )

        with pytest.raises(InvalidInput, match="invalid lifecycle stage 'gone'"):
            importer.import_experiment(source)

        assert store.get_experiment_by_name("imported-bad-stage") is None

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
            creation_time=T0,
            last_update_time=T0 + 7,
            tags={"team": "cv"},
        )

        experiment_id = importer.import_experiment(source)

        stored = store.get_experiment(experiment_id)
        assert (stored.name, stored.tags, stored.lifecycle_stage) == (
            "imported",
            {"team": "cv"},
            LifecycleStage.DELETED,
        )
        assert (stored.creation_time, stored.last_update_time) == (T0, T0 + 7)
        assert stored.artifact_location != source.artifact_location

    def test_import_experiment_name_taken_raises_already_exists(
        self, importer: HistoryImport, store: TrackingStore, experiment_id: str
    ) -> None:
        taken = store.get_experiment(experiment_id)

        with pytest.raises(AlreadyExists, match="import-target"):
            importer.import_experiment(replace(taken, experiment_id="77"))


__all__ = ["HistoryImportContract"]
