"""The auth tables (SQLAlchemy Core): tenants, users, memberships, tokens, sessions.

Created by migration ``0008_auth``; ``auth_metadata`` mirrors it (a test checks
that they agree). These tables are not workspace-scoped: they are what decides
workspaces (a tenant *is* a workspace). Times are epoch milliseconds, roles their
labels (``viewer``, ``member``, ``project-admin``), so a row reads plainly in
``psql``. Secrets never land here: tokens and sessions are found by the sha256
hex of their secret (unique indexes: the hot path is one index probe), passwords
by their argon2id hash. ``user`` is a reserved word in PostgreSQL, hence
``user_name``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from kiln.store.rules.auth import (
    GROUP_LENGTH,
    HASH_LENGTH,
    ID_LENGTH,
    ROOT_LENGTH,
    SOURCE_LENGTH,
    TOKEN_NAME_LENGTH,
    USER_LENGTH,
)
from kiln.store.rules.group_sync import ORIGIN_LENGTH
from kiln.store.sql.schema import WORKSPACE_LENGTH, cascade_fk

ROLE_LENGTH = 20

auth_metadata = MetaData()


def _tenant_fk() -> Column[str]:
    return cascade_fk("tenant", String(WORKSPACE_LENGTH), "tenants.name")


def _user_fk() -> Column[str]:
    return cascade_fk("user_name", String(USER_LENGTH), "users.name")


tenants = Table(
    "tenants",
    auth_metadata,
    Column("name", String(WORKSPACE_LENGTH), primary_key=True),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("default_artifact_root", String(ROOT_LENGTH)),
)

users = Table(
    "users",
    auth_metadata,
    Column("name", String(USER_LENGTH), primary_key=True),
    Column("password_hash", Text),
    Column("is_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("source", String(SOURCE_LENGTH), nullable=False),
)

memberships = Table(
    "memberships",
    auth_metadata,
    _user_fk(),
    _tenant_fk(),
    Column("role", String(ROLE_LENGTH), nullable=False),
    # migration 0009: "grant" or "group"; the groups that gave a group-derived role
    # (a JSON list; NULL for a grant) -- kiln.store.rules.group_sync
    Column("origin", String(ORIGIN_LENGTH), nullable=False, server_default="grant"),
    Column("via_groups", Text),
    PrimaryKeyConstraint("user_name", "tenant", name="pk_memberships"),
    Index("ix_memberships_tenant", "tenant"),
)

api_tokens = Table(
    "api_tokens",
    auth_metadata,
    Column("token_id", String(ID_LENGTH), primary_key=True),
    Column("token_hash", String(HASH_LENGTH), nullable=False),
    _user_fk(),
    _tenant_fk(),
    Column("role", String(ROLE_LENGTH), nullable=False),
    Column("name", String(TOKEN_NAME_LENGTH), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    Column("last_used_at", BigInteger),
    Column("revoked_at", BigInteger),
    Index("uq_api_tokens_hash", "token_hash", unique=True),
    Index("ix_api_tokens_user", "user_name"),
)

sessions = Table(
    "sessions",
    auth_metadata,
    Column("session_id", String(ID_LENGTH), primary_key=True),
    Column("session_hash", String(HASH_LENGTH), nullable=False),
    _user_fk(),
    _tenant_fk(),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("uq_sessions_hash", "session_hash", unique=True),
)

group_bindings = Table(
    "group_bindings",
    auth_metadata,
    Column("group_name", String(GROUP_LENGTH), nullable=False),
    _tenant_fk(),
    Column("role", String(ROLE_LENGTH), nullable=False),
    PrimaryKeyConstraint("group_name", "tenant", name="pk_group_bindings"),
)

tenant_quotas = Table(
    "tenant_quotas",
    auth_metadata,
    Column(
        "tenant",
        String(WORKSPACE_LENGTH),
        ForeignKey("tenants.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("cpus", Float),
    Column("gpus", Float),
    Column("memory_mb", BigInteger),
)

AUTH_TABLES = (tenants, users, memberships, api_tokens, sessions, group_bindings, tenant_quotas)

__all__ = [
    "AUTH_TABLES",
    "api_tokens",
    "auth_metadata",
    "group_bindings",
    "memberships",
    "sessions",
    "tenant_quotas",
    "tenants",
    "users",
]
