"""The audit log contract on memory, SQLite and PostgreSQL, and its opener."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from kiln.errors import InvalidInput, InvalidUri
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.open import open_audit_log
from kiln.store.protocols.audit import AuditLog
from kiln.store.sql.audit import SqlAuditLog
from kiln.store.sql.audit_schema import audit_events
from kiln.store.sql.engine import dispose_engine, engine_for, normalize_uri, write_transaction
from kiln.testing.contracts import TickingClock
from kiln.testing.contracts.audit import AuditLogContract, Tamper, event


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield uri
    dispose_engine(uri)


def _sql_tamper(log: SqlAuditLog) -> Tamper:
    def tamper(event_id: int, **changes: Any) -> None:
        values = {
            k: json.dumps(v) if k in ("before", "after") and v is not None else v
            for k, v in changes.items()
        }
        with write_transaction(log.engine) as conn:
            conn.execute(update(audit_events).where(audit_events.c.event_id == event_id), values)

    return tamper


class TestMemoryAuditLog(AuditLogContract):
    @pytest.fixture
    def audit_log(self) -> MemoryAuditLog:
        return MemoryAuditLog(clock=TickingClock())

    @pytest.fixture
    def tamper(self, audit_log: MemoryAuditLog) -> Tamper:
        return audit_log.tamper


class TestSqliteAuditLog(AuditLogContract):
    @pytest.fixture
    def audit_log(self, sqlite_uri: str) -> SqlAuditLog:
        return SqlAuditLog(engine_for(sqlite_uri), clock=TickingClock())

    @pytest.fixture
    def tamper(self, audit_log: SqlAuditLog) -> Tamper:
        return _sql_tamper(audit_log)


@pytest.mark.postgres
class TestPostgresAuditLog(AuditLogContract):
    @pytest.fixture
    def audit_log(self, postgres_db_uri: str) -> SqlAuditLog:
        return SqlAuditLog(engine_for(normalize_uri(postgres_db_uri)), clock=TickingClock())

    @pytest.fixture
    def tamper(self, audit_log: SqlAuditLog) -> Tamper:
        return _sql_tamper(audit_log)


def test_open_audit_log_picks_the_backend(sqlite_uri: str, tmp_path: Path) -> None:
    log = open_audit_log(sqlite_uri)
    assert isinstance(log, SqlAuditLog)
    assert isinstance(log, AuditLog)
    memory = open_audit_log("memory://")
    assert isinstance(memory, MemoryAuditLog)
    assert open_audit_log("memory://") is not memory  # each memory:// is a new database


@pytest.mark.parametrize("uri", ["file:///tmp/mlruns", "http://127.0.0.1:5000", "./mlruns"])
def test_open_audit_log_refuses_stores_without_transactions(uri: str) -> None:
    with pytest.raises(InvalidInput, match=r"needs a SQL store \(sqlite:// or postgresql://\)"):
        open_audit_log(uri)


def test_open_audit_log_refuses_an_empty_uri() -> None:
    with pytest.raises(InvalidUri, match="tracking URI is empty"):
        open_audit_log("  ")


def test_sql_appends_share_one_chain_across_logs(sqlite_uri: str) -> None:
    first = open_audit_log(sqlite_uri).append(event())
    second = open_audit_log(sqlite_uri).append(event(resource="run:def"))
    assert second.prev_hash == first.hash
    assert second.event_id == first.event_id + 1


def test_a_removed_event_breaks_the_chain_at_the_next(sqlite_uri: str) -> None:
    log = SqlAuditLog(engine_for(sqlite_uri), clock=TickingClock())
    stored = [log.append(event(resource=f"run:{i}")) for i in range(4)]
    with write_transaction(log.engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.event_id == stored[1].event_id))
    assert log.verify() == stored[2].event_id
