"""``AuditLog`` in process memory: the reference implementation of the contract.

The memory tracking, registry and logged-model stores append to the log their
state holds (``MemoryTrackingState.audit`` and the others); give their states one
``MemoryAuditLog`` to read every kind's events in one chain. Thread-safe: one lock
serializes appends, so the chain never forks.
"""

from __future__ import annotations

import dataclasses
import threading

from kiln.entities import Page
from kiln.entities.auth import AuditEvent
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.rules.audit import (
    chained,
    check_event,
    event_page,
    first_broken,
    page_start,
    resource_matches,
)


class MemoryAuditLog:
    """An append-only list of chained events, guarded by a lock."""

    def __init__(self, *, clock: Clock = wall_clock_ms) -> None:
        self._events: list[AuditEvent] = []
        self._lock = threading.Lock()
        self._clock = clock

    def append(self, event: AuditEvent) -> AuditEvent:
        check_event(event)
        with self._lock:
            last = self._events[-1] if self._events else None
            stored = chained(
                event,
                event_id=1 if last is None else last.event_id + 1,
                now=self._clock(),
                prev_hash="" if last is None else last.hash,
            )
            self._events.append(stored)
        return stored

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
        with self._lock:
            events = list(self._events)
        found: list[AuditEvent] = []
        for event in reversed(events):
            if before is not None and event.event_id >= before:
                continue
            if (
                (tenant is None or event.tenant == tenant)
                and (actor is None or event.actor == actor)
                and (action is None or event.action == action)
                and resource_matches(resource, event.resource)
            ):
                found.append(event)
                if len(found) > max_results:
                    break
        return event_page(found, max_results, fingerprint)

    def verify(self) -> int | None:
        with self._lock:
            events = list(self._events)
        return first_broken(events)[0]

    def tamper(self, event_id: int, **changes: object) -> None:
        """Edit a stored event in place: for tests that prove ``verify`` catches it."""
        with self._lock:
            for index, event in enumerate(self._events):
                if event.event_id == event_id:
                    self._events[index] = dataclasses.replace(event, **changes)  # type: ignore[arg-type]


def open_memory_audit_log(uri: str = "memory://") -> MemoryAuditLog:
    """A fresh, empty log (a ``memory://`` URI names a new database each time)."""
    return MemoryAuditLog()


__all__ = ["MemoryAuditLog", "open_memory_audit_log"]
