"""The REST logged-model store passes the logged-model contract against Kiln's own server.

The whole app runs in process (Starlette's TestClient, an ``httpx.Client``), one
app per workspace: the logged models share one memory state, as a deployment
runs one server per workspace over one database. Each workspace's tracking state
(its own, so that both have experiments ``"1"`` and ``"2"``) holds the runs
``RUNS`` the contract names, since the server checks experiments and runs (the
REST API logs a model's metrics, outputs and inputs through runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from kiln.config import Settings
from kiln.entities import Experiment, RunData, RunInfo, RunStatus
from kiln.entities.logged_model import LoggedModelMetric
from kiln.entities.tracking import Run
from kiln.errors import InvalidUri, NotFound, StoreUnavailable
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.logged_models import LoggedModelMemoryState, MemoryLoggedModelStore
from kiln.store.memory.tracking import MemoryTrackingState, MemoryTrackingStore
from kiln.store.open import open_logged_model_store
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.rest.logged_models import (
    PARAMS_PER_REQUEST,
    RestLoggedModelStore,
    open_rest_logged_model_store,
)
from kiln.testing.contracts import Capability, LoggedModelStoreContract, TickingClock
from kiln.testing.contracts.logged_models import ROOT, RUNS
from kiln.testing.server import asgi_client

Opener = Callable[[str], RestLoggedModelStore]


def _tracking(workspace: str) -> MemoryTrackingStore:
    """A tracking store of ``workspace`` with the contract's experiments and runs."""
    store = MemoryTrackingStore(workspace=workspace, state=MemoryTrackingState(PROXY_ARTIFACT_ROOT))
    for experiment_id in ("1", "2"):  # in team-b "1" is its Default already
        try:
            store.get_experiment(experiment_id)
        except NotFound:
            kept = store.import_experiment(Experiment(experiment_id, f"e{experiment_id}", ""))
            assert kept == experiment_id
    for run_id in RUNS:
        info = RunInfo(run_id, "1", run_id[:4], "", RunStatus.RUNNING, 1, None, "")
        store.import_run(Run(info, RunData()), "1")
    return store


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Opener]:
    """Opens a REST store on a new in-process server of a workspace; all share the models."""
    models = LoggedModelMemoryState()
    with ExitStack() as stack:

        def open_(workspace: str) -> RestLoggedModelStore:
            app = create_app(
                Settings(home=tmp_path, tracking_uri="unused", workspace=workspace),
                store=_tracking(workspace),
                destination=LocalArtifactStore(str(tmp_path / "artifacts")),
                logged_models=MemoryLoggedModelStore(
                    workspace=workspace, state=models, clock=TickingClock()
                ),
            )
            client = asgi_client(app)
            store = RestLoggedModelStore(str(client.base_url), workspace=workspace, client=client)
            stack.callback(store.close)
            return store

        yield open_


class TestRestLoggedModels(LoggedModelStoreContract):
    lacks = frozenset({Capability.RUNLESS_MODEL_METRICS, Capability.LOGGED_MODEL_IMPORT})

    @pytest.fixture
    def logged_model_store(self, open_store: Opener) -> LoggedModelStore:
        return open_store("default")

    @pytest.fixture
    def open_workspace(self, open_store: Opener) -> Callable[[str], LoggedModelStore]:
        return open_store


def test_params_beyond_one_request_are_sent_in_batches(open_store: Opener) -> None:
    store = open_store("default")
    params = {f"p{i}": str(i) for i in range(PARAMS_PER_REQUEST * 2 + 5)}
    model = store.create_logged_model("1", ROOT, params=params)
    assert model.params == params
    more = {f"q{i}": "x" for i in range(PARAMS_PER_REQUEST + 1)}
    store.log_logged_model_params(model.model_id, more)
    assert store.get_logged_model(model.model_id).params == params | more


def test_metrics_are_logged_on_their_run_too(open_store: Opener) -> None:
    """MLflow's REST API carries a model's metric as its run's (log-batch with model_id)."""
    store = open_store("default")
    model = store.create_logged_model("1", ROOT)
    store.log_logged_model_metrics(
        model.model_id,
        [
            LoggedModelMetric("acc", 0.5, 10, 2, RUNS[0]),
            LoggedModelMetric("f1", 0.1, 11, 0, RUNS[1]),
        ],
    )
    assert {(m.key, m.run_id) for m in store.get_logged_model(model.model_id).metrics} == {
        ("acc", RUNS[0]),
        ("f1", RUNS[1]),
    }
    with pytest.raises(NotFound, match="d" * 32):
        store.log_logged_model_metrics(
            model.model_id, [LoggedModelMetric("acc", 0.5, 10, 2, "d" * 32)]
        )


def test_a_tag_key_with_a_slash_and_spaces_is_deleted(open_store: Opener) -> None:
    store = open_store("default")
    model = store.create_logged_model("1", ROOT, tags={"a/b c": "1", "keep": "2"})
    store.delete_logged_model_tag(model.model_id, "a/b c")
    assert store.get_logged_model(model.model_id).tags == {"keep": "2"}


def test_the_opener_picks_the_rest_store_for_servers() -> None:
    for uri in ("http://127.0.0.1:5000", "https://kiln.example/"):
        store = open_logged_model_store(uri, workspace="w")
        assert isinstance(store, RestLoggedModelStore)
        assert isinstance(store, LoggedModelStore)
        assert store.workspace == "w"
        store.close()
    with pytest.raises(InvalidUri, match="expected http"):
        open_rest_logged_model_store("http://", workspace="default")


def test_an_unreachable_server_is_store_unavailable() -> None:
    store = open_rest_logged_model_store("http://127.0.0.1:9", workspace="default")
    try:
        with pytest.raises(StoreUnavailable, match="could not be reached"):
            store.get_logged_model("m-" + "0" * 32)
    finally:
        store.close()
