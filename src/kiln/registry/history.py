"""A registered model's history from the audit log: who moved which alias when.

The registry stores write their changes' audit lines themselves
(``kiln.store.rules.audit``): ``model.alias.set`` / ``model.alias.delete`` /
``model.rename`` / ``model.delete`` on ``model:<name>`` and ``version.create`` /
``version.stage`` / ``version.delete`` on ``model:<name>/<version>``. ``model_history``
reads the lines of one model and its versions only (the log's prefix filter ``model:<name>*`` also
matches ``model:<name>2``, so those are dropped here), newest first, paged;
``describe`` says what one line did, in words a page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.entities import Page
from kiln.entities.auth import AuditEvent
from kiln.store.protocols.audit import AuditLog
from kiln.store.rules.audit import list_fingerprint, model_resource, next_token

# Pages read past other models' lines before giving up on filling one.
_MAX_READS = 20


def is_model_resource(resource: str, name: str) -> bool:
    """``model:<name>`` or ``model:<name>/<version>`` (names hold no ``/``)."""
    own = model_resource(name)
    return resource == own or resource.startswith(own + "/")


def model_history(
    audit: AuditLog,
    tenant: str,
    name: str,
    *,
    max_results: int = 50,
    page_token: str | None = None,
) -> Page[AuditEvent]:
    """The audit lines of model ``name`` and its versions in ``tenant``, newest first.

    A page holds at most ``max_results`` lines; one that ends early (the log's
    prefix match brought many other models' lines) still has a token leading on.
    Tokens are the log's own (``kiln.store.rules.audit``), bound to this listing.

    Raises:
        InvalidInput: a bad ``max_results`` or a token not made for this listing.
    """
    found: list[AuditEvent] = []
    token = page_token
    prefix = model_resource(name) + "*"
    for _ in range(_MAX_READS):
        page = audit.list_events(
            tenant=tenant, resource=prefix, max_results=max_results, page_token=token
        )
        found.extend(e for e in page.items if is_model_resource(e.resource, name))
        token = page.next_page_token
        if not token or len(found) >= max_results:
            break
    if len(found) > max_results:  # go on right after the last line shown
        found = found[:max_results]
        token = next_token(found[-1].event_id, list_fingerprint(tenant, prefix, None, None))
    return Page(found, token)


@dataclass(frozen=True, slots=True)
class Change:
    """One audit line in words: ``what`` happened to ``subject``, ``before`` -> ``after``."""

    what: str
    subject: str
    before: str
    after: str


def _version_of(resource: str) -> str:
    _, _, version = resource.partition("/")
    return f"version {version}" if version else ""


def _get(side: dict[str, Any] | None, key: str) -> Any:
    return None if side is None else side.get(key)


def describe(event: AuditEvent) -> Change:
    """What ``event`` did (see the module docstring); an action not known here is
    shown with its own name and its before/after as they are."""
    before, after, action = event.before, event.after, event.action
    if action in ("model.alias.set", "model.alias.delete"):
        alias = str(_get(before, "alias") or _get(after, "alias") or "")
        old, new = _get(before, "version"), _get(after, "version")
        if action == "model.alias.delete":
            what = "alias removed"
        else:
            what = "alias set" if old is None else "alias moved"
        return Change(what, f"@{alias}", _v(old), _v(new))
    if action == "version.stage":
        return Change(
            "stage changed",
            _version_of(event.resource),
            str(_get(before, "stage") or ""),
            str(_get(after, "stage") or ""),
        )
    if action == "version.create":
        run = str(_get(after, "run_id") or "")
        return Change(
            "version created",
            _version_of(event.resource),
            "",
            f"from run {run}" if run else str(_get(after, "source") or ""),
        )
    if action == "version.delete":
        aliases = ", ".join(f"@{a}" for a in _get(before, "aliases") or ())
        stage = str(_get(before, "stage") or "")
        return Change("version deleted", _version_of(event.resource), _join(stage, aliases), "")
    if action == "model.rename":
        return Change(
            "renamed", "model", str(_get(before, "name") or ""), str(_get(after, "name") or "")
        )
    if action == "model.delete":
        return Change("model deleted", "model", str(_get(before, "name") or ""), "")
    if action in ("version.create", "model.version.create"):
        return Change("version created", _version_of(event.resource), "", _plain(after))
    return Change(action, _version_of(event.resource) or "model", _plain(before), _plain(after))


def _v(version: Any) -> str:
    return "" if version is None else f"version {version}"


def _join(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def _plain(side: dict[str, Any] | None) -> str:
    if not side:
        return ""
    return ", ".join(f"{k}={v}" for k, v in sorted(side.items()))


__all__ = ["Change", "describe", "is_model_resource", "model_history"]
