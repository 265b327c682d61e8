"""What every ``AuthStore`` backend writes alike: the audit lines of its changes.

The memory and SQL stores record the same action, resource and before/after for
each change (the contract compares them), so the shapes live here once. Nothing
secret goes in: a password change records that it happened, never the hash; a
token is named by its id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kiln.entities.auth import ApiToken, Quota, Tenant, User


def tenant_fields(tenant: Tenant) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "description": tenant.description,
        "default_artifact_root": tenant.default_artifact_root,
    }


def user_fields(user: User) -> dict[str, Any]:
    return {"name": user.name, "is_admin": user.is_admin, "source": user.source}


def quota_fields(quota: Quota) -> dict[str, Any]:
    return {"cpus": quota.cpus, "gpus": quota.gpus, "memory_mb": quota.memory_mb}


def token_fields(token: ApiToken) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "user": token.user,
        "tenant": token.tenant,
        "role": token.role.label,
        "name": token.name,
        "expires_at": token.expires_at,
    }


def flag_actions(before: User, after: User) -> Iterator[tuple[str, str]]:
    """(action, field) for each flag ``set_user_flags`` changed: ``user.admin``
    for ``is_admin``; ``user.disable`` / ``user.enable`` for ``disabled``."""
    if before.is_admin != after.is_admin:
        yield "user.admin", "is_admin"
    if before.disabled != after.disabled:
        yield ("user.disable" if after.disabled else "user.enable"), "disabled"


__all__ = ["flag_actions", "quota_fields", "tenant_fields", "token_fields", "user_fields"]
