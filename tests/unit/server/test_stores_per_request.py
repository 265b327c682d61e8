"""Every route reaches its stores through the app's resolver, once per request.

Two workspaces' stores behind one app, the resolver picking by a header: what a
request writes lands in the stores its resolver returned, on the fast lane (JSON
routes of fixed paths), the Starlette routes (paths with parameters) and the
artifact proxy alike. Serving several workspaces then only changes the resolver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Scope

from kiln.errors import KilnError
from kiln.registry.service import RegistryService
from kiln.server.app import API_ROUTES, PROXY_ARTIFACT_ROOT
from kiln.server.errors import kiln_error_handler
from kiln.server.fastlane import KilnStarlette, lane_table
from kiln.server.routing import mount
from kiln.server.stores import Stores
from kiln.server.telemetry import RequestMetrics
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.memory.logged_models import MemoryLoggedModelStore
from kiln.store.memory.registry import MemoryRegistryStore
from kiln.store.memory.tracking import open_memory_store
from kiln.testing.server import asgi_client

API = "/api/2.0/mlflow"


def _stores(root: Path) -> Stores:
    tracking = open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT, workspace="default")
    registry = RegistryService(
        MemoryRegistryStore(workspace="default"),
        tracking=tracking,
        artifact_options=ArtifactOptions(),
    )
    return Stores(
        tracking,
        registry,
        MemoryLoggedModelStore(workspace="default"),
        LocalArtifactStore(str(root)),
    )


@pytest.fixture
def workspaces(tmp_path: Path) -> dict[str, Stores]:
    return {name: _stores(tmp_path / name) for name in ("a", "b")}


@pytest.fixture
def resolved() -> list[str]:
    """The workspace of every resolution, in order."""
    return []


@pytest.fixture
def client(workspaces: dict[str, Stores], resolved: list[str]) -> Iterator[Any]:
    def stores_for(scope: Scope) -> Stores:
        headers = dict(scope["headers"])
        name = headers.get(b"x-workspace", b"a").decode()
        resolved.append(name)
        return workspaces[name]

    app = KilnStarlette(
        routes=mount(API_ROUTES, stores_for),
        exception_handlers={KilnError: kiln_error_handler},
    )
    app.lane = lane_table(API_ROUTES, stores_for)
    app.metrics = RequestMetrics()
    with asgi_client(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _in(workspace: str) -> dict[str, str]:
    return {"x-workspace": workspace}


def test_a_lane_route_acts_on_the_stores_of_its_request(
    client: Any, workspaces: dict[str, Stores], resolved: list[str]
) -> None:
    created = client.post(f"{API}/experiments/create", json={"name": "e"}, headers=_in("b"))
    assert created.status_code == 200, created.text
    assert resolved == ["b"]
    assert workspaces["b"].tracking.get_experiment_by_name("e") is not None
    assert workspaces["a"].tracking.get_experiment_by_name("e") is None
    found = client.get(
        f"{API}/experiments/get-by-name", params={"experiment_name": "e"}, headers=_in("a")
    )
    assert found.status_code == 404
    assert resolved == ["b", "a"]


def test_a_route_with_path_parameters_acts_on_the_stores_of_its_request(
    client: Any, resolved: list[str]
) -> None:
    model = client.post(
        f"{API}/logged-models", json={"experiment_id": "0", "name": "m"}, headers=_in("b")
    )
    assert model.status_code == 200, model.text
    model_id = model.json()["model"]["info"]["model_id"]
    assert client.get(f"{API}/logged-models/{model_id}", headers=_in("b")).status_code == 200
    assert client.get(f"{API}/logged-models/{model_id}", headers=_in("a")).status_code == 404
    assert resolved == ["b", "b", "a"]


def test_the_artifact_proxy_writes_to_the_destination_of_its_request(
    client: Any, tmp_path: Path, resolved: list[str]
) -> None:
    url = "/api/2.0/mlflow-artifacts/artifacts/x/file.txt"
    assert client.put(url, content=b"hello", headers=_in("b")).status_code == 200
    assert (tmp_path / "b" / "x" / "file.txt").read_bytes() == b"hello"
    assert not (tmp_path / "a").exists()
    assert client.get(url, headers=_in("b")).content == b"hello"
    assert client.get(url, headers=_in("a")).status_code == 404
    assert resolved == ["b", "b", "a"]


def test_the_registry_acts_on_the_service_of_its_request(client: Any) -> None:
    created = client.post(f"{API}/registered-models/create", json={"name": "r"}, headers=_in("a"))
    assert created.status_code == 200, created.text
    get = f"{API}/registered-models/get"
    assert client.get(get, params={"name": "r"}, headers=_in("a")).status_code == 200
    assert client.get(get, params={"name": "r"}, headers=_in("b")).status_code == 404
