"""The contract every ``AuditLog`` passes (see ``kiln.store.protocols.audit``).

A backend's test class subclasses ``AuditLogContract`` and provides two fixtures:
``audit_log`` (a fresh, empty log built with a ``TickingClock``) and ``tamper`` (a
callable ``tamper(event_id, **columns)`` that edits a stored event behind the log's
back, as someone with write access to the database could).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest

from kiln.entities.auth import AuditEvent
from kiln.errors import InvalidInput
from kiln.store.protocols.audit import AuditLog
from kiln.store.rules.audit import event_hash
from kiln.testing.contracts.support import T0

Tamper = Callable[..., None]


def event(
    action: str = "run.delete",
    resource: str = "run:abc",
    *,
    tenant: str = "default",
    actor: str = "alice",
    timestamp: int = 0,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
) -> AuditEvent:
    """An event to append (id, hashes filled in by the log)."""
    return AuditEvent(
        event_id=0,
        timestamp=timestamp,
        tenant=tenant,
        actor=actor,
        action=action,
        resource=resource,
        before=before,
        after=after,
        detail=detail,
    )


def _all(log: AuditLog, **filters: Any) -> list[AuditEvent]:
    out: list[AuditEvent] = []
    token: str | None = None
    while True:
        page = log.list_events(page_token=token, **filters)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


class AuditLogContract:
    """Subclass in a test module that defines ``audit_log`` and ``tamper``."""

    # append -------------------------------------------------------------------------
    def test_append_answers_the_chained_event(self, audit_log: AuditLog) -> None:
        first = audit_log.append(event(before={"stage": "active"}, after={"stage": "deleted"}))
        second = audit_log.append(event("model.delete", "model:churn", timestamp=T0 - 5))
        assert first.event_id >= 1
        assert second.event_id > first.event_id
        assert first.timestamp > T0  # now, from the log's clock
        assert second.timestamp == T0 - 5  # a given time is kept
        assert first.prev_hash == ""
        assert first.hash == event_hash("", first)
        assert second.prev_hash == first.hash
        assert second.hash == event_hash(first.hash, second)
        assert (first.actor, first.action, first.resource) == ("alice", "run.delete", "run:abc")
        assert first.before == {"stage": "active"}
        assert first.after == {"stage": "deleted"}

    def test_list_answers_what_append_answered(self, audit_log: AuditLog) -> None:
        stored = audit_log.append(
            event(
                "model.alias.set",
                "model:churn",
                before={"version": None, "nested": {"b": [1, 2.5, "é"]}},
                after={"version": 3},
                detail="champion",
            )
        )
        assert audit_log.list_events().items == [stored]

    @pytest.mark.parametrize("field", ["tenant", "actor", "action", "resource"])
    def test_an_event_without_a_required_field_is_refused(
        self, audit_log: AuditLog, field: str
    ) -> None:
        empty: dict[str, Any] = {field: ""}
        bad = dataclasses.replace(event(), **empty)
        with pytest.raises(InvalidInput, match=f"needs a {field}"):
            audit_log.append(bad)
        assert audit_log.list_events().items == []

    def test_before_after_must_be_plain_json(self, audit_log: AuditLog) -> None:
        with pytest.raises(InvalidInput, match="plain JSON"):
            audit_log.append(event(after={"when": object()}))
        with pytest.raises(InvalidInput, match="plain JSON"):
            audit_log.append(event(after={"x": float("nan")}))
        assert audit_log.list_events().items == []
        assert audit_log.verify() is None

    def test_concurrent_appends_never_fork_the_chain(self, audit_log: AuditLog) -> None:
        def worker(n: int) -> None:
            for i in range(10):
                audit_log.append(event(resource=f"run:{n}-{i}"))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = _all(audit_log, max_results=7)
        assert len(events) == 60
        assert len({e.event_id for e in events}) == 60
        assert len({e.prev_hash for e in events}) == 60  # no two events share a parent
        assert audit_log.verify() is None

    # list ---------------------------------------------------------------------------
    def test_list_is_newest_first_and_filters(self, audit_log: AuditLog) -> None:
        a = audit_log.append(event("run.delete", "run:1", tenant="default", actor="alice"))
        b = audit_log.append(event("model.delete", "model:churn", tenant="acme", actor="bob"))
        c = audit_log.append(event("version.delete", "model:churn/2", tenant="acme"))
        d = audit_log.append(event("model.rename", "model:churner", tenant="acme"))
        assert audit_log.list_events().items == [d, c, b, a]
        assert audit_log.list_events(tenant="acme").items == [d, c, b]
        assert audit_log.list_events(tenant="nobody").items == []
        assert audit_log.list_events(actor="bob").items == [b]
        assert audit_log.list_events(action="run.delete").items == [a]
        assert audit_log.list_events(resource="model:churn").items == [b]
        assert audit_log.list_events(resource="model:churn*").items == [d, c, b]
        assert audit_log.list_events(resource="model:churn/*").items == [c]
        assert audit_log.list_events(tenant="acme", actor="alice", action="model.rename").items == [
            d
        ]

    def test_a_resource_prefix_has_no_wildcards_but_the_star(self, audit_log: AuditLog) -> None:
        audit_log.append(event(resource="model:a_b"))
        audit_log.append(event(resource="model:axb"))
        audit_log.append(event(resource="model:a%b"))
        found = audit_log.list_events(resource="model:a_*").items
        assert [e.resource for e in found] == ["model:a_b"]
        found = audit_log.list_events(resource="model:a%*").items
        assert [e.resource for e in found] == ["model:a%b"]

    def test_pages(self, audit_log: AuditLog) -> None:
        stored = [audit_log.append(event(resource=f"run:{i}")) for i in range(7)]
        first = audit_log.list_events(max_results=3)
        assert first.items == stored[::-1][:3]
        assert first.next_page_token is not None
        second = audit_log.list_events(max_results=3, page_token=first.next_page_token)
        assert second.items == stored[::-1][3:6]
        # Events appended meanwhile do not shift the pages that follow.
        audit_log.append(event(resource="run:new"))
        third = audit_log.list_events(max_results=3, page_token=second.next_page_token)
        assert third.items == stored[:1]
        assert third.next_page_token is None
        exact = audit_log.list_events(max_results=8)
        assert len(exact.items) == 8
        assert exact.next_page_token is None

    def test_a_page_token_is_bound_to_its_filters(self, audit_log: AuditLog) -> None:
        for i in range(3):
            audit_log.append(event(resource=f"run:{i}"))
        token = audit_log.list_events(max_results=1).next_page_token
        assert token is not None
        with pytest.raises(InvalidInput, match="different search"):
            audit_log.list_events(max_results=1, page_token=token, actor="bob")
        with pytest.raises(InvalidInput, match="invalid page token"):
            audit_log.list_events(page_token="not-a-token")

    @pytest.mark.parametrize("bad", [0, -1, 1001])
    def test_max_results_is_bounded(self, audit_log: AuditLog, bad: int) -> None:
        with pytest.raises(InvalidInput, match="between 1 and 1000"):
            audit_log.list_events(max_results=bad)

    # verify -------------------------------------------------------------------------
    def test_an_empty_or_intact_chain_verifies(self, audit_log: AuditLog) -> None:
        assert audit_log.verify() is None
        for i in range(5):
            audit_log.append(event(resource=f"run:{i}", after={"i": i}))
        assert audit_log.verify() is None

    @pytest.mark.parametrize(
        "changes",
        [
            {"actor": "mallory"},
            {"after": {"version": 99}},
            {"timestamp": T0},
            {"hash": "0" * 64},
            {"prev_hash": "f" * 64},
        ],
        ids=["actor", "after", "timestamp", "hash", "prev_hash"],
    )
    def test_an_edited_event_breaks_the_chain(
        self, audit_log: AuditLog, tamper: Tamper, changes: dict[str, Any]
    ) -> None:
        stored = [
            audit_log.append(event(resource=f"run:{i}", after={"version": i})) for i in range(4)
        ]
        tamper(stored[2].event_id, **changes)
        assert audit_log.verify() == stored[2].event_id

    def test_a_rehashed_edit_still_breaks_the_next_link(
        self, audit_log: AuditLog, tamper: Tamper
    ) -> None:
        stored = [audit_log.append(event(resource=f"run:{i}")) for i in range(3)]
        forged = dataclasses.replace(stored[1], actor="mallory")
        tamper(stored[1].event_id, actor="mallory", hash=event_hash(forged.prev_hash, forged))
        assert audit_log.verify() == stored[2].event_id


__all__ = ["AuditLogContract", "Tamper", "event"]
