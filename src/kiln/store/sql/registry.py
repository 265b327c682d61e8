"""The SQL ``RegistryStore`` (SQLite and PostgreSQL), beside the SQL tracking store.

``SqlRegistryStore`` joins the registered-model half (``kiln.store.sql.registry_models``)
and the model-version half (``kiln.store.sql.registry_versions``) over the row
helpers of ``kiln.store.sql.registry_rows``; the tables are in
``kiln.store.sql.registry_schema``. Every table carries ``workspace`` and every query
filters on it.

Searches push equality on ``name``/``run_id`` down to SQL and evaluate the rest
of the filter with the same Python rules as the memory store
(``kiln.store.query.registry``), so both backends agree on MLflow's semantics to the
letter (LIKE case-sensitivity, prompt exclusion, tiebreaks). Registries hold
hundreds to thousands of models, not millions of rows; that trade is deliberate.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.sql.engine import SHARED_ENGINES, EnginePool, normalize_uri
from kiln.store.sql.registry_models import SqlRegisteredModels
from kiln.store.sql.registry_schema import REGISTRY_TABLES, registry_metadata
from kiln.store.sql.registry_versions import SqlModelVersions


class SqlRegistryStore(SqlRegisteredModels, SqlModelVersions):
    """``RegistryStore`` over the SQL database of the tracking store."""

    def __init__(
        self,
        engine: Engine,
        *,
        workspace: str,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self._engine = engine
        self._workspace = workspace
        self._clock = clock

    @property
    def workspace(self) -> str:
        return self._workspace


def open_sql_registry_store(
    uri: str,
    *,
    workspace: str,
    clock: Clock = wall_clock_ms,
    engines: EnginePool | None = None,
) -> SqlRegistryStore:
    """Open the registry in the SQL database at ``uri`` (migrated to head on first open),
    on the engine ``engines`` owns (by default the process's ``SHARED_ENGINES``)."""
    engine = (engines or SHARED_ENGINES).engine(normalize_uri(uri))
    return SqlRegistryStore(engine, workspace=workspace, clock=clock)


__all__ = [
    "REGISTRY_TABLES",
    "SqlRegistryStore",
    "open_sql_registry_store",
    "registry_metadata",
]
