"""A tracking server app over a fresh memory store and a local artifact folder, and
``kiln``: one with auth on over SQLite (``kiln.testing.auth_app``) and two tenants,
``team-a`` and ``team-b`` (modules that need another one define their own), and
``world``: ``kiln.testing.auth_server``'s app and users, one per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.config import Settings
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import MemoryTrackingStore, open_memory_store
from kiln.testing.auth_app import AuthServer, auth_server
from kiln.testing.auth_server import World, auth_world
from kiln.testing.server import asgi_client


@pytest.fixture
def store() -> MemoryTrackingStore:
    return open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT, workspace="default")


@pytest.fixture
def artifact_dir(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def client(store: MemoryTrackingStore, artifact_dir: Path, tmp_path: Path) -> Iterator[Any]:
    settings = Settings(home=tmp_path, tracking_uri="unused")
    app = create_app(settings, store=store, destination=LocalArtifactStore(str(artifact_dir)))
    with asgi_client(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def kiln(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        server.tenant("team-a")
        server.tenant("team-b")
        yield server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with auth_world(tmp_path_factory.mktemp("auth")) as built:
        yield built
