"""MLflow 3's workspace API over Kiln's tenants (kiln.server.workspace_routes): the shapes,
statuses and errors of mlflow/server/handlers.py, with auth on (real SQLite) and off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.server.app import create_app
from kiln.testing.auth_app import AuthServer, auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import basic_auth

WS = "/api/3.0/mlflow/workspaces"


@pytest.fixture
def kiln(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def test_workspace_lifecycle_as_mlflow_answers_it(kiln: AuthServer) -> None:
    http, admin = kiln.http, kiln.admin
    made = http.post(WS, json={"name": "team-a", "description": "A team"}, headers=admin)
    assert made.status_code == 201
    assert made.json() == {"workspace": {"name": "team-a", "description": "A team"}}
    listed = http.get(WS, headers=admin).json()
    assert listed == {
        "workspaces": [{"name": "default"}, {"name": "team-a", "description": "A team"}]
    }
    got = http.get(f"{WS}/team-a", headers=admin).json()
    assert got == {"workspace": {"name": "team-a", "description": "A team"}}
    patched = http.patch(
        f"{WS}/team-a", json={"default_artifact_root": "s3://bucket/a"}, headers=admin
    ).json()
    assert patched["workspace"]["default_artifact_root"] == "s3://bucket/a"
    deleted = http.delete(f"{WS}/team-a", headers=admin)
    assert (deleted.status_code, deleted.content) == (204, b"")
    missing = http.get(f"{WS}/team-a", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_ajax_prefix_serves_the_same(kiln: AuthServer) -> None:
    answer = kiln.http.get("/ajax-api/3.0/mlflow/workspaces/default", headers=kiln.admin)
    assert answer.json() == {"workspace": {"name": "default"}}


def test_members_list_and_read_their_own_workspaces_only(kiln: AuthServer) -> None:
    kiln.tenant("team-a")
    kiln.tenant("team-b")
    bob = basic_auth("bob", kiln.user("bob", "team-a", "viewer"))
    assert kiln.http.get(WS, headers=bob).json() == {"workspaces": [{"name": "team-a"}]}
    assert kiln.http.get(f"{WS}/team-a", headers=bob).status_code == 200
    assert kiln.http.get(f"{WS}/team-b", headers=bob).status_code == 404
    loner = basic_auth("lone", kiln.user("lone"))
    assert kiln.http.get(WS, headers=loner).json() == {}
    for method, path, body in [
        ("POST", WS, {"name": "team-c"}),
        ("PATCH", f"{WS}/team-a", {"description": "x"}),
        ("DELETE", f"{WS}/team-a", None),
    ]:
        answer = kiln.http.request(method, path, json=body, headers=bob)
        assert answer.status_code == 403, (method, path)
    assert [t.name for t in kiln.service.store.list_tenants()] == ["default", "team-a", "team-b"]


@pytest.mark.parametrize(
    ("method", "path", "body", "match"),
    [
        ("POST", WS, {"name": "default"}, "reserved and cannot be created"),
        ("POST", WS, {"name": "Bad_Name"}, "must match the pattern"),
        ("POST", WS, {"name": "x"}, "between 2 and 63"),
        ("POST", WS, {"name": "workspaces"}, "is reserved"),
        ("POST", WS, {}, "'name'"),
        ("POST", WS, {"name": 5}, "must be a string"),
        ("POST", WS, {"name": "ok-1", "description": []}, "'description' must be a string"),
        ("POST", WS, {"name": "ok-1", "default_artifact_root": "relative/dir"}, "Expected a URI"),
        ("POST", WS, {"name": "ok-1", "default_artifact_root": "s3://b/x#frag"}, "fragments"),
        (
            "POST",
            WS,
            {"name": "ok-1", "trace_archival_config": {"location": "s3://t"}},
            "keeps no traces",
        ),
        ("PATCH", f"{WS}/default", {}, "at least one key"),
        ("DELETE", f"{WS}/default", None, "reserved and cannot be deleted"),
        ("DELETE", f"{WS}/team-a?mode=SET_DEFAULT", None, "not delete workspaces in SET_DEFAULT"),
        ("DELETE", f"{WS}/team-a?mode=NUKE", None, "Invalid deletion mode"),
    ],
)
def test_bad_requests_are_400_invalid_parameter_value(
    kiln: AuthServer, method: str, path: str, body: Any, match: str
) -> None:
    kiln.tenant("team-a")
    answer = kiln.http.request(method, path, json=body, headers=kiln.admin)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert match in answer.json()["message"]


def test_a_bad_name_in_the_path_is_no_workspace(kiln: AuthServer) -> None:
    # the gate looks the path's workspace up first: no such workspace (MLflow: 400)
    answer = kiln.http.get(f"{WS}/Bad_Name", headers=kiln.admin)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_creating_a_taken_name_is_resource_already_exists(kiln: AuthServer) -> None:
    kiln.tenant("team-a")
    answer = kiln.http.post(WS, json={"name": "team-a"}, headers=kiln.admin)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_restrict_refuses_a_workspace_holding_experiments(kiln: AuthServer) -> None:
    kiln.tenant("team-a")
    headers = {**kiln.admin, "X-MLFLOW-WORKSPACE": "team-a"}
    made = kiln.http.post("/api/2.0/mlflow/experiments/create", json={"name": "e"}, headers=headers)
    assert made.status_code == 200, made.text
    refused = kiln.http.delete(f"{WS}/team-a", headers=kiln.admin)
    assert refused.status_code == 400
    assert "still holds experiments" in refused.json()["message"]
    assert kiln.http.get(f"{WS}/team-a", headers=kiln.admin).status_code == 200


def test_cascade_deletes_what_the_workspace_holds(kiln: AuthServer) -> None:
    kiln.tenant("team-a")
    kiln.tenant("team-b")
    api = "/api/2.0/mlflow"
    for tenant in ("team-a", "team-b"):
        headers = {**kiln.admin, "X-MLFLOW-WORKSPACE": tenant}
        made = kiln.http.post(f"{api}/experiments/create", json={"name": "e"}, headers=headers)
        run = {"experiment_id": made.json()["experiment_id"]}
        assert kiln.http.post(f"{api}/runs/create", json=run, headers=headers).status_code == 200
        model = {"name": "m"}
        answer = kiln.http.post(f"{api}/registered-models/create", json=model, headers=headers)
        assert answer.status_code == 200, answer.text
    boss = basic_auth("vic", kiln.user("vic", "team-a", "project-admin"))
    assert kiln.http.delete(f"{WS}/team-a?mode=CASCADE", headers=boss).status_code == 403
    deleted = kiln.http.delete(f"{WS}/team-a?mode=CASCADE", headers=kiln.admin)
    assert (deleted.status_code, deleted.content) == (204, b"")
    line = kiln.service.audit.list_events(max_results=1).items[0]
    assert line.action == "tenant.delete"
    assert line.before is not None
    assert line.before["purged"] == {
        "experiments": 2,
        "runs": 1,
        "registered_models": 1,
        "logged_models": 0,
    }
    assert kiln.http.post(WS, json={"name": "team-a"}, headers=kiln.admin).status_code == 201
    again = {**kiln.admin, "X-MLFLOW-WORKSPACE": "team-a"}
    found = kiln.http.post(f"{api}/experiments/search", json={"max_results": 10}, headers=again)
    assert [e["name"] for e in found.json()["experiments"]] == ["Default"]
    models = kiln.http.get(f"{api}/registered-models/search", headers=again)
    assert models.json() == {}
    other = {**kiln.admin, "X-MLFLOW-WORKSPACE": "team-b"}
    kept = kiln.http.post(f"{api}/experiments/search", json={"max_results": 10}, headers=other)
    assert sorted(e["name"] for e in kept.json()["experiments"]) == ["Default", "e"]


def test_auth_off_serves_default_alone(tmp_path: Path) -> None:
    with asgi_client(create_app(sqlite_settings(tmp_path)), raise_server_exceptions=False) as http:
        assert http.get(WS).json() == {"workspaces": [{"name": "default"}]}
        assert http.get(f"{WS}/default").json() == {"workspace": {"name": "default"}}
        assert http.get(f"{WS}/team-a").status_code == 404
        created = http.post(WS, json={"name": "team-a"})
        assert created.status_code == 400
        assert created.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "kiln server --auth" in created.json()["message"]
        who = http.get("/api/kiln/v1/whoami").json()
        assert (who["tenant"], who["is_admin"], who["via"]) == ("default", True, "anonymous")
        assert http.post("/api/v1/login", json={"name": "a", "password": "b"}).status_code == 404
