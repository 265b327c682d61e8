"""The official mlflow client's workspace API against a real ``kiln server --auth``:
``mlflow.create_workspace / list_workspaces / get_workspace / update_workspace /
delete_workspace / set_workspace`` work unchanged, and a workspace set with
``set_workspace`` is where the client's experiments and runs land."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from kiln.testing.server import server_process
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("kiln-auth")
    env = {"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with server_process(
        f"sqlite:///{root / 'kiln.db'}", root, args=("--auth",), env=env
    ) as process:
        yield process.url


@pytest.fixture
def as_admin(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    mlflow.set_tracking_uri(server)
    try:
        yield server
    finally:
        mlflow.set_workspace(None)


def test_the_mlflow_client_manages_workspaces(as_admin: str) -> None:
    created = mlflow.create_workspace("team-ws", description="the ML team")
    assert (created.name, created.description) == ("team-ws", "the ML team")
    names = [w.name for w in mlflow.list_workspaces()]
    assert "default" in names
    assert "team-ws" in names
    assert mlflow.get_workspace("team-ws").description == "the ML team"
    updated = mlflow.update_workspace("team-ws", description="renamed team")
    assert updated.description == "renamed team"
    with pytest.raises(MlflowException, match="already exists"):
        mlflow.create_workspace("team-ws")
    with pytest.raises(MlflowException, match="reserved"):
        mlflow.delete_workspace("default")
    mlflow.create_workspace("short-lived")
    mlflow.delete_workspace("short-lived")
    assert "short-lived" not in [w.name for w in mlflow.list_workspaces()]


def test_set_workspace_puts_runs_in_that_workspace(as_admin: str) -> None:
    mlflow.create_workspace("team-runs")
    mlflow.set_workspace("team-runs")
    experiment_id = mlflow.create_experiment("in-team-runs")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("loss", 0.5)
    assert MlflowClient().get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    admin = basic_auth("admin", ADMIN_PASSWORD)
    search = {"max_results": 100}
    there = httpx.post(
        f"{as_admin}/api/2.0/mlflow/experiments/search",
        json=search,
        headers={**admin, WORKSPACE_HEADER: "team-runs"},
    ).json()
    assert "in-team-runs" in [e["name"] for e in there["experiments"]]
    default = httpx.post(
        f"{as_admin}/api/2.0/mlflow/experiments/search", json=search, headers=admin
    ).json()
    assert "in-team-runs" not in [e["name"] for e in default.get("experiments", [])]
    # RESTRICT: a workspace holding experiments is not deleted
    with pytest.raises(MlflowException, match="still holds experiments"):
        mlflow.delete_workspace("team-runs")
