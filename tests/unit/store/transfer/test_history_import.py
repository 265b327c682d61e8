"""HistoryImport on every backend that has it (memory, mlruns folder, SQLite, PostgreSQL):
copy_history from a file store keeps everything; plus the memory store's own cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.entities import DEFAULT_WORKSPACE, Experiment, LifecycleStage, RunTag
from kiln.errors import AlreadyExists, InvalidInput
from kiln.store.file.tracking import open_file_store
from kiln.store.memory.tracking import MemoryTrackingState, MemoryTrackingStore, open_memory_store
from kiln.store.protocols.history import HistoryImport
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.sql.engine import dispose_engine
from kiln.store.sql.tracking import open_sql_store
from kiln.store.transfer.history import copy_history
from kiln.testing.contracts import (
    OTHER_WORKSPACE,
    HistoryImportContract,
    fill_history,
    snapshot,
)


class TestMemoryHistoryImport(HistoryImportContract):
    @pytest.fixture
    def store(self) -> TrackingStore:
        return open_memory_store("memory://", workspace="default")


class TestFileHistoryImport(HistoryImportContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> TrackingStore:
        return open_file_store((tmp_path / "dest").as_uri(), workspace="default")


class TestSqliteHistoryImport(HistoryImportContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[TrackingStore]:
        uri = f"sqlite:///{tmp_path / 'dest.db'}"
        yield open_sql_store(uri, workspace="default")
        dispose_engine(uri)


@pytest.mark.postgres
@pytest.mark.integration
class TestPostgresHistoryImport(HistoryImportContract):
    @pytest.fixture
    def store(self, postgres_db_uri: str) -> TrackingStore:
        return open_sql_store(postgres_db_uri, workspace="default")


class TestMemoryToMemoryHistoryImport(HistoryImportContract):
    """The same contract with a memory store as the source as well."""

    @pytest.fixture
    def history_source(self) -> TrackingStore:
        return open_memory_store("memory://", workspace="default")

    @pytest.fixture
    def store(self) -> TrackingStore:
        return open_memory_store("memory://", workspace="default")


def test_memory_store_implements_history_import() -> None:
    assert isinstance(open_memory_store("memory://", workspace="default"), HistoryImport)


def test_round_trip_file_memory_file_keeps_everything(tmp_path: Path) -> None:
    source = open_file_store((tmp_path / "a").as_uri(), workspace="default")
    fill_history(source)
    middle = open_memory_store("memory://", workspace="default")
    copy_history(source, middle, copy_artifacts=False)
    back = open_file_store((tmp_path / "b").as_uri(), workspace="default")
    copy_history(middle, back, copy_artifacts=False)

    assert snapshot(back) == snapshot(source)


def test_free_experiment_ids_are_kept_and_the_sequence_counts_on() -> None:
    store = open_memory_store("memory://", workspace="default")
    experiment = Experiment("12", "twelve", "file:///x/12", LifecycleStage.ACTIVE, tags={})

    assert store.import_experiment(experiment) == "12"
    assert store.create_experiment("next") == "13"
    again = Experiment("12", "other", "file:///x/12", LifecycleStage.ACTIVE)
    assert store.import_experiment(again) == "14"


def test_ids_taken_by_another_workspace_are_not_reused() -> None:
    state = MemoryTrackingState()
    default = MemoryTrackingStore(workspace=DEFAULT_WORKSPACE, state=state)
    team = MemoryTrackingStore(workspace=OTHER_WORKSPACE, state=state)
    team_default = team.get_experiment_by_name("Default")
    assert team_default is not None
    taken = Experiment(
        team_default.experiment_id, "mine", "file:///x", LifecycleStage.ACTIVE, tags={}
    )

    new_id = default.import_experiment(taken)

    assert new_id != team_default.experiment_id
    assert default.get_experiment(new_id).name == "mine"


def test_run_ids_collide_across_workspaces(tmp_path: Path) -> None:
    state = MemoryTrackingState()
    default = MemoryTrackingStore(workspace=DEFAULT_WORKSPACE, state=state)
    team = MemoryTrackingStore(workspace=OTHER_WORKSPACE, state=state)
    live = team.create_run(team.create_experiment("t"), start_time=1)
    target = default.create_experiment("d")

    with pytest.raises(AlreadyExists, match=live.info.run_id):
        default.import_run(live, target)


def test_import_experiment_validates_tags_before_creating() -> None:
    store = open_memory_store("memory://", workspace="default")
    bad = Experiment("5", "tagged", "file:///x", LifecycleStage.ACTIVE, tags={"": "v"})

    with pytest.raises(InvalidInput, match="tag key"):
        store.import_experiment(bad)

    assert store.get_experiment_by_name("tagged") is None
    assert store.create_experiment("after") == "1"


def test_copied_experiment_tags_can_still_change() -> None:
    source = open_memory_store("memory://", workspace="default")
    source.create_experiment("e", tags=[RunTag("k", "v")])
    dest = open_memory_store("memory://", workspace="default")
    copy_history(source, dest, copy_artifacts=False)
    copied = dest.get_experiment_by_name("e")
    assert copied is not None

    dest.set_experiment_tag(copied.experiment_id, RunTag("k", "w"))

    assert dest.get_experiment(copied.experiment_id).tags == {"k": "w"}
    assert source.get_experiment_by_name("e").tags == {"k": "v"}  # type: ignore[union-attr]
