"""The SQL registry store passes the registry contract on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kiln.store.protocols.registry import RegistryStore
from kiln.store.sql.engine import dispose_engine, engine_for, head_revision, normalize_uri
from kiln.store.sql.registry import REGISTRY_TABLES, SqlRegistryStore, registry_metadata
from kiln.testing.contracts import RegistryStoreContract, TickingClock


@pytest.fixture
def registry_clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield uri
    dispose_engine(uri)


class TestSqliteRegistryStore(RegistryStoreContract):
    @pytest.fixture
    def registry_store(self, sqlite_uri: str, registry_clock: TickingClock) -> RegistryStore:
        return SqlRegistryStore(engine_for(sqlite_uri), workspace="default", clock=registry_clock)

    @pytest.fixture
    def open_workspace(
        self, sqlite_uri: str, registry_clock: TickingClock
    ) -> Callable[[str], RegistryStore]:
        engine = engine_for(sqlite_uri)
        return lambda workspace: SqlRegistryStore(engine, workspace=workspace, clock=registry_clock)


@pytest.mark.postgres
@pytest.mark.integration
class TestPostgresRegistryStore(RegistryStoreContract):
    @pytest.fixture
    def registry_store(self, postgres_db_uri: str, registry_clock: TickingClock) -> RegistryStore:
        url = normalize_uri(postgres_db_uri)
        return SqlRegistryStore(engine_for(url), workspace="default", clock=registry_clock)

    @pytest.fixture
    def open_workspace(
        self, postgres_db_uri: str, registry_clock: TickingClock
    ) -> Callable[[str], RegistryStore]:
        engine = engine_for(normalize_uri(postgres_db_uri))
        return lambda workspace: SqlRegistryStore(engine, workspace=workspace, clock=registry_clock)


def test_migration_creates_the_registry_tables_as_declared(sqlite_uri: str) -> None:
    engine = engine_for(sqlite_uri)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        diffs = compare_metadata(context, registry_metadata)
    names = {table.name for table in REGISTRY_TABLES}
    # compare_metadata reports the tracking tables as "removed": keep only the registry's.
    relevant = [d for d in diffs if not (d[0] == "remove_table" and d[1].name not in names)]
    relevant = [
        d for d in relevant if not (d[0] == "remove_index" and d[1].table.name not in names)
    ]
    assert relevant == []


def test_store_satisfies_the_protocol(sqlite_uri: str) -> None:
    assert isinstance(SqlRegistryStore(engine_for(sqlite_uri), workspace="default"), RegistryStore)
