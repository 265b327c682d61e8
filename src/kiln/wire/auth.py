"""Tenants, users, tokens, sessions and audit events <-> the JSON of Kiln's own API.

Kiln's API (``/api/kiln/v1/...``, ``/api/v1/login``) has no protobuf behind it, so
its shapes are Kiln's: snake_case names, epoch-millisecond times as JSON numbers,
roles by label (``viewer``, ``member``, ``project-admin``), unset fields left out.
MLflow 3's workspace API (``/api/3.0/mlflow/workspaces``) keeps MLflow's shape
(``workspace_to_json``). The server writes answers with ``*_to_json`` and reads
requests with the ``*_request`` readers (each raises ``InvalidInput`` naming the
field, so bad input is a 400); the REST client reads answers with ``*_from_json``.
No secret goes through here except the one-time answers the routes build themselves.
"""

from __future__ import annotations

import math
from typing import Any

from kiln.entities.auth import (
    ApiToken,
    AuditEvent,
    GroupBinding,
    Membership,
    Quota,
    Role,
    Session,
    Tenant,
    User,
)
from kiln.errors import InvalidInput
from kiln.wire.fields import JsonObject, as_float, as_int, compact, opt_int, opt_str, req_str

# The longest a token may live when a client asks (ten years).
MAX_TOKEN_DAYS = 3650
# Names and passwords longer than this are refused before any hashing.
MAX_PASSWORD_CHARS = 1024
MAX_NAME_CHARS = 256


# request readers ---------------------------------------------------------------
def opt_bool(fields: JsonObject, name: str) -> bool | None:
    """A boolean field: JSON true/false, or ``"true"``/``"false"`` from a query string."""
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInput(f"field {name!r} must be a boolean (true or false)")


def opt_role(fields: JsonObject, name: str = "role") -> Role | None:
    text = opt_str(fields, name)
    if text is None or text == "":
        return None
    try:
        return Role.parse(text)
    except ValueError as exc:
        raise InvalidInput(f"field {name!r}: {exc}") from None


def req_role(fields: JsonObject, name: str = "role") -> Role:
    role = opt_role(fields, name)
    if role is None:
        raise InvalidInput(f"missing value for required field {name!r}")
    return role


def bounded_str(fields: JsonObject, name: str, limit: int = MAX_NAME_CHARS) -> str | None:
    """An optional string of at most ``limit`` characters."""
    value = opt_str(fields, name)
    if value is not None and len(value) > limit:
        raise InvalidInput(f"field {name!r} is longer than {limit} characters")
    return value


def req_bounded_str(fields: JsonObject, name: str, limit: int = MAX_NAME_CHARS) -> str:
    value = bounded_str(fields, name, limit)
    if not value:
        raise InvalidInput(f"missing value for required field {name!r}")
    return value


def login_request(fields: JsonObject) -> tuple[str, str, str | None]:
    """``POST /api/v1/login``'s ``{"name", "password", "tenant"?}`` (``workspace`` is
    read as ``tenant`` too)."""
    name = req_bounded_str(fields, "name")
    password = req_bounded_str(fields, "password", MAX_PASSWORD_CHARS)
    tenant = bounded_str(fields, "tenant") or bounded_str(fields, "workspace") or None
    return name, password, tenant


def token_request(fields: JsonObject) -> tuple[str, str | None, Role | None, int | None]:
    """``POST /api/kiln/v1/tokens``: name (default ``""``), tenant, role, expires_in_days."""
    name = bounded_str(fields, "name") or ""
    tenant = bounded_str(fields, "tenant") or None
    role = opt_role(fields)
    days = opt_int(fields, "expires_in_days")
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(
            f"field 'expires_in_days' must be between 1 and {MAX_TOKEN_DAYS}, got {days}"
        )
    return name, tenant, role, days


def _limit(fields: JsonObject, name: str) -> float | None:
    value = fields.get(name)
    if value is None:
        return None
    number = as_float(value, name)
    if not math.isfinite(number) or number < 0:
        raise InvalidInput(f"field {name!r} must be a number >= 0 or null, got {value!r:.40}")
    return number


def quota_request(tenant: str, fields: JsonObject) -> Quota:
    """``PUT .../quota``: ``{cpus?, gpus?, memory_mb?}``; null or absent: no limit."""
    memory = opt_int(fields, "memory_mb")
    if memory is not None and memory < 0:
        raise InvalidInput(f"field 'memory_mb' must be >= 0 or null, got {memory}")
    return Quota(tenant, _limit(fields, "cpus"), _limit(fields, "gpus"), memory)


# answers -------------------------------------------------------------------------
def tenant_to_json(tenant: Tenant) -> dict[str, Any]:
    return compact(
        {
            "name": tenant.name,
            "description": tenant.description,
            "created_at": tenant.created_at,
            "default_artifact_root": tenant.default_artifact_root,
        }
    )


def tenant_from_json(doc: JsonObject) -> Tenant:
    return Tenant(
        req_str(doc, "name"),
        opt_str(doc, "description") or "",
        opt_int(doc, "created_at") or 0,
        opt_str(doc, "default_artifact_root"),
    )


def workspace_to_json(tenant: Tenant) -> dict[str, Any]:
    """MLflow's ``Workspace`` message: an empty description is left out (unset)."""
    return compact(
        {
            "name": tenant.name,
            "description": tenant.description or None,
            "default_artifact_root": tenant.default_artifact_root or None,
        }
    )


def user_to_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "is_admin": user.is_admin,
        "disabled": user.disabled,
        "created_at": user.created_at,
        "source": user.source,
    }


def user_from_json(doc: JsonObject) -> User:
    return User(
        req_str(doc, "name"),
        opt_bool(doc, "is_admin") or False,
        opt_bool(doc, "disabled") or False,
        opt_int(doc, "created_at") or 0,
        opt_str(doc, "source") or "local",
    )


def membership_to_json(membership: Membership) -> dict[str, Any]:
    """A membership; ``origin`` says whether an admin granted it or LDAP groups gave
    it (then ``groups`` names them)."""
    doc: dict[str, Any] = {
        "user": membership.user,
        "tenant": membership.tenant,
        "role": membership.role.label,
        "origin": membership.origin,
    }
    if membership.groups:
        doc["groups"] = list(membership.groups)
    return doc


def membership_from_json(doc: JsonObject) -> Membership:
    groups = doc.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidInput("field 'groups' must be a list of strings")
    origin = opt_str(doc, "origin") or "grant"
    return Membership(
        req_str(doc, "user"), req_str(doc, "tenant"), req_role(doc), origin, tuple(groups)
    )


def group_binding_to_json(binding: GroupBinding) -> dict[str, Any]:
    return {"group": binding.group, "tenant": binding.tenant, "role": binding.role.label}


def group_binding_from_json(doc: JsonObject) -> GroupBinding:
    return GroupBinding(req_str(doc, "group"), req_str(doc, "tenant"), req_role(doc))


def quota_to_json(quota: Quota) -> dict[str, Any]:
    """Every limit is written; null means no limit."""
    return {
        "tenant": quota.tenant,
        "cpus": quota.cpus,
        "gpus": quota.gpus,
        "memory_mb": quota.memory_mb,
    }


def quota_from_json(doc: JsonObject) -> Quota:
    return quota_request(req_str(doc, "tenant"), doc)


def token_to_json(token: ApiToken) -> dict[str, Any]:
    """A token's record (never its secret)."""
    return compact(
        {
            "token_id": token.token_id,
            "user": token.user,
            "tenant": token.tenant,
            "role": token.role.label,
            "name": token.name,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
        }
    )


def token_from_json(doc: JsonObject) -> ApiToken:
    return ApiToken(
        req_str(doc, "token_id"),
        req_str(doc, "user"),
        req_str(doc, "tenant"),
        req_role(doc),
        opt_str(doc, "name") or "",
        opt_int(doc, "created_at") or 0,
        opt_int(doc, "expires_at"),
        opt_int(doc, "last_used_at"),
        opt_int(doc, "revoked_at"),
    )


def session_to_json(session: Session) -> dict[str, Any]:
    """A login session: who, where, and when it ends (the idle end moves with use)."""
    return {
        "session_id": session.session_id,
        "user": session.user,
        "tenant": session.tenant,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "expires_at": session.expires_at,
    }


def session_from_json(doc: JsonObject) -> Session:
    return Session(
        req_str(doc, "session_id"),
        req_str(doc, "user"),
        req_str(doc, "tenant"),
        as_int(doc.get("created_at", 0), "created_at"),
        as_int(doc.get("last_seen_at", 0), "last_seen_at"),
        as_int(doc.get("expires_at", 0), "expires_at"),
    )


def audit_event_to_json(event: AuditEvent) -> dict[str, Any]:
    return compact(
        {
            "event_id": event.event_id,
            "timestamp": event.timestamp,
            "tenant": event.tenant,
            "actor": event.actor,
            "action": event.action,
            "resource": event.resource,
            "before": event.before,
            "after": event.after,
            "detail": event.detail or None,
            "prev_hash": event.prev_hash or None,
            "hash": event.hash or None,
        }
    )


def _opt_object(doc: JsonObject, name: str) -> dict[str, Any] | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"field {name!r} must be an object")
    return value


def audit_event_from_json(doc: JsonObject) -> AuditEvent:
    return AuditEvent(
        as_int(doc.get("event_id", 0), "event_id"),
        as_int(doc.get("timestamp", 0), "timestamp"),
        req_str(doc, "tenant"),
        req_str(doc, "actor"),
        req_str(doc, "action"),
        opt_str(doc, "resource") or "",
        _opt_object(doc, "before"),
        _opt_object(doc, "after"),
        opt_str(doc, "detail") or "",
        opt_str(doc, "prev_hash") or "",
        opt_str(doc, "hash") or "",
    )


__all__ = [
    "MAX_NAME_CHARS",
    "MAX_PASSWORD_CHARS",
    "MAX_TOKEN_DAYS",
    "audit_event_from_json",
    "audit_event_to_json",
    "bounded_str",
    "group_binding_from_json",
    "group_binding_to_json",
    "login_request",
    "membership_from_json",
    "membership_to_json",
    "opt_bool",
    "opt_role",
    "quota_from_json",
    "quota_request",
    "quota_to_json",
    "req_bounded_str",
    "req_role",
    "session_from_json",
    "session_to_json",
    "tenant_from_json",
    "tenant_to_json",
    "token_from_json",
    "token_request",
    "token_to_json",
    "user_from_json",
    "user_to_json",
    "workspace_to_json",
]
