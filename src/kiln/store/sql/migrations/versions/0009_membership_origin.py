"""Where a membership came from: ``origin`` (``grant`` or ``group``) and ``via_groups``.

A role an admin granted (``origin = 'grant'``) is never touched by the LDAP group
sync; one the group bindings gave at a directory login (``origin = 'group'``)
remembers those bindings' groups (``via_groups``, a JSON list) so that the next
login, or unbinding a group, can lower or remove it (``kiln.store.rules
.group_sync``). Rows already there are grants: migration 0008 is part of the same
release, so no group-derived membership predates this. Mirrors
``kiln.store.sql.auth_schema``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("origin", sa.String(8), nullable=False, server_default="grant"))
        batch.add_column(sa.Column("via_groups", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("via_groups")
        batch.drop_column("origin")
