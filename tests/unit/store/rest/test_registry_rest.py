"""The REST registry store passes the registry contract against Kiln's own routes.

The server side is the registry routes over a memory registry, one app per
workspace sharing one memory state; Starlette's TestClient (an ``httpx.Client``)
carries the requests, so the whole path store -> JSON -> routes -> service ->
store -> JSON -> store is exercised without a socket.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from kiln.errors import KilnError
from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.memory.registry import MemoryRegistryStore, RegistryMemoryState
from kiln.store.protocols.registry import RegistryStore
from kiln.store.rest.registry import RestRegistryStore, open_rest_registry_store
from kiln.testing.contracts import RegistryStoreContract, TickingClock
from kiln.testing.server import registry_app

with warnings.catch_warnings():
    # Starlette 1.x nudges towards httpx2, which is not installable here; httpx works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def _rest_store(
    workspace: str, state: RegistryMemoryState, clock: TickingClock
) -> RestRegistryStore:
    service = RegistryService(
        MemoryRegistryStore(workspace=workspace, state=state, clock=clock),
        artifact_options=ArtifactOptions(),
    )
    client = TestClient(registry_app(service), base_url="http://kiln.test")
    return RestRegistryStore("http://kiln.test", workspace=workspace, client=client)


@pytest.fixture
def registry_state() -> RegistryMemoryState:
    return RegistryMemoryState()


@pytest.fixture
def registry_clock() -> TickingClock:
    return TickingClock()


class TestRestRegistryStore(RegistryStoreContract):
    @pytest.fixture
    def registry_store(
        self, registry_state: RegistryMemoryState, registry_clock: TickingClock
    ) -> RegistryStore:
        return _rest_store("default", registry_state, registry_clock)

    @pytest.fixture
    def open_workspace(
        self, registry_state: RegistryMemoryState, registry_clock: TickingClock
    ) -> Callable[[str], RegistryStore]:
        return lambda workspace: _rest_store(workspace, registry_state, registry_clock)

    def test_download_uri_prefers_storage_location(self, registry_store: RegistryStore) -> None:
        # Over REST the server resolves the source; a client cannot dictate the location.
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "s3://b/plain", storage_location="s3://ignored")
        assert registry_store.get_model_version_download_uri("m", 1) == "s3://b/plain"


def test_open_rest_registry_store_checks_the_uri() -> None:
    with pytest.raises(KilnError, match="expected http"):
        open_rest_registry_store("ftp://host", workspace="default")
    store = open_rest_registry_store("http://127.0.0.1:1", workspace="w")
    assert isinstance(store, RegistryStore)
    assert store.workspace == "w"
    store.close()
