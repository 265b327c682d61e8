"""What every ``AuthStore`` backend writes alike: the audit lines of its changes.

The memory and SQL stores record the same action, resource and before/after for
each change (the contract compares them), so the shapes live here once. Nothing
secret goes in: a password change records that it happened, never the hash; a
token is named by its id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kiln.entities.auth import ApiToken, Quota, Session, Tenant, User
from kiln.errors import InvalidInput

# The longest value each column holds (the SQL columns are declared with these; a
# longer value is refused here on every backend, never left to a database error).
TENANT_LENGTH = 63  # a DNS label, as MLflow's workspace names
USER_LENGTH = 64
SOURCE_LENGTH = 16
ROOT_LENGTH = 2000
GROUP_LENGTH = 512  # an LDAP DN (the audit line's resource "group:<dn>" must fit too)
ID_LENGTH = 32
HASH_LENGTH = 64  # sha256 hex
TOKEN_NAME_LENGTH = 256


def check_length(what: str, value: str | None, limit: int) -> None:
    """Raises ``InvalidInput`` when ``value`` is longer than ``limit`` characters."""
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")


def check_tenant(name: str, default_artifact_root: str | None) -> None:
    check_length("a workspace name", name, TENANT_LENGTH)
    check_length("a default artifact root", default_artifact_root, ROOT_LENGTH)


def check_user(name: str, source: str) -> None:
    check_length("a user name", name, USER_LENGTH)
    check_length("a user source", source, SOURCE_LENGTH)


def check_token(token: ApiToken, token_hash: str) -> None:
    check_length("a token id", token.token_id, ID_LENGTH)
    check_length("a token name", token.name, TOKEN_NAME_LENGTH)
    check_length("a token hash", token_hash, HASH_LENGTH)


def check_session(session: Session, session_hash: str) -> None:
    check_length("a session id", session.session_id, ID_LENGTH)
    check_length("a session hash", session_hash, HASH_LENGTH)


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


__all__ = [
    "GROUP_LENGTH",
    "HASH_LENGTH",
    "ID_LENGTH",
    "ROOT_LENGTH",
    "SOURCE_LENGTH",
    "TENANT_LENGTH",
    "TOKEN_NAME_LENGTH",
    "USER_LENGTH",
    "check_length",
    "check_session",
    "check_tenant",
    "check_token",
    "check_user",
    "flag_actions",
    "quota_fields",
    "tenant_fields",
    "token_fields",
    "user_fields",
]
