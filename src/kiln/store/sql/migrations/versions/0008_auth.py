"""Tenants, users, memberships, API tokens, login sessions, group bindings, quotas
(issue 13, ``kiln server --auth``).

Mirrors ``kiln.store.sql.auth_schema.auth_metadata`` (a test checks that they
agree). Inserts the ``default`` tenant, which every store has from the start,
and one tenant for each other workspace the database already holds data in: the
runs, experiments and models a database holds keep their workspace (``default``
for a database from before workspaces).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_WS = 63
_USER = 64
_HASH = 64
_ID = 32
_ROLE = 20
# The tables whose rows name a workspace (experiments own their runs).
_WORKSPACE_TABLES = ("workspaces", "experiments", "registered_models", "logged_models")


def _fk(name: str, length: int, target: str) -> sa.Column[str]:
    return sa.Column(
        name, sa.String(length), sa.ForeignKey(target, ondelete="CASCADE"), nullable=False
    )


def _tenant_fk() -> sa.Column[str]:
    return _fk("tenant", _WS, "tenants.name")


def _user_fk() -> sa.Column[str]:
    return _fk("user_name", _USER, "users.name")


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("name", sa.String(_WS), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("default_artifact_root", sa.String(2000)),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(_USER), primary_key=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_table(
        "memberships",
        _user_fk(),
        _tenant_fk(),
        sa.Column("role", sa.String(_ROLE), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "tenant", name="pk_memberships"),
    )
    op.create_index("ix_memberships_tenant", "memberships", ["tenant"])
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(_ID), primary_key=True),
        sa.Column("token_hash", sa.String(_HASH), nullable=False),
        _user_fk(),
        _tenant_fk(),
        sa.Column("role", sa.String(_ROLE), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("last_used_at", sa.BigInteger),
        sa.Column("revoked_at", sa.BigInteger),
    )
    op.create_index("uq_api_tokens_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_name"])
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(_ID), primary_key=True),
        sa.Column("session_hash", sa.String(_HASH), nullable=False),
        _user_fk(),
        _tenant_fk(),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("uq_sessions_hash", "sessions", ["session_hash"], unique=True)
    op.create_table(
        "group_bindings",
        sa.Column("group_name", sa.String(512), nullable=False),
        _tenant_fk(),
        sa.Column("role", sa.String(_ROLE), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "tenant", name="pk_group_bindings"),
    )
    op.create_table(
        "tenant_quotas",
        sa.Column(
            "tenant",
            sa.String(_WS),
            sa.ForeignKey("tenants.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("cpus", sa.Float),
        sa.Column("gpus", sa.Float),
        sa.Column("memory_mb", sa.BigInteger),
    )
    now = time.time_ns() // 1_000_000
    rows = [
        {"name": name, "description": "", "created_at": now, "default_artifact_root": None}
        for name in sorted({"default", *_workspaces_in_use()})
    ]
    op.bulk_insert(tenants, rows)


def _workspaces_in_use() -> set[str]:
    """Every workspace the database already holds data in: each becomes a tenant,
    so no experiment, run or model is left outside one."""
    found: set[str] = set()
    bind = op.get_bind()
    for table in _WORKSPACE_TABLES:
        rows = bind.execute(sa.text(f"SELECT DISTINCT workspace FROM {table}"))
        found.update(str(row[0]) for row in rows if row[0])
    return found


def downgrade() -> None:
    op.drop_table("tenant_quotas")
    op.drop_table("group_bindings")
    op.drop_table("sessions")
    op.drop_table("api_tokens")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("tenants")
