"""The SQL audit log (SQLite and PostgreSQL): table ``audit_events``, migration 0007.

Stores write their events with ``append_event`` on the connection of the change,
inside its transaction: the line is committed with the change or not at all. The
chain must not fork, so appends are serialized: on PostgreSQL by a transaction-level
advisory lock taken just before the last hash is read (released at commit); on
SQLite every write transaction already holds the database's write lock
(``BEGIN IMMEDIATE``). Call it last in a transaction, after the row locks the
change takes, so that the advisory lock is held only until the commit.

Event ids are given here (the last id + 1, under that lock), not by a sequence,
so they have no gaps and the hash can cover them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection, Engine

from kiln.entities import Page
from kiln.entities.auth import AuditEvent
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.rules.audit import (
    canonical_json,
    chained,
    check_event,
    event_page,
    first_broken,
    page_start,
)
from kiln.store.sql.audit_schema import audit_events
from kiln.store.sql.engine import (
    SHARED_ENGINES,
    EnginePool,
    normalize_uri,
    read_transaction,
    write_transaction,
)

# Any fixed 64-bit number: the PostgreSQL advisory lock that serializes appends.
_PG_AUDIT_LOCK = 0x6B696C6E_61756474  # "kilnaudt"
_VERIFY_CHUNK = 1000


def append_event(
    conn: Connection, event: AuditEvent, *, clock: Clock = wall_clock_ms
) -> AuditEvent:
    """Append ``event`` to the chain inside the caller's write transaction.

    Raises:
        InvalidInput: the event lacks a tenant, actor, action or resource.
    """
    check_event(event)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
    last = conn.execute(
        select(audit_events.c.event_id, audit_events.c.hash)
        .order_by(audit_events.c.event_id.desc())
        .limit(1)
    ).first()
    stored = chained(
        event,
        event_id=1 if last is None else int(last.event_id) + 1,
        now=clock(),
        prev_hash="" if last is None else str(last.hash),
    )
    conn.execute(insert(audit_events).values(**_row(stored)))
    return stored


def _row(event: AuditEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "tenant": event.tenant,
        "actor": event.actor,
        "action": event.action,
        "resource": event.resource,
        "before": None if event.before is None else canonical_json(event.before),
        "after": None if event.after is None else canonical_json(event.after),
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        event_id=int(row.event_id),
        timestamp=int(row.timestamp),
        tenant=row.tenant,
        actor=row.actor,
        action=row.action,
        resource=row.resource,
        before=None if row.before is None else json.loads(row.before),
        after=None if row.after is None else json.loads(row.after),
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlAuditLog:
    """``AuditLog`` over the ``audit_events`` table of a Kiln database."""

    def __init__(self, engine: Engine, *, clock: Clock = wall_clock_ms) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> Engine:
        """The shared engine (for tests and maintenance tools)."""
        return self._engine

    def append(self, event: AuditEvent) -> AuditEvent:
        check_event(event)
        with write_transaction(self._engine) as conn:
            return append_event(conn, event, clock=self._clock)

    def list_events(
        self,
        *,
        tenant: str | None = None,
        resource: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        fingerprint, before = page_start(max_results, page_token, tenant, resource, actor, action)
        columns = audit_events.c
        where = []
        if tenant is not None:
            where.append(columns.tenant == tenant)
        if actor is not None:
            where.append(columns.actor == actor)
        if action is not None:
            where.append(columns.action == action)
        if resource is not None:
            if resource.endswith("*"):
                where.append(columns.resource.startswith(resource[:-1], autoescape=True))
            else:
                where.append(columns.resource == resource)
        if before is not None:
            where.append(columns.event_id < before)
        query = (
            select(audit_events)
            .where(*where)
            .order_by(columns.event_id.desc())
            .limit(max_results + 1)
        )
        with read_transaction(self._engine) as conn:
            events = [_event(row) for row in conn.execute(query)]
        return event_page(events, max_results, fingerprint)

    def verify(self) -> int | None:
        prev_hash, after = "", 0
        with read_transaction(self._engine) as conn:
            while True:
                rows = conn.execute(
                    select(audit_events)
                    .where(audit_events.c.event_id > after)
                    .order_by(audit_events.c.event_id)
                    .limit(_VERIFY_CHUNK)
                ).all()
                if not rows:
                    return None
                broken, prev_hash = first_broken([_event(row) for row in rows], prev_hash)
                if broken is not None:
                    return broken
                after = int(rows[-1].event_id)


def open_sql_audit_log(
    uri: str, *, engines: EnginePool | None = None, clock: Clock = wall_clock_ms
) -> SqlAuditLog:
    """The audit log of the SQL database at ``uri`` (migrated to head on first open),
    on the engine ``engines`` owns (by default the process's ``SHARED_ENGINES``)."""
    engine = (engines or SHARED_ENGINES).engine(normalize_uri(uri))
    return SqlAuditLog(engine, clock=clock)


__all__ = ["SqlAuditLog", "append_event", "open_sql_audit_log"]
