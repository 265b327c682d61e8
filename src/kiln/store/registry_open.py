"""URI scheme -> ``RegistryStore`` implementation: the registry's table of backends.

The registry lives where the tracking data lives: the same SQLite or PostgreSQL
database, the same mlruns folder (MLflow's file-registry layout), or the same
server. Implementations are imported lazily (a REST registry never loads SQLAlchemy).
"""

from __future__ import annotations

import importlib
from urllib.parse import urlparse

from kiln.entities import DEFAULT_WORKSPACE
from kiln.errors import InvalidUri
from kiln.store.registry_base import RegistryStore

# scheme -> "module:factory"; each factory takes (uri, workspace=...).
REGISTRY_STORES: dict[str, str] = {
    "sqlite": "kiln.store.sql.registry:open_sql_registry_store",
    "postgresql": "kiln.store.sql.registry:open_sql_registry_store",
    "postgres": "kiln.store.sql.registry:open_sql_registry_store",
    "http": "kiln.store.registry_rest:open_rest_registry_store",
    "https": "kiln.store.registry_rest:open_rest_registry_store",
    "memory": "kiln.store.registry_open:open_memory_registry_store",
    "file": "kiln.store.file.registry:open_file_registry_store",
}


def open_memory_registry_store(uri: str, *, workspace: str = DEFAULT_WORKSPACE) -> RegistryStore:
    """A fresh, empty in-process registry (``memory://``)."""
    from kiln.store.registry_memory import MemoryRegistryStore

    return MemoryRegistryStore(workspace)


def open_registry_store(uri: str, workspace: str = DEFAULT_WORKSPACE) -> RegistryStore:
    """Open the registry kept at a tracking URI.

    Raises:
        InvalidUri: the scheme has no registry backend.
    """
    scheme = urlparse(uri).scheme.lower().split("+", 1)[0]
    target = REGISTRY_STORES.get(scheme)
    if target is None:
        known = ", ".join(sorted(f"{s}://" for s in REGISTRY_STORES))
        raise InvalidUri(
            f"no model registry for tracking URI {uri!r}: the registry needs one of {known}"
        )
    module, _, name = target.partition(":")
    factory = getattr(importlib.import_module(module), name)
    store = factory(uri, workspace=workspace)
    assert isinstance(store, RegistryStore)
    return store


__all__ = ["REGISTRY_STORES", "open_memory_registry_store", "open_registry_store"]
