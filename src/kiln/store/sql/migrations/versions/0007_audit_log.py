"""The audit log (issue 13): one append-only, hash-chained table ``audit_events``.

Mirrors ``kiln.store.sql.audit_schema.audit_metadata`` (a test checks that they
agree).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WS = 63


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("tenant", sa.String(_WS), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(1000), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_tenant", "audit_events", ["tenant", "event_id"])
    op.create_index("ix_audit_events_resource", "audit_events", ["resource", "event_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
