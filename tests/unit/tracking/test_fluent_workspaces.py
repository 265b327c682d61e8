"""MLflow 3's workspace functions in Kiln's fluent API, on a SQLite tracking database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow.entities
import pytest

import kiln
from kiln.entities import Workspace, WorkspaceDeletionMode
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.open import close_store, open_tracking_store
from kiln.tracking.fluent import reset_state


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("KILN_WORKSPACE", "MLFLOW_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    reset_state()
    kiln.set_tracking_uri(uri)
    yield uri
    reset_state()


def _assert_unseen(uri: str, workspace: str, run_id: str) -> None:
    """The run ``run_id`` is not found in ``workspace``'s store."""
    store = open_tracking_store(uri, workspace=workspace)
    try:
        with pytest.raises(NotFound, match=run_id):
            store.get_run(run_id)
    finally:
        close_store(store)


def test_workspaces_are_created_listed_updated_and_deleted(uri: str) -> None:
    created = kiln.create_workspace("team-a", description="Team A")
    assert created == Workspace("team-a", "Team A")
    assert [w.name for w in kiln.list_workspaces()] == ["default", "team-a"]
    assert kiln.get_workspace("team-a").description == "Team A"
    updated = kiln.update_workspace("team-a", description="The A team")
    assert updated.description == "The A team"
    kiln.delete_workspace("team-a")
    assert [w.name for w in kiln.list_workspaces()] == ["default"]
    with pytest.raises(NotFound, match="team-a"):
        kiln.get_workspace("team-a")


def test_set_workspace_sends_later_runs_there(uri: str) -> None:
    kiln.create_workspace("team-b")
    kiln.set_workspace("team-b")
    assert os.environ["MLFLOW_WORKSPACE"] == os.environ["KILN_WORKSPACE"] == "team-b"
    with kiln.start_run() as run:
        kiln.log_param("p", "1")
    store = open_tracking_store(uri, workspace="team-b")
    try:
        assert store.get_run(run.info.run_id).data.params == {"p": "1"}
    finally:
        close_store(store)
    _assert_unseen(uri, "default", run.info.run_id)
    with pytest.raises(Conflict, match="still holds"):
        kiln.delete_workspace("team-b")
    kiln.set_workspace(None)
    assert "MLFLOW_WORKSPACE" not in os.environ
    assert "KILN_WORKSPACE" not in os.environ
    kiln.delete_workspace("team-b", mode=WorkspaceDeletionMode.CASCADE)
    kiln.create_workspace("team-b")  # the name comes back empty
    _assert_unseen(uri, "team-b", run.info.run_id)


def test_set_workspace_forgets_the_active_experiment(uri: str) -> None:
    kiln.create_workspace("team-c")
    left = kiln.set_experiment("exp-in-default")
    kiln.set_workspace("team-c")
    with kiln.start_run() as run:
        pass
    experiment_id = kiln.get_run(run.info.run_id).info.experiment_id
    assert experiment_id != left.experiment_id
    assert kiln.get_experiment(experiment_id).name == "Default"  # team-c's own
    kiln.set_workspace(None)


@pytest.mark.parametrize("name", ["Team", "a", "-a", "a-", "api", "workspaces", "x" * 64, "a_b"])
def test_invalid_names_are_refused_before_any_request(uri: str, name: str) -> None:
    with pytest.raises(InvalidInput, match="Workspace name"):
        kiln.set_workspace(name)
    with pytest.raises(InvalidInput, match="Workspace name"):
        kiln.create_workspace(name)


def test_refusals(uri: str) -> None:
    kiln.create_workspace("team-d")
    with pytest.raises(AlreadyExists, match="team-d"):
        kiln.create_workspace("team-d")
    with pytest.raises(InvalidInput, match="not delete workspaces in SET_DEFAULT mode"):
        kiln.delete_workspace("team-d", mode=WorkspaceDeletionMode.SET_DEFAULT)
    with pytest.raises(InvalidInput, match="invalid deletion mode"):
        kiln.delete_workspace("team-d", mode="NUKE")
    with pytest.raises(InvalidInput, match="default workspace cannot be deleted"):
        kiln.delete_workspace("default")
    with pytest.raises(InvalidInput, match="no traces"):
        kiln.create_workspace("team-e", trace_archival_config=object())


def test_an_mlruns_folder_has_no_workspaces(tmp_path: Path) -> None:
    reset_state()
    kiln.set_tracking_uri(str(tmp_path / "mlruns"))
    try:
        with pytest.raises(InvalidInput, match="mlruns folder, which has no workspaces"):
            kiln.list_workspaces()
    finally:
        reset_state()


def test_the_workspace_entity_is_mlflows() -> None:
    ours = Workspace("team-a", "A", "s3://bucket/a")
    theirs = mlflow.entities.Workspace("team-a", "A", "s3://bucket/a")
    assert ours.to_dict() == theirs.to_dict()
    assert Workspace.from_dict(theirs.to_dict()) == ours
    assert {m.value for m in WorkspaceDeletionMode} == {
        m.value for m in mlflow.entities.WorkspaceDeletionMode
    }


def test_mlflow_client_has_the_workspace_methods(uri: str) -> None:
    client = kiln.MlflowClient(uri)
    assert client.create_workspace("team-m", "M") == Workspace("team-m", "M")
    assert [w.name for w in client.list_workspaces()] == ["default", "team-m"]
    assert client.update_workspace("team-m", description="MM").description == "MM"
    assert client.get_workspace("team-m").description == "MM"
    client.delete_workspace("team-m")
    assert [w.name for w in client.list_workspaces()] == ["default"]
    assert client.get_workspace_store_uri() == uri
