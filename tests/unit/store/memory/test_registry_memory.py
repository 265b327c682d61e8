"""The in-memory registry store passes the registry contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.store.memory.registry import MemoryRegistryStore, RegistryMemoryState
from kiln.store.protocols.registry import RegistryStore
from kiln.testing.contracts import RegistryStoreContract, TickingClock


@pytest.fixture
def registry_state() -> RegistryMemoryState:
    return RegistryMemoryState()


@pytest.fixture
def registry_clock() -> TickingClock:
    return TickingClock()


class TestMemoryRegistryStore(RegistryStoreContract):
    @pytest.fixture
    def registry_store(
        self, registry_state: RegistryMemoryState, registry_clock: TickingClock
    ) -> RegistryStore:
        return MemoryRegistryStore(workspace="default", state=registry_state, clock=registry_clock)

    @pytest.fixture
    def open_workspace(
        self, registry_state: RegistryMemoryState, registry_clock: TickingClock
    ) -> Callable[[str], RegistryStore]:
        return lambda workspace: MemoryRegistryStore(
            workspace=workspace, state=registry_state, clock=registry_clock
        )


def test_memory_store_satisfies_the_protocol() -> None:
    assert isinstance(MemoryRegistryStore(workspace="default"), RegistryStore)
