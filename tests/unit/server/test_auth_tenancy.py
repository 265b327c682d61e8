"""``kiln server --auth`` in-process: each tenant's stores and artifacts.

Proxied artifacts live under ``workspaces/<tenant>/`` of the destination (MLflow's
rule), an ``artifact_location`` stays inside the tenant's root, a tenant made again
gets fresh stores, and with auth off a request naming another workspace is 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiln.auth.service import AuthService
from kiln.server.app import create_app
from kiln.testing.auth_app import sqlite_settings
from kiln.testing.auth_server import (
    ADMIN_PASSWORD,
    API,
    PROXY,
    World,
    admin_of,
)
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import basic_auth


def test_proxied_artifacts_live_under_the_tenants_folder(world: World) -> None:
    meg = world.bearer("meg")
    assert world.client.put(f"{PROXY}/1/notes.txt", content=b"a's", headers=meg).status_code == 200
    assert (world.artifacts / "workspaces" / "team-a" / "1" / "notes.txt").read_bytes() == b"a's"
    assert world.client.get(f"{PROXY}/1/notes.txt", headers=meg).content == b"a's"
    # the tenant's own prefix is accepted as MLflow accepts it
    same = world.client.get(f"{PROXY}/workspaces/team-a/1/notes.txt", headers=meg)
    assert same.content == b"a's"
    listing = world.client.get(PROXY, params={"path": "1"}, headers=meg).json()
    assert [f["path"] for f in listing["files"]] == ["notes.txt"]


@pytest.mark.parametrize(
    ("user", "workspace", "path"),
    [
        ("meg", None, "workspaces/team-b/1/notes.txt"),
        ("meg", None, "workspaces/"),
        ("admin", "default", "workspaces/team-a/1/notes.txt"),
    ],
)
def test_a_path_into_another_tenant_is_400(
    world: World, user: str, workspace: str | None, path: str
) -> None:
    headers = world.bearer(user) if user != "admin" else basic_auth("admin", ADMIN_PASSWORD)
    if workspace is not None:
        headers["X-MLFLOW-WORKSPACE"] = workspace
    answer = world.client.get(f"{PROXY}/{path}", headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_the_default_root_listing_hides_the_tenants(world: World) -> None:
    world.client.put(f"{PROXY}/1/notes.txt", content=b"a's", headers=world.bearer("meg"))
    admin = basic_auth("admin", ADMIN_PASSWORD) | {"X-MLFLOW-WORKSPACE": "default"}
    listing = world.client.get(PROXY, headers=admin).json()
    assert "workspaces" not in [f["path"] for f in listing.get("files", [])]


@pytest.mark.parametrize(
    "location",
    ["file:///etc", "s3://bucket/elsewhere", "mlflow-artifacts:/workspaces/team-b/x"],
)
def test_an_artifact_location_outside_the_tenant_is_400(world: World, location: str) -> None:
    answer = world.client.post(
        f"{API}/experiments/create",
        json={"name": f"loc-{location}", "artifact_location": location},
        headers=world.bearer("meg"),
    )
    assert answer.status_code == 400, answer.text
    assert (
        "outside workspace 'team-a'" in answer.json()["message"]
        or "team-b" in answer.json()["message"]
    )


def test_auth_off_refuses_another_workspace(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, artifacts_destination=None)
    with asgi_client(create_app(settings), raise_server_exceptions=False) as client:
        assert client.post(f"{API}/experiments/search", json={}).status_code == 200
        named = {"X-MLFLOW-WORKSPACE": "default"}
        assert client.post(f"{API}/experiments/search", json={}, headers=named).status_code == 200
        other = {"X-MLFLOW-WORKSPACE": "team-a"}
        answer = client.post(f"{API}/experiments/search", json={}, headers=other)
        assert answer.status_code == 404
        assert "kiln server --auth" in answer.json()["message"]
        info = client.get("/api/3.0/mlflow/server-info", headers=other).json()
        assert info["workspaces_enabled"] is False


def test_a_runs_artifacts_are_listed_from_its_tenants_folder(world: World) -> None:
    meg = world.bearer("meg")
    experiment = world.create_experiment("listed", meg)
    run = world.client.post(
        f"{API}/runs/create", json={"experiment_id": experiment}, headers=meg
    ).json()["run"]["info"]
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert (
        world.client.put(f"{PROXY}/{root}/model/w.bin", content=b"w", headers=meg).status_code
        == 200
    )
    assert (world.artifacts / "workspaces" / "team-a" / root / "model" / "w.bin").exists()
    listed = world.client.get(
        f"{API}/artifacts/list", params={"run_id": run["run_id"], "path": "model"}, headers=meg
    ).json()
    assert [f["path"] for f in listed["files"]] == ["model/w.bin"]


def test_a_non_proxied_root_gets_a_folder_per_tenant(tmp_path: Path) -> None:
    roots = (tmp_path / "roots").as_uri()
    settings = sqlite_settings(
        tmp_path, artifacts_destination=None, default_artifact_root=roots, auth=True
    )
    app = create_app(settings)
    service: AuthService = app.auth
    service.create_tenant(admin_of(service), "team-a")
    with asgi_client(app, raise_server_exceptions=False) as client:

        def create(name: str, tenant: str, location: str | None = None) -> Any:
            body = {"name": name} | ({"artifact_location": location} if location else {})
            headers = basic_auth("admin", ADMIN_PASSWORD) | {"X-MLFLOW-WORKSPACE": tenant}
            return client.post(f"{API}/experiments/create", json=body, headers=headers)

        def location(tenant: str, experiment_id: str) -> str:
            headers = basic_auth("admin", ADMIN_PASSWORD) | {"X-MLFLOW-WORKSPACE": tenant}
            answer = client.get(
                f"{API}/experiments/get", params={"experiment_id": experiment_id}, headers=headers
            )
            return str(answer.json()["experiment"]["artifact_location"])

        made = create("a", "team-a").json()["experiment_id"]
        assert location("team-a", made).startswith(f"{roots}/workspaces/team-a/")
        made = create("d", "default").json()["experiment_id"]
        assert not location("default", made).startswith(f"{roots}/workspaces/")
        assert create("a2", "team-a", f"{roots}/workspaces/team-a/mine").status_code == 200
        for tenant, bad in (
            ("team-a", f"{roots}/workspaces/team-b/x"),
            ("team-a", f"{roots}/workspaces/team-a/%2E%2E/team-b"),
            ("team-a", f"{roots}/elsewhere"),
            ("default", f"{roots}/workspaces/team-a"),
        ):
            answer = create(f"bad-{bad}", tenant, bad)
            assert answer.status_code == 400, (tenant, bad, answer.text)
            assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_tenant_made_again_gets_fresh_stores(world: World, tmp_path: Path) -> None:
    admin = basic_auth("admin", ADMIN_PASSWORD) | {"X-MLFLOW-WORKSPACE": "again"}
    world.service.create_tenant(world.admin, "again")
    world.create_experiment("first-life", admin)
    world.service.delete_tenant(world.admin, "again", force=True)
    own_root = (tmp_path / "own").as_uri()
    world.service.create_tenant(world.admin, "again", default_artifact_root=own_root)
    made = world.create_experiment("second-life", admin)
    answer = world.client.get(
        f"{API}/experiments/get", params={"experiment_id": made}, headers=admin
    ).json()
    assert answer["experiment"]["artifact_location"].startswith(own_root)
    found = world.client.post(f"{API}/experiments/search", json={}, headers=admin).json()
    assert "first-life" not in str(found)
