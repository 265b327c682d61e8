"""The in-memory registry store passes the registry contract."""

from __future__ import annotations

import pytest

from kiln.store.memory.registry import MemoryRegistryStore, RegistryMemoryState
from kiln.store.protocols.registry import RegistryStore
from kiln.testing.registry_contract import RegistryStoreContract, TickingClock


@pytest.fixture
def registry_state() -> RegistryMemoryState:
    return RegistryMemoryState()


@pytest.fixture
def registry_clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def registry_store(
    registry_state: RegistryMemoryState, registry_clock: TickingClock
) -> RegistryStore:
    return MemoryRegistryStore("default", state=registry_state, clock=registry_clock)


@pytest.fixture
def other_registry_store(
    registry_state: RegistryMemoryState, registry_clock: TickingClock
) -> RegistryStore:
    return MemoryRegistryStore("other", state=registry_state, clock=registry_clock)


class TestMemoryRegistryStore(RegistryStoreContract):
    pass


def test_memory_store_satisfies_the_protocol() -> None:
    assert isinstance(MemoryRegistryStore(), RegistryStore)
