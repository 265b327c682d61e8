"""The audit log's hash chain and its paging: one copy for every backend.

Each event's ``hash`` is the sha256 of the previous event's hash and the event's
canonical JSON (every field but the two hashes, keys sorted, no spaces), so editing,
removing or reordering a stored row breaks the chain from that row on, and
``verify`` names it. The memory and SQL logs compute hashes here, so a log copied
from one to the other verifies the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from kiln.entities import Page
from kiln.entities.auth import AuditEvent
from kiln.errors import InvalidInput
from kiln.store.audit_context import current_actor
from kiln.store.query.page_token import decode_page_token, encode_page_token

MAX_RESULTS_LIMIT = 1000
# Fields the hash covers: everything the event says, not the chain itself.
_HASHED = (
    "event_id",
    "timestamp",
    "tenant",
    "actor",
    "action",
    "resource",
    "before",
    "after",
    "detail",
)


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces (a NaN is refused: JSON has none).

    Raises:
        InvalidInput: ``value`` holds something JSON cannot carry.
    """
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"an audit event must be plain JSON: {error}") from None


def event_json(event: AuditEvent) -> str:
    """The canonical JSON of what ``event`` says (its hashes left out)."""
    return canonical_json({name: getattr(event, name) for name in _HASHED})


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """sha256 (hex) of the previous hash, a newline and ``event_json(event)``."""
    return hashlib.sha256(f"{prev_hash}\n{event_json(event)}".encode()).hexdigest()


def store_event(
    tenant: str,
    action: str,
    resource: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    timestamp: int = 0,
) -> AuditEvent:
    """The event a store writes for a change it makes now, by ``current_actor()``
    (its id and hashes are filled in when it is appended, and its timestamp too
    when 0; an auth store passes its own clock's)."""
    return AuditEvent(
        event_id=0,
        timestamp=timestamp,
        tenant=tenant,
        actor=current_actor(),
        action=action,
        resource=resource,
        before=before,
        after=after,
    )


def lifecycle_event(tenant: str, kind: str, object_id: str, before: str, after: str) -> AuditEvent:
    """``<kind>.delete`` or ``<kind>.restore`` (``kind``: experiment, run, logged_model)
    of ``<kind>:<id>``: its lifecycle stage before and after."""
    action = "delete" if after == "deleted" else "restore"
    return store_event(
        tenant,
        f"{kind}.{action}",
        f"{kind}:{object_id}",
        {"lifecycle_stage": before},
        {"lifecycle_stage": after},
    )


def model_resource(name: str, version: int | None = None) -> str:
    """``model:<name>``, or ``model:<name>/<version>`` for one version."""
    return f"model:{name}" if version is None else f"model:{name}/{version}"


def model_event(tenant: str, action: str, name: str, before: Any, after: Any) -> AuditEvent:
    """``model.delete`` / ``model.rename`` / ``model.alias.set`` / ``model.alias.delete``."""
    return store_event(tenant, action, model_resource(name), before, after)


def alias_event(
    tenant: str, name: str, alias: str, before: int | None, after: int | None
) -> AuditEvent:
    """``model.alias.set`` (``after``: the version it points at now) or, with
    ``after`` None, ``model.alias.delete``: the alias and its version before and after."""
    moved = None if after is None else {"alias": alias, "version": after}
    action = "model.alias.delete" if after is None else "model.alias.set"
    return model_event(tenant, action, name, {"alias": alias, "version": before}, moved)


def version_created(
    tenant: str, name: str, version: int, source: str, run_id: str | None
) -> AuditEvent:
    """``version.create``: where the new version's files come from."""
    after: dict[str, Any] = {"source": source}
    if run_id:
        after["run_id"] = run_id
    return store_event(tenant, "version.create", model_resource(name, version), None, after)


def version_deleted(tenant: str, name: str, version: int, stage: str, aliases: Any) -> AuditEvent:
    """``version.delete``: the stage it had and the aliases that went with it."""
    before = {"stage": stage, "aliases": sorted(aliases)}
    return store_event(tenant, "version.delete", model_resource(name, version), before, None)


def version_staged(
    tenant: str, name: str, version: int, before: str, after: str, archived: Any
) -> AuditEvent:
    """``version.stage``: the stage before and after, and the versions it archived."""
    moved: dict[str, Any] = {"stage": after}
    if archived:
        moved["archived_versions"] = sorted(archived)
    return store_event(
        tenant, "version.stage", model_resource(name, version), {"stage": before}, moved
    )


def chained(event: AuditEvent, *, event_id: int, now: int, prev_hash: str) -> AuditEvent:
    """``event`` as stored: its id, its timestamp (now when 0), linked to ``prev_hash``."""
    stored = dataclasses.replace(
        event,
        event_id=event_id,
        timestamp=event.timestamp or now,
        prev_hash=prev_hash,
        hash="",
    )
    return dataclasses.replace(stored, hash=event_hash(prev_hash, stored))


def check_event(event: AuditEvent) -> None:
    """Refuse an event missing its tenant, actor, action or resource.

    Raises:
        InvalidInput: an empty field, or a before/after that is not plain JSON.
    """
    for name in ("tenant", "actor", "action", "resource"):
        if not getattr(event, name):
            raise InvalidInput(f"an audit event needs a {name}")
    event_json(event)


def first_broken(events: Any, prev_hash: str = "") -> tuple[int | None, str]:
    """Walk ``events`` (oldest first) from ``prev_hash``: (the id of the first event
    whose links or hash do not match, or None; the last hash seen)."""
    for event in events:
        if event.prev_hash != prev_hash or event_hash(prev_hash, event) != event.hash:
            return int(event.event_id), prev_hash
        prev_hash = event.hash
    return None, prev_hash


def check_max_results(max_results: int) -> int:
    """Raises ``InvalidInput`` unless 1 <= ``max_results`` <= 1000."""
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidInput(f"max_results must be an integer, got {max_results!r}")
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}")
    return max_results


def list_fingerprint(
    tenant: str | None, resource: str | None, actor: str | None, action: str | None
) -> dict[str, Any]:
    """What a page token is bound to: the filters it was made for."""
    return {"tenant": tenant, "resource": resource, "actor": actor, "action": action}


def page_cursor(page_token: str | None, fingerprint: dict[str, Any]) -> int | None:
    """The event id a page starts below (newest first), or None for the first page.

    Raises:
        InvalidInput: a token not made by ``next_token`` for these filters.
    """
    if not page_token:
        return None
    return decode_page_token(page_token, fingerprint)


def next_token(last_event_id: int, fingerprint: dict[str, Any]) -> str:
    """The token of the page after one whose oldest event is ``last_event_id``."""
    return encode_page_token(last_event_id, fingerprint)


def page_start(
    max_results: int,
    page_token: str | None,
    tenant: str | None,
    resource: str | None,
    actor: str | None,
    action: str | None,
) -> tuple[dict[str, Any], int | None]:
    """Check a listing's arguments: (the fingerprint its tokens are bound to, the
    event id its page starts below or None).

    Raises:
        InvalidInput: a bad ``max_results``, or a token not made for these filters.
    """
    check_max_results(max_results)
    fingerprint = list_fingerprint(tenant, resource, actor, action)
    return fingerprint, page_cursor(page_token, fingerprint)


def event_page(
    events: list[AuditEvent], max_results: int, fingerprint: dict[str, Any]
) -> Page[AuditEvent]:
    """The page of ``events`` (newest first; one more than ``max_results`` read
    tells that another page follows, and gives it a token)."""
    if len(events) > max_results:
        page = events[:max_results]
        return Page(page, next_token(page[-1].event_id, fingerprint))
    return Page(events)


def resource_matches(pattern: str | None, resource: str) -> bool:
    """Exact match, or a prefix match when ``pattern`` ends with ``*``."""
    if pattern is None:
        return True
    if pattern.endswith("*"):
        return resource.startswith(pattern[:-1])
    return resource == pattern


def event_row(event: AuditEvent) -> dict[str, Any]:
    """An event as a flat dict (for JSON/CSV output and the REST answer)."""
    return dataclasses.asdict(event)


def event_from_row(row: dict[str, Any]) -> AuditEvent:
    """The inverse of ``event_row`` (a REST answer back into an event)."""
    fields = {f.name for f in dataclasses.fields(AuditEvent)}
    return AuditEvent(**{k: v for k, v in row.items() if k in fields})


__all__ = [
    "MAX_RESULTS_LIMIT",
    "alias_event",
    "canonical_json",
    "chained",
    "check_event",
    "check_max_results",
    "event_from_row",
    "event_hash",
    "event_json",
    "event_page",
    "event_row",
    "first_broken",
    "lifecycle_event",
    "model_event",
    "model_resource",
    "list_fingerprint",
    "next_token",
    "page_cursor",
    "page_start",
    "resource_matches",
    "store_event",
    "version_deleted",
    "version_staged",
]
