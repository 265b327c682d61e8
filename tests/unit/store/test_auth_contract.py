"""Auth stores: the contract suite on memory, SQLite and PostgreSQL, plus what only
the SQL backend has (its schema and migration, one SELECT per token lookup, roles
stored as their labels) and ``open_auth_store``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, text

from kiln.entities import DEFAULT_EXPERIMENT_ID
from kiln.entities.auth import DEFAULT_TENANT, Role
from kiln.errors import InvalidInput, InvalidUri
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.memory.auth import MemoryAuthStore
from kiln.store.memory.logged_models import LoggedModelMemoryState, MemoryLoggedModelStore
from kiln.store.memory.registry import MemoryRegistryStore, RegistryMemoryState
from kiln.store.memory.state import MemoryTrackingState
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.store.open import open_auth_store
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.sql import schema
from kiln.store.sql.audit import SqlAuditLog
from kiln.store.sql.auth import AUTH_TABLES, SqlAuthStore, auth_metadata, open_sql_auth_store
from kiln.store.sql.engine import EnginePool, WouldBlock, head_revision, no_wait, normalize_uri
from kiln.store.sql.logged_models import open_sql_logged_model_store
from kiln.store.sql.registry import open_sql_registry_store
from kiln.store.sql.tracking import open_sql_store
from kiln.testing.contracts.auth import (
    HASH_A,
    HASH_B,
    AuthStoreContract,
    HoldData,
    session,
    token,
)


class TestMemoryAuth(AuthStoreContract):
    @pytest.fixture
    def tracking(self) -> MemoryTrackingState:
        return MemoryTrackingState()

    @pytest.fixture
    def registry(self) -> RegistryMemoryState:
        return RegistryMemoryState()

    @pytest.fixture
    def logged_models(self) -> LoggedModelMemoryState:
        return LoggedModelMemoryState()

    @pytest.fixture
    def audit_log(self) -> AuditLog:
        return MemoryAuditLog()

    @pytest.fixture
    def auth_store(
        self,
        audit_log: MemoryAuditLog,
        tracking: MemoryTrackingState,
        registry: RegistryMemoryState,
        logged_models: LoggedModelMemoryState,
    ) -> AuthStore:
        return MemoryAuthStore(
            audit=audit_log, tracking=tracking, registry=registry, logged_models=logged_models
        )

    @pytest.fixture
    def hold_data(
        self,
        tracking: MemoryTrackingState,
        registry: RegistryMemoryState,
        logged_models: LoggedModelMemoryState,
    ) -> HoldData:
        return lambda tenant, kind: put(
            kind,
            MemoryTrackingStore(workspace=tenant, state=tracking),
            lambda: MemoryRegistryStore(workspace=tenant, state=registry),
            lambda: MemoryLoggedModelStore(workspace=tenant, state=logged_models),
        )


def put(
    kind: str,
    tracking: TrackingStore,
    registry: Callable[[], RegistryStore],
    logged_models: Callable[[], LoggedModelStore],
) -> None:
    """One object of ``kind`` through a tenant's stores (see ``HELD_KINDS``)."""
    if kind == "run":
        tracking.create_run(tracking.get_experiment_by_name("Default").experiment_id)
    elif kind == "experiment":
        tracking.create_experiment("kept")
    elif kind == "registered_model":
        registry().create_registered_model("kept")
    elif kind == "logged_model":
        logged_models().create_logged_model("1", "mlflow-artifacts:/1", name="kept")
    else:
        assert kind == "open", kind


class SqlAuth(AuthStoreContract):
    """The fixtures of both SQL backends, over ``db_uri``."""

    @pytest.fixture
    def pool(self) -> Iterator[EnginePool]:
        with EnginePool() as pool:
            yield pool

    @pytest.fixture
    def audit_log(self, db_uri: str, pool: EnginePool) -> AuditLog:
        return SqlAuditLog(pool.engine(normalize_uri(db_uri)))

    @pytest.fixture
    def auth_store(self, db_uri: str, pool: EnginePool) -> AuthStore:
        return open_sql_auth_store(db_uri, engines=pool)

    @pytest.fixture
    def hold_data(self, db_uri: str, pool: EnginePool) -> HoldData:
        return lambda tenant, kind: put(
            kind,
            open_sql_store(db_uri, workspace=tenant, engines=pool),
            lambda: open_sql_registry_store(db_uri, workspace=tenant, engines=pool),
            lambda: open_sql_logged_model_store(db_uri, workspace=tenant, engines=pool),
        )


class TestSqliteAuth(SqlAuth):
    @pytest.fixture
    def db_uri(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'kiln.db'}"


@pytest.mark.postgres
@pytest.mark.integration
class TestPostgresAuth(SqlAuth):
    @pytest.fixture
    def db_uri(self, postgres_db_uri: str) -> str:
        return postgres_db_uri


# the SQL backend only ------------------------------------------------------------------
@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kiln.db'}"


@pytest.fixture
def pool() -> Iterator[EnginePool]:
    with EnginePool() as pool:
        yield pool


def test_migration_creates_the_auth_tables_as_declared(sqlite_uri: str, pool: EnginePool) -> None:
    engine = pool.engine(normalize_uri(sqlite_uri))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        diffs = compare_metadata(context, auth_metadata)
    names = {table.name for table in AUTH_TABLES}
    relevant = [d for d in diffs if not (d[0] == "remove_table" and d[1].name not in names)]
    relevant = [
        d for d in relevant if not (d[0] == "remove_index" and d[1].table.name not in names)
    ]
    assert relevant == []


def test_a_fresh_tracking_database_has_the_default_tenant(
    sqlite_uri: str, pool: EnginePool
) -> None:
    open_sql_store(sqlite_uri, workspace="default", engines=pool)  # the usual first open
    store = open_auth_store(sqlite_uri, engines=pool)
    assert isinstance(store, SqlAuthStore)
    assert [t.name for t in store.list_tenants()] == [DEFAULT_TENANT]


def test_token_and_session_lookups_are_one_select(sqlite_uri: str, pool: EnginePool) -> None:
    """Counted by SQLite itself (the lookup runs on the driver's cursor)."""
    store = open_sql_auth_store(sqlite_uri, engines=pool)
    store.create_tenant("team-a")
    store.create_user("alice", None)
    store.set_membership("alice", "team-a", Role.MEMBER)
    store.create_token(token(), HASH_A)
    made = store.create_session(session(), HASH_B)
    statements: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(store.engine, "connect", trace)
    store.engine.dispose()  # new connections, traced
    grant = store.token_grant(HASH_A)
    assert grant is not None
    assert (grant.role, grant.user.name, grant.token.token_id) == (Role.MEMBER, "alice", "t1")
    assert [s.split()[0].upper() for s in statements] == ["SELECT"], statements
    assert all(name in statements[0] for name in ("api_tokens", "users", "memberships"))
    statements.clear()
    assert store.session_by_hash(HASH_B) == made
    assert [s.split()[0].upper() for s in statements] == ["SELECT"], statements
    statements.clear()
    with no_wait():  # the event loop: SQLite's own read connection, never a pooled one
        assert store.token_grant(HASH_A) == grant
    assert statements == []  # not on the engine's (traced) connections
    memory = open_sql_auth_store("sqlite://", engines=pool)
    with no_wait(), pytest.raises(WouldBlock, match="may wait for a pooled connection"):
        memory.token_grant(HASH_A)  # no read connection of its own: the thread path


def test_a_password_lookup_is_one_select(sqlite_uri: str, pool: EnginePool) -> None:
    """A Basic-auth request's read: the user, its hash and its roles in one SELECT."""
    store = open_sql_auth_store(sqlite_uri, engines=pool)
    store.create_tenant("team-a")
    store.create_tenant("team-b")
    store.create_user("alice", "argon2-hash")
    store.set_membership("alice", "team-b", Role.VIEWER)
    store.set_membership("alice", "team-a", Role.MEMBER)
    statements: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(store.engine, "connect", trace)
    store.engine.dispose()  # new connections, traced
    grant = store.password_grant("alice")
    assert grant is not None
    assert grant.roles == (("team-a", Role.MEMBER), ("team-b", Role.VIEWER))
    assert [s.split()[0].upper() for s in statements] == ["SELECT"], statements
    assert all(name in statements[0] for name in ("users", "memberships"))
    with no_wait(), pytest.raises(WouldBlock, match="a password lookup may wait"):
        store.password_grant("alice")  # never on the event loop


def test_roles_and_times_are_stored_plainly(sqlite_uri: str, pool: EnginePool) -> None:
    store = open_sql_auth_store(sqlite_uri, engines=pool)
    store.create_tenant("team-a")
    store.create_user("alice", None)
    store.set_membership("alice", "team-a", Role.PROJECT_ADMIN)
    store.set_group_binding("cn=ml", "team-a", Role.VIEWER)
    store.create_token(token(role=Role.MEMBER), HASH_A)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT role FROM memberships")).scalar() == "project-admin"
        assert conn.execute(text("SELECT role FROM group_bindings")).scalar() == "viewer"
        row = conn.execute(text("SELECT role, created_at, token_hash FROM api_tokens")).one()
    assert (row.role, row.token_hash) == ("member", HASH_A)
    assert row.created_at > 1_600_000_000_000  # epoch milliseconds


def _alembic(connection: object, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def check_upgrade_keeps_runs_in_default(db_uri: str) -> None:
    """A database at 0006 (before the audit log and auth) with runs in ``default`` and
    an experiment in another workspace: the upgrade to head makes a tenant of each."""
    with EnginePool() as first:
        store = open_sql_store(db_uri, workspace="default", engines=first)
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID, run_name="old").info.run_id
        open_sql_store(db_uri, workspace="legacy", engines=first).create_experiment("e")
    raw = create_engine(normalize_uri(db_uri))
    with raw.begin() as connection:
        _alembic(connection, "downgrade", "0006")
    with raw.connect() as connection:
        tables = set(raw.dialect.get_table_names(connection))
    raw.dispose()
    assert not {"tenants", "audit_events"} & tables
    with EnginePool() as pool:
        again = open_sql_store(db_uri, workspace="default", engines=pool)  # migrates to head
        assert again.get_run(run_id).info.run_name == "old"
        auth = open_sql_auth_store(db_uri, engines=pool)
        assert [t.name for t in auth.list_tenants()] == [DEFAULT_TENANT, "legacy"]
        assert auth.tenant_holds_data(DEFAULT_TENANT)
        assert auth.tenant_holds_data("legacy")
        auth.create_user("alice", None)  # and the audit table is there for its line
        assert auth.get_user("alice").name == "alice"


def test_upgrade_from_0006_keeps_runs_in_default_on_sqlite(sqlite_uri: str) -> None:
    check_upgrade_keeps_runs_in_default(sqlite_uri)


@pytest.mark.postgres
@pytest.mark.integration
def test_upgrade_from_0006_keeps_runs_in_default_on_postgresql(postgres_db_uri: str) -> None:
    check_upgrade_keeps_runs_in_default(postgres_db_uri)


def test_downgrade_drops_the_auth_tables(sqlite_uri: str, pool: EnginePool) -> None:
    open_sql_auth_store(sqlite_uri, engines=pool)
    pool.close()
    raw = create_engine(sqlite_uri)
    with raw.begin() as connection:
        _alembic(connection, "downgrade", "0007")
    with raw.connect() as connection:
        tables = set(raw.dialect.get_table_names(connection))
    raw.dispose()
    assert not {t.name for t in AUTH_TABLES} & tables
    assert "audit_events" in tables


# open_auth_store -----------------------------------------------------------------------
def test_open_auth_store_memory_is_fresh() -> None:
    store = open_auth_store("memory://")
    assert isinstance(store, MemoryAuthStore)
    assert [t.name for t in store.list_tenants()] == [DEFAULT_TENANT]
    assert open_auth_store("memory://").list_users() == []


@pytest.mark.parametrize(
    "uri", ["file:///tmp/mlruns", "/tmp/mlruns", "http://127.0.0.1:5000", "https://kiln.example"]
)
def test_open_auth_store_refuses_stores_without_sql(uri: str) -> None:
    with pytest.raises(InvalidInput, match=r"need a SQL store \(sqlite:// or postgresql://\)"):
        open_auth_store(uri)


def test_open_auth_store_refuses_an_empty_uri() -> None:
    with pytest.raises(InvalidUri, match="tracking URI is empty"):
        open_auth_store(" ")
