"""The REST tracking store passes the store contract against a real uvicorn server.

Each test gets its own server (a background thread on a free 127.0.0.1 port) over
a fresh memory store, so the contract's "fresh, empty store" holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.config import Settings
from kiln.entities import Metric, RunTag
from kiln.errors import InvalidUri, NotFound, StoreUnavailable
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.base import TrackingStore
from kiln.store.memory import open_memory_store
from kiln.store.open import open_tracking_store
from kiln.store.rest.store import RestTrackingStore, open_rest_store
from kiln.testing.contract import TrackingStoreContract
from kiln.testing.server import serve_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused"),
        store=open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT),
        destination=LocalArtifactStore(str(tmp_path / "artifacts")),
    )
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def rest_store(server_url: str) -> Iterator[RestTrackingStore]:
    store = open_tracking_store(server_url)
    assert isinstance(store, RestTrackingStore)
    yield store
    store.close()


class TestRestStore(TrackingStoreContract):
    @pytest.fixture
    def store(self, rest_store: RestTrackingStore) -> TrackingStore:
        return rest_store


def test_history_and_runs_round_trip_through_the_server(rest_store: RestTrackingStore) -> None:
    exp_id = rest_store.create_experiment("e", tags=[RunTag("k", "v")])
    run = rest_store.create_run(exp_id, user_id="ann", start_time=5, run_name="r")
    rest_store.log_batch(
        run.run_id, metrics=[Metric("m", float("inf"), 1, 0), Metric("m", -2.5, 2, 1)]
    )
    assert rest_store.get_metric_history(run.run_id, "m") == [
        Metric("m", float("inf"), 1, 0),
        Metric("m", -2.5, 2, 1),
    ]
    fetched = rest_store.get_run(run.run_id)
    assert fetched.info.user_id == "ann"
    assert fetched.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run.run_id}/artifacts"
    assert rest_store.get_experiment(exp_id).tags == {"k": "v"}


def test_missing_experiment_by_name_is_none(rest_store: RestTrackingStore) -> None:
    assert rest_store.get_experiment_by_name("never") is None
    with pytest.raises(NotFound, match="424242"):
        rest_store.get_experiment("424242")


def test_unreachable_server_is_store_unavailable(server_url: str) -> None:
    dead = open_rest_store("http://127.0.0.1:9")
    with pytest.raises(StoreUnavailable, match="could not be reached"):
        dead.get_experiment("0")
    dead.close()


@pytest.mark.parametrize("uri", ["http://", "https:///path"])
def test_rest_uri_needs_a_host(uri: str) -> None:
    with pytest.raises(InvalidUri, match="expected http"):
        open_rest_store(uri)
