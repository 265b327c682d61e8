"""The ``AuditLog`` contract: an append-only record of who changed what.

Backends: memory and SQL (table ``audit_events``, migration 0007). The SQL
tracking, registry and auth stores append their own rows *inside the transaction
of the change* (``kiln.store.sql.audit.append_event``), so a change is never
kept without its line, nor a line without its change; this protocol is for the
events no store write carries (logins, failed logins) and for reading.

Contract (``kiln.testing.contracts.audit``):

* ``append`` stores an event and answers it with its ``event_id`` (increasing),
  ``timestamp`` (now, when 0 is given), ``prev_hash`` and ``hash``: ``hash`` is the
  sha256 of ``prev_hash`` and the event's canonical JSON (``kiln.store.rules.audit
  .event_hash``); the first event's ``prev_hash`` is ``""``. Appends are
  serialized, so the chain has no fork.
* ``list_events`` answers newest first, filtered by tenant (None: every tenant),
  resource (exact, or a prefix when it ends with ``*``), actor and action, at most
  ``max_results`` (1..1000) per page, with a page token.
* ``verify`` walks the whole chain oldest first and answers the id of the first
  event whose hash does not match, or None when the chain holds.
* Nothing updates or deletes an event.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiln.entities import Page
from kiln.entities.auth import AuditEvent


@runtime_checkable
class AuditLog(Protocol):
    """Append and read audit events."""

    def append(self, event: AuditEvent) -> AuditEvent: ...

    def list_events(
        self,
        *,
        tenant: str | None = None,
        resource: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]: ...

    def verify(self) -> int | None: ...


__all__ = ["AuditLog"]
