"""What the ``AuthStore`` contract's parts share: sample tokens and sessions, and
the audit lines a test reads back (oldest first, as tuples it can compare)."""

from __future__ import annotations

from typing import Any

from kiln.entities.auth import ApiToken, AuditEvent, Role, Session
from kiln.store.protocols.audit import AuditLog
from kiln.testing.contracts.support import T0

HASH_A = "a" * 64
HASH_B = "b" * 64


def token(
    token_id: str = "t1",
    *,
    user: str = "alice",
    tenant: str = "team-a",
    role: Role = Role.MEMBER,
    expires_at: int | None = None,
) -> ApiToken:
    return ApiToken(token_id, user, tenant, role, name="ci", created_at=T0, expires_at=expires_at)


def session(session_id: str = "s1", *, user: str = "alice", tenant: str = "team-a") -> Session:
    return Session(session_id, user, tenant, T0, T0, T0 + 3_600_000)


def events(audit_log: AuditLog) -> list[AuditEvent]:
    """Every event of the log, oldest first."""
    return list(reversed(audit_log.list_events(max_results=1000).items))


def shape(event: AuditEvent) -> tuple[Any, ...]:
    """(action, resource, tenant, actor, before, after) of ``event``."""
    return (event.action, event.resource, event.tenant, event.actor, event.before, event.after)


def lines_since(audit_log: AuditLog, since: int) -> list[tuple[Any, ...]]:
    """The ``shape`` of every event after the first ``since``, oldest first."""
    return [shape(event) for event in events(audit_log)[since:]]


__all__ = ["HASH_A", "HASH_B", "events", "lines_since", "session", "shape", "token"]
