"""The audit log over HTTP: ``GET /api/kiln/v1/audit`` and ``/api/kiln/v1/audit/verify``.

``kiln audit list`` and ``kiln audit verify`` call these against a server. Reading
a tenant's events is MANAGE there (project-admins read their own tenant's log);
an admin may name another tenant with ``?tenant=``, or ``*`` for every tenant.
Verifying walks the whole chain, every tenant's events, so it is admin only.
With auth off both serve the anonymous admin, as every route does.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kiln.auth.principal import Principal
from kiln.errors import InvalidInput, PermissionDenied
from kiln.server.json_routes import Op, acting, json_route
from kiln.server.policy import ADMIN, MANAGE
from kiln.server.responses import page_json
from kiln.store.protocols.audit import AuditLog
from kiln.wire.auth import audit_event_to_json, bounded_str
from kiln.wire.fields import JsonObject, opt_int

AUDIT_PATH = "/api/kiln/v1/audit"
ALL_TENANTS = "*"
MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 100


def routes(audit: AuditLog | None) -> list[BaseRoute]:
    """The audit routes over ``audit``; None (a store that keeps no log) answers 400."""

    def log() -> AuditLog:
        if audit is None:
            raise InvalidInput(
                "this server keeps no audit log it can serve (a file store writes none); "
                "serve a sqlite:// or postgresql:// backend store"
            )
        return audit

    def list_events(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        who = acting(p)
        tenant = _tenant(who, bounded_str(f, "tenant"))
        max_results = opt_int(f, "max_results")
        if max_results is None:
            max_results = DEFAULT_MAX_RESULTS
        if not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInput(
                f"field 'max_results' must be between 1 and {MAX_RESULTS}, got {max_results}"
            )
        page = log().list_events(
            tenant=tenant,
            resource=bounded_str(f, "resource", 1024) or None,
            actor=bounded_str(f, "actor") or None,
            action=bounded_str(f, "action") or None,
            max_results=max_results,
            page_token=bounded_str(f, "page_token", 1024) or None,
        )
        return page_json(page, "events", audit_event_to_json)

    def verify(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        acting(p)
        broken = log().verify()
        return {"ok": True} if broken is None else {"ok": False, "first_bad_event_id": broken}

    return [
        json_route(AUDIT_PATH, Op("GET", MANAGE.saying("reading the audit log"), list_events)),
        json_route(f"{AUDIT_PATH}/verify", Op("GET", ADMIN, verify)),
    ]


def _tenant(who: Principal, asked: str | None) -> str | None:
    """The tenant whose events to read (None: every tenant)."""
    if not asked or asked == who.tenant:
        return who.tenant
    if not who.is_admin:
        raise PermissionDenied(
            f"user {who.user!r} may read the audit log of workspace {who.tenant!r} only"
        )
    return None if asked == ALL_TENANTS else asked


__all__ = ["ALL_TENANTS", "AUDIT_PATH", "routes"]
