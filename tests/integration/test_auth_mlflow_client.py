"""The official ``mlflow`` client, unchanged, against ``kiln server --auth``.

One real server subprocess for the module (SQLite, proxied artifacts, the admin
from ``KILN_ADMIN_PASSWORD``). The admin makes a workspace with
``mlflow.create_workspace`` and a member ``alice`` in it; alice then runs the
wave-1 workflow (a run with params, metrics and an artifact, ``log_model`` with
registration, an alias, loading by alias) first with ``MLFLOW_TRACKING_TOKEN``,
then with ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` and ``mlflow.set_workspace``.
Models are saved with cloudpickle and loaded with
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` (see test_mlflow_models_registry.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from kiln.testing.server import ServerProcess, server_process
from kiln.testing.tenancy import KILN_API, WORKSPACE_HEADER, basic_auth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

ADMIN_PASSWORD = "client-Admin-Passw0rd-1"
USER, PASSWORD = "alice", "alice-Passw0rd-1"
TENANT, OTHER = "team-ml", "team-other"
SAVE_ARGS: dict[str, Any] = {
    "serialization_format": "cloudpickle",
    "pip_requirements": ["scikit-learn", "cloudpickle"],
}
CREDENTIALS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_WORKSPACE",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("kiln-auth-client")
    env = {"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with server_process(
        f"sqlite:///{root / 'kiln.db'}", root, args=("--auth",), env=env
    ) as process:
        yield process


@pytest.fixture
def as_nobody(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The mlflow client pointed at the server with no credentials at all."""
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    try:
        yield server.url
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_workspace(None)
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def workspace(server: ServerProcess) -> Iterator[str]:
    """The admin makes ``TENANT`` and ``OTHER`` with the mlflow client and alice, a
    member of ``TENANT`` only, through Kiln's admin API."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        patch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(server.url)
        try:
            for name in (TENANT, OTHER):
                mlflow.create_workspace(name, description=f"{name} of the client test")
            names = {w.name for w in mlflow.list_workspaces()}
        finally:
            mlflow.set_tracking_uri(previous)
    assert {TENANT, OTHER, "default"} <= names
    admin = basic_auth("admin", ADMIN_PASSWORD)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        made = http.post(
            f"{KILN_API}/admin/users", json={"name": USER, "password": PASSWORD}, headers=admin
        )
        assert made.status_code == 201, made.text
        member = f"{KILN_API}/admin/tenants/{TENANT}/members/{USER}"
        granted = http.put(member, json={"role": "member"}, headers=admin)
        assert granted.status_code == 200, granted.text
    return TENANT


@pytest.fixture(scope="module")
def token(server: ServerProcess, workspace: str) -> str:
    """Alice's ``kiln_pat_`` token, bound to her workspace."""
    own = {**basic_auth(USER, PASSWORD), WORKSPACE_HEADER: workspace}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answer = http.post(f"{KILN_API}/tokens", json={"name": "client-test"}, headers=own)
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["token"]
    assert secret.startswith("kiln_pat_")
    return secret


def _workflow(tmp_path: Path, label: str) -> None:
    """Wave 1 through the fluent API and ``MlflowClient``, as alice."""
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
    y = np.array([0, 1, 0, 1] * 5)
    model = LogisticRegression().fit(X, y)
    registered = f"clf-{label}-{uuid.uuid4().hex[:6]}"
    note = tmp_path / "note.txt"
    note.write_text(f"written by {label}")
    mlflow.set_experiment(f"auth-{label}")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_artifact(str(note))
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=registered, **SAVE_ARGS
        )
    client = MlflowClient()
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"C": "1.0"}
    assert fetched.data.metrics["loss"] == pytest.approx(1 / 3)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]
    listed = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert "note.txt" in listed
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="note.txt", dst_path=str(tmp_path / "down")
    )
    assert Path(downloaded).read_text() == f"written by {label}"
    version = str(info.registered_model_version)
    assert version == "1"
    client.set_registered_model_alias(registered, "candidate", version)
    assert client.get_model_version_by_alias(registered, "candidate").version == version
    loaded = mlflow.pyfunc.load_model(f"models:/{registered}@candidate")
    assert list(loaded.predict(X[:4])) == list(model.predict(X[:4]))


def test_the_admin_lists_workspaces(workspace: str) -> None:
    assert workspace == TENANT


def test_no_credentials_are_refused(as_nobody: str) -> None:
    with pytest.raises(MlflowException, match="UNAUTHENTICATED"):
        MlflowClient().search_experiments()


def test_token_runs_the_workflow(
    as_nobody: str, token: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    _workflow(tmp_path, "token")
    # the token is bound to alice's workspace: naming another one is refused
    mlflow.set_workspace(OTHER)
    with pytest.raises(MlflowException, match=r"403|PERMISSION_DENIED"):
        MlflowClient().search_experiments()


def test_password_runs_the_workflow(
    as_nobody: str,
    workspace: str,
    server: ServerProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    mlflow.set_workspace(workspace)
    assert {w.name for w in mlflow.list_workspaces()} == {workspace}
    _workflow(tmp_path, "password")
    # the artifacts of a new workspace live under workspaces/<name>/ of the destination
    stored = server.root / "artifacts" / "workspaces" / workspace
    assert any(p.name == "note.txt" for p in stored.rglob("*")), sorted(stored.rglob("*"))
    # alice has no role in the other workspace: it does not exist for her
    mlflow.set_workspace(OTHER)
    with pytest.raises(MlflowException, match=r"404|RESOURCE_DOES_NOT_EXIST"):
        MlflowClient().search_experiments()
