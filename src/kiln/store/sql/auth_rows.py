"""Rows of the auth tables -> entities, and the lookups every part of the SQL
``AuthStore`` makes (each raising ``NotFound`` for a missing name)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.engine import Connection

from kiln.entities.auth import (
    ApiToken,
    GroupBinding,
    Membership,
    Quota,
    Role,
    Session,
    Tenant,
    User,
)
from kiln.errors import NotFound
from kiln.store.sql.auth_schema import api_tokens, sessions, tenants, users


def tenant_of(row: Any) -> Tenant:
    return Tenant(row.name, row.description, row.created_at, row.default_artifact_root)


def user_of(row: Any) -> User:
    return User(row.name, bool(row.is_admin), bool(row.disabled), row.created_at, row.source)


def token_of(row: Any) -> ApiToken:
    return ApiToken(
        token_id=row.token_id,
        user=row.user_name,
        tenant=row.tenant,
        role=Role.parse(row.role),
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def session_of(row: Any) -> Session:
    return Session(
        session_id=row.session_id,
        user=row.user_name,
        tenant=row.tenant,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
    )


def membership_of(row: Any) -> Membership:
    """A ``memberships`` row (its ``via_groups``: a JSON list, or NULL for a grant)."""
    groups = () if row.via_groups is None else tuple(json.loads(row.via_groups))
    return Membership(row.user_name, row.tenant, Role.parse(row.role), row.origin, groups)


def groups_json(groups: tuple[str, ...]) -> str:
    """``via_groups`` of a group-derived membership."""
    return json.dumps(list(groups), separators=(",", ":"))


def binding_of(row: Any) -> GroupBinding:
    return GroupBinding(row.group_name, row.tenant, Role.parse(row.role))


def quota_of(row: Any) -> Quota:
    memory = None if row.memory_mb is None else int(row.memory_mb)
    return Quota(row.tenant, row.cpus, row.gpus, memory)


def token_row(token: ApiToken, token_hash: str) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "token_hash": token_hash,
        "user_name": token.user,
        "tenant": token.tenant,
        "role": token.role.label,
        "name": token.name,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


def session_row(session: Session, session_hash: str) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "session_hash": session_hash,
        "user_name": session.user,
        "tenant": session.tenant,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "expires_at": session.expires_at,
    }


def _found(conn: Connection, query: Any, what: str, key: str) -> Any:
    """The first row of ``query``, or ``NotFound`` naming ``what`` is missing."""
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"{what} {key!r} not found")
    return row


def tenant_row(conn: Connection, name: str) -> Any:
    return _found(conn, select(tenants).where(tenants.c.name == name), "workspace", name)


def user_row(conn: Connection, name: str) -> Any:
    return _found(conn, select(users).where(users.c.name == name), "user", name)


def token_row_of(conn: Connection, token_id: str) -> Any:
    query = select(api_tokens).where(api_tokens.c.token_id == token_id)
    return _found(conn, query, "token", token_id)


def require_session(conn: Connection, session_id: str) -> None:
    query = select(sessions.c.session_id).where(sessions.c.session_id == session_id)
    _found(conn, query, "session", session_id)


def narrowed(
    conn: Connection, query: Any, table: Table, user: str | None, tenant: str | None
) -> Any:
    """``query`` over ``table`` narrowed to the rows of ``user`` and of ``tenant``
    where given, each checked to exist (``NotFound``), as a listing's filters."""
    if user is not None:
        user_row(conn, user)
        query = query.where(table.c.user_name == user)
    if tenant is not None:
        tenant_row(conn, tenant)
        query = query.where(table.c.tenant == tenant)
    return query


def insert_credential(
    conn: Connection, table: Table, kind: str, row: dict[str, Any], taken: Exception
) -> None:
    """Insert the row of a new token or session (``kind``: "token", "session"): its
    user and workspace must exist (``NotFound``), its id and hash be new (``taken``)."""
    user_row(conn, row["user_name"])
    tenant_row(conn, row["tenant"])
    id_column, hash_column = table.c[f"{kind}_id"], table.c[f"{kind}_hash"]
    clash = conn.execute(
        select(id_column).where(
            or_(id_column == row[f"{kind}_id"], hash_column == row[f"{kind}_hash"])
        )
    ).first()
    if clash is not None:
        raise taken
    conn.execute(insert(table).values(**row))


def update_given(conn: Connection, table: Table, where: Any, **values: Any) -> None:
    """UPDATE the rows ``where`` selects, setting only the columns given a value
    (None: leave the column as it is)."""
    given = {name: value for name, value in values.items() if value is not None}
    if given:
        conn.execute(update(table).where(where).values(**given))


def upsert(conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any]) -> Any:
    """Insert the row of ``key`` with ``values``, or update the one there: the row
    as it was before, or None when there was none."""
    where = [table.c[name] == value for name, value in key.items()]
    row = conn.execute(select(table).where(*where)).first()
    if row is None:
        conn.execute(insert(table).values(**key, **values))
    else:
        conn.execute(update(table).where(*where).values(**values))
    return row


__all__ = [
    "binding_of",
    "groups_json",
    "insert_credential",
    "membership_of",
    "narrowed",
    "require_session",
    "quota_of",
    "session_of",
    "session_row",
    "tenant_of",
    "tenant_row",
    "token_of",
    "token_row",
    "token_row_of",
    "update_given",
    "upsert",
    "user_of",
    "user_row",
]
