"""The REST tracking store passes the store contract against a real uvicorn server.

Each test gets its own server (a background thread on a free 127.0.0.1 port) over
a fresh memory store, so the contract's "fresh, empty store" holds. A Kiln server
serves one workspace, so another workspace is another server over the same memory
state, as a deployment runs one server per workspace over one database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from kiln.config import Settings
from kiln.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    RunInputs,
    RunStatus,
    RunTag,
)
from kiln.errors import AlreadyExists, InvalidInput, InvalidUri, NotFound, StoreUnavailable
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import MemoryTrackingState, MemoryTrackingStore
from kiln.store.open import open_tracking_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.rest.tracking import RestTrackingStore, open_rest_store
from kiln.testing.contracts import Capability, TrackingStoreContract
from kiln.testing.server import serve_in_thread
from kiln.testing.server_process import mlflow_server_process

pytestmark = pytest.mark.integration


@pytest.fixture
def memory_state() -> MemoryTrackingState:
    return MemoryTrackingState(PROXY_ARTIFACT_ROOT)


def _serve(stack: ExitStack, tmp_path: Path, workspace: str, state: MemoryTrackingState) -> str:
    """Start a server for ``workspace`` over ``state``; ``stack`` stops it."""
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused", workspace=workspace),
        store=MemoryTrackingStore(workspace=workspace, state=state),
        destination=LocalArtifactStore(str(tmp_path / "artifacts")),
    )
    return stack.enter_context(serve_in_thread(app))


@pytest.fixture
def server_url(tmp_path: Path, memory_state: MemoryTrackingState) -> Iterator[str]:
    with ExitStack() as stack:
        yield _serve(stack, tmp_path, "default", memory_state)


@pytest.fixture
def rest_store(server_url: str) -> Iterator[RestTrackingStore]:
    store = open_tracking_store(server_url, workspace="default")
    assert isinstance(store, RestTrackingStore)
    yield store
    store.close()


class TestRestStore(TrackingStoreContract):
    lacks = frozenset({Capability.HISTORY_IMPORT})  # the REST API cannot write a run as it was

    @pytest.fixture
    def store(self, rest_store: RestTrackingStore) -> TrackingStore:
        return rest_store

    @pytest.fixture
    def open_workspace(
        self, tmp_path: Path, memory_state: MemoryTrackingState
    ) -> Iterator[Callable[[str], TrackingStore]]:
        with ExitStack() as stack:

            def open_(workspace: str) -> TrackingStore:
                url = _serve(stack, tmp_path, workspace, memory_state)
                store = open_rest_store(url, workspace=workspace)
                stack.callback(store.close)
                return store

            yield open_


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
    dead = open_rest_store("http://127.0.0.1:9", workspace="default")
    with pytest.raises(StoreUnavailable, match="could not be reached"):
        dead.get_experiment("0")
    dead.close()


@pytest.mark.parametrize("uri", ["http://", "https:///path"])
def test_rest_uri_needs_a_host(uri: str) -> None:
    with pytest.raises(InvalidUri, match="expected http"):
        open_rest_store(uri, workspace="default")


# against MLflow's own server ------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` (the real one) over SQLite, in its own process group."""
    with mlflow_server_process(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.mark.slow
def test_rest_store_speaks_to_mlflows_own_server(mlflow_server_url: str) -> None:
    store = open_rest_store(mlflow_server_url, workspace="default")
    try:
        exp_id = store.create_experiment("kiln-client", tags=[RunTag("a", "b")])
        assert store.get_experiment(exp_id).tags == {"a": "b"}
        assert store.get_experiment_by_name("kiln-client").experiment_id == exp_id  # type: ignore[union-attr]
        assert store.get_experiment_by_name("missing") is None
        run = store.create_run(exp_id, user_id="u", start_time=1000, run_name="r")
        assert run.info.run_name == "r"
        store.log_batch(
            run.run_id,
            metrics=[Metric("m", float("nan"), 1, 0), Metric("m", 2.0, 2, 1)],
            params=[Param("p", "1")],
            tags=[RunTag("t", "v")],
        )
        history = store.get_metric_history(run.run_id, "m")
        assert [(m.step, m.value == m.value) for m in history] == [(0, False), (1, True)]
        info = store.update_run_info(run.run_id, status=RunStatus.FINISHED, end_time=5000)
        assert (info.status, info.end_time) == (RunStatus.FINISHED, 5000)
        found = store.search_runs([exp_id], filter_string="params.p = '1'")
        assert [r.run_id for r in found] == [run.run_id]
        assert found.items[0].data.metrics["m"] == 2.0
        with pytest.raises(NotFound, match="f" * 32):
            store.get_run("f" * 32)
        with pytest.raises(AlreadyExists, match="kiln-client"):
            store.create_experiment("kiln-client")
        dataset = Dataset("d", "abc", "local", '{"uri": "/d"}', None, '{"num_rows": 1}')
        tags = (InputTag("mlflow.data.context", "training"), InputTag("a", "b"))
        store.log_inputs(run.run_id, [DatasetInput(dataset, tags)])
        assert store.get_run(run.run_id).inputs == RunInputs((DatasetInput(dataset, tags[::-1]),))
        # MLflow reports a changed param as INVALID_PARAMETER_VALUE with no kiln_error hint
        with pytest.raises(InvalidInput, match="Changing param values is not allowed"):
            store.log_param(run.run_id, Param("p", "2"))
    finally:
        store.close()
