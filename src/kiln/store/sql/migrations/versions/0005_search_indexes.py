"""Indexes for run search by tag value and by run name (issue 10).

Without them ``tags.`mlflow.runName` = 'run-999999'``, ``attributes.run_name = ...``
and ``attributes.run_name LIKE 'run-99999%'`` scanned every run (seconds at a
million runs). SQLite indexes ``tags(key, value)`` and ``runs(name)`` whole;
PostgreSQL indexes a tag value's first 200 characters (a btree entry must stay
under ~2.7 kB, a tag value may be 8000 characters long), and both with the
``*_pattern_ops`` operator classes, which serve ``=`` and a ``LIKE`` prefix
whatever the database's collation. Mirrors ``kiln.store.sql.schema``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TAG_PREFIX = 200


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_tags_key_value_prefix",
            "tags",
            ["key", sa.text(f"substr(value, 1, {_TAG_PREFIX}) text_pattern_ops")],
        )
        op.create_index("ix_runs_name_pattern", "runs", [sa.text("name varchar_pattern_ops")])
    else:
        op.create_index("ix_tags_key_value", "tags", ["key", "value"])
        op.create_index("ix_runs_name", "runs", ["name"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_runs_name_pattern", "runs")
        op.drop_index("ix_tags_key_value_prefix", "tags")
    else:
        op.drop_index("ix_runs_name", "runs")
        op.drop_index("ix_tags_key_value", "tags")
