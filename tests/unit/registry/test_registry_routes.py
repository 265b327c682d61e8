"""The registry endpoints, through Starlette's TestClient, over a memory registry."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.memory.registry import MemoryRegistryStore
from kiln.testing.contracts import TickingClock
from kiln.testing.server import registry_app

with warnings.catch_warnings():
    # Starlette 1.x nudges towards httpx2, which is not installable here; httpx works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

API = "/api/2.0/mlflow"


@pytest.fixture
def service() -> RegistryService:
    return RegistryService(
        MemoryRegistryStore(workspace="default", clock=TickingClock(1000)),
        artifact_options=ArtifactOptions(),
    )


@pytest.fixture
def client(service: RegistryService) -> TestClient:
    return TestClient(registry_app(service))


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_and_get_registered_model_json(client: TestClient) -> None:
    created = _ok(
        client.post(
            f"{API}/registered-models/create",
            json={"name": "churn", "tags": [{"key": "team", "value": "a"}], "description": "d"},
        )
    )
    assert created == {
        "registered_model": {
            "name": "churn",
            "creation_timestamp": 1001,
            "last_updated_timestamp": 1001,
            "description": "d",
            "tags": [{"key": "team", "value": "a"}],
        }
    }
    got = _ok(client.get(f"{API}/registered-models/get", params={"name": "churn"}))
    assert got == created


def test_model_version_json_and_latest_versions(client: TestClient) -> None:
    _ok(client.post(f"{API}/registered-models/create", json={"name": "m"}))
    created = _ok(
        client.post(
            f"{API}/model-versions/create",
            json={
                "name": "m",
                "source": "s3://b/model",
                "run_id": "a" * 32,
                "tags": [{"key": "k", "value": "v"}],
                "run_link": "http://r",
            },
        )
    )
    assert created["model_version"] == {
        "name": "m",
        "version": "1",
        "creation_timestamp": 1002,
        "last_updated_timestamp": 1002,
        "current_stage": "None",
        "source": "s3://b/model",
        "run_id": "a" * 32,
        "status": "READY",
        "tags": [{"key": "k", "value": "v"}],
        "run_link": "http://r",
    }
    _ok(
        client.post(
            f"{API}/registered-models/alias", json={"name": "m", "alias": "champ", "version": "1"}
        )
    )
    model = _ok(client.get(f"{API}/registered-models/get", params={"name": "m"}))[
        "registered_model"
    ]
    assert model["aliases"] == [{"alias": "champ", "version": "1"}]
    assert [mv["version"] for mv in model["latest_versions"]] == ["1"]
    assert model["latest_versions"][0]["aliases"] == ["champ"]


def test_alias_endpoints(client: TestClient) -> None:
    _ok(client.post(f"{API}/registered-models/create", json={"name": "m"}))
    _ok(client.post(f"{API}/model-versions/create", json={"name": "m", "source": "s3://x"}))
    _ok(
        client.post(
            f"{API}/registered-models/alias", json={"name": "m", "alias": "prod", "version": "1"}
        )
    )
    got = _ok(client.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "prod"}))
    assert got["model_version"]["aliases"] == ["prod"]
    _ok(
        client.request(
            "DELETE", f"{API}/registered-models/alias", json={"name": "m", "alias": "prod"}
        )
    )
    missing = client.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "prod"})
    assert missing.status_code == 400
    assert missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    reserved = client.post(
        f"{API}/registered-models/alias", json={"name": "m", "alias": "latest", "version": "1"}
    )
    assert reserved.status_code == 400
    assert "reserved" in reserved.json()["message"]


def test_stages_and_latest_versions(client: TestClient) -> None:
    _ok(client.post(f"{API}/registered-models/create", json={"name": "m"}))
    for _ in range(2):
        _ok(client.post(f"{API}/model-versions/create", json={"name": "m", "source": "s3://x"}))
    moved = _ok(
        client.post(
            f"{API}/model-versions/transition-stage",
            json={
                "name": "m",
                "version": "1",
                "stage": "production",
                "archive_existing_versions": False,
            },
        )
    )
    assert moved["model_version"]["current_stage"] == "Production"
    got = _ok(
        client.get(
            f"{API}/registered-models/get-latest-versions",
            params=[("name", "m"), ("stages", "Production"), ("stages", "None")],
        )
    )
    assert [(mv["version"], mv["current_stage"]) for mv in got["model_versions"]] == [
        ("1", "Production"),
        ("2", "None"),
    ]
    posted = _ok(
        client.post(
            f"{API}/registered-models/get-latest-versions",
            json={"name": "m", "stages": ["Staging"]},
        )
    )
    assert posted == {}


def test_search_with_pages_and_ajax_prefix(client: TestClient) -> None:
    for name in ["b", "a", "c"]:
        _ok(client.post("/ajax-api/2.0/mlflow/registered-models/create", json={"name": name}))
    first = _ok(client.get(f"{API}/registered-models/search", params={"max_results": 2}))
    assert [m["name"] for m in first["registered_models"]] == ["a", "b"]
    second = _ok(
        client.get(
            f"{API}/registered-models/search",
            params={"max_results": 2, "page_token": first["next_page_token"]},
        )
    )
    assert [m["name"] for m in second["registered_models"]] == ["c"]
    assert "next_page_token" not in second
    desc = _ok(
        client.get(
            f"{API}/registered-models/search",
            params=[("filter", "name != 'b'"), ("order_by", "name DESC")],
        )
    )
    assert [m["name"] for m in desc["registered_models"]] == ["c", "a"]
    empty = _ok(client.get(f"{API}/model-versions/search", params={"filter": "name = 'a'"}))
    assert empty == {}
    too_many = client.get(f"{API}/registered-models/search", params={"max_results": 1001})
    assert too_many.status_code == 400


def test_version_crud_and_download_uri(client: TestClient) -> None:
    _ok(client.post(f"{API}/registered-models/create", json={"name": "m"}))
    _ok(client.post(f"{API}/model-versions/create", json={"name": "m", "source": "s3://x/y"}))
    updated = _ok(
        client.patch(
            f"{API}/model-versions/update", json={"name": "m", "version": "1", "description": "hi"}
        )
    )
    assert updated["model_version"]["description"] == "hi"
    _ok(
        client.post(
            f"{API}/model-versions/set-tag",
            json={"name": "m", "version": "1", "key": "k", "value": "v"},
        )
    )
    got = _ok(client.get(f"{API}/model-versions/get", params={"name": "m", "version": "1"}))
    assert got["model_version"]["tags"] == [{"key": "k", "value": "v"}]
    _ok(
        client.request(
            "DELETE",
            f"{API}/model-versions/delete-tag",
            json={"name": "m", "version": "1", "key": "k"},
        )
    )
    uri = _ok(
        client.get(f"{API}/model-versions/get-download-uri", params={"name": "m", "version": "1"})
    )
    assert uri == {"artifact_uri": "s3://x/y"}
    found = _ok(client.get(f"{API}/model-versions/search", params={"filter": "name='m'"}))
    assert [mv["version"] for mv in found["model_versions"]] == ["1"]
    _ok(
        client.request("DELETE", f"{API}/model-versions/delete", json={"name": "m", "version": "1"})
    )
    gone = client.get(f"{API}/model-versions/get", params={"name": "m", "version": "1"})
    assert gone.status_code == 404
    assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_model_crud_and_errors(client: TestClient) -> None:
    _ok(client.post(f"{API}/registered-models/create", json={"name": "m"}))
    dup = client.post(f"{API}/registered-models/create", json={"name": "m"})
    assert (dup.status_code, dup.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    _ok(
        client.post(
            f"{API}/registered-models/set-tag", json={"name": "m", "key": "k", "value": "v"}
        )
    )
    _ok(
        client.request(
            "DELETE", f"{API}/registered-models/delete-tag", json={"name": "m", "key": "k"}
        )
    )
    renamed = _ok(
        client.post(f"{API}/registered-models/rename", json={"name": "m", "new_name": "n"})
    )
    assert renamed["registered_model"]["name"] == "n"
    updated = _ok(
        client.patch(f"{API}/registered-models/update", json={"name": "n", "description": "x"})
    )
    assert updated["registered_model"]["description"] == "x"
    _ok(client.request("DELETE", f"{API}/registered-models/delete", json={"name": "n"}))
    missing = client.get(f"{API}/registered-models/get", params={"name": "n"})
    assert missing.status_code == 404
    assert missing.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Registered Model with name=n not found",
    }
    no_name = client.post(f"{API}/registered-models/create", json={})
    assert (no_name.status_code, no_name.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    bad_version = client.get(f"{API}/model-versions/get", params={"name": "n", "version": "x"})
    assert bad_version.status_code == 400
