"""The in-memory tracking store passes the tracking store contract."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric, Param
from kiln.errors import InvalidUri
from kiln.store.memory.tracking import MemoryTrackingState, MemoryTrackingStore, open_memory_store
from kiln.store.open import open_tracking_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts import TrackingStoreContract


@pytest.fixture
def memory_state() -> MemoryTrackingState:
    return MemoryTrackingState()


class TestMemoryStore(TrackingStoreContract):
    @pytest.fixture
    def store(self, memory_state: MemoryTrackingState) -> TrackingStore:
        return MemoryTrackingStore(workspace="default", state=memory_state)

    @pytest.fixture
    def open_workspace(self, memory_state: MemoryTrackingState) -> Callable[[str], TrackingStore]:
        return lambda workspace: MemoryTrackingStore(workspace=workspace, state=memory_state)


def test_each_open_gives_a_fresh_store() -> None:
    first = open_memory_store("memory://", workspace="default")
    first.create_experiment("only-here")
    second = open_memory_store("memory://", workspace="default")
    assert second.get_experiment_by_name("only-here") is None


def test_open_tracking_store_dispatches_memory_uris() -> None:
    store = open_tracking_store("memory://", workspace="w1", artifact_root="/data/art")
    assert isinstance(store, MemoryTrackingStore)
    assert store.workspace == "w1"
    assert store.default_artifact_root == "/data/art"


def test_open_memory_store_rejects_other_schemes() -> None:
    with pytest.raises(InvalidUri, match="memory://"):
        open_memory_store("sqlite:///x.db", workspace="default")


def test_artifact_locations_follow_the_root() -> None:
    store = open_memory_store("memory://", artifact_root="s3://bucket/root/", workspace="default")
    assert store.get_experiment(DEFAULT_EXPERIMENT_ID).artifact_location == "s3://bucket/root/0"
    experiment_id = store.create_experiment("e")
    assert (
        store.get_experiment(experiment_id).artifact_location == f"s3://bucket/root/{experiment_id}"
    )
    run = store.create_run(experiment_id)
    assert run.info.artifact_uri == f"s3://bucket/root/{experiment_id}/{run.run_id}/artifacts"


def test_default_artifact_root_is_a_fresh_temp_folder() -> None:
    first = open_memory_store("memory://", workspace="default").default_artifact_root
    second = open_memory_store("memory://", workspace="default").default_artifact_root
    assert "kiln-memory-artifacts" in first
    assert first != second


def test_experiment_ids_count_up_across_workspaces() -> None:
    state = MemoryTrackingState()
    default = MemoryTrackingStore(workspace="default", state=state)
    assert default.create_experiment("a") == "1"
    other = MemoryTrackingStore(workspace="team-c", state=state)
    their_default = other.get_experiment_by_name("Default")
    assert their_default is not None
    assert their_default.experiment_id == "2"
    assert other.create_experiment("a") == "3"


def test_injected_clock_sets_times() -> None:
    ticks = iter(range(1000, 2000))
    store = MemoryTrackingStore(workspace="default", clock=lambda: next(ticks))
    experiment_id = store.create_experiment("timed")
    assert store.get_experiment(experiment_id).creation_time == 1001
    assert store.create_run(experiment_id).info.start_time == 1002


def test_concurrent_writers_lose_nothing() -> None:
    store = open_memory_store("memory://", workspace="default")
    run = store.create_run(DEFAULT_EXPERIMENT_ID)

    def write(worker: int) -> None:
        for i in range(200):
            # Distinct points (timestamps differ per worker): a repeated point is kept once.
            store.log_metric(run.run_id, Metric("m", float(i), worker * 1000 + i, i))
        store.log_param(run.run_id, Param(f"p{worker}", "v"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.get_metric_history(run.run_id, "m")) == 800
    assert len(store.get_run(run.run_id).data.params) == 4
