"""Model registry: registered models, versions, their tags, aliases.

Mirrors ``kiln.store.sql.registry_schema.registry_metadata`` (a test checks that they agree).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_WS = 63


def _ws() -> sa.Column[str]:
    return sa.Column("workspace", sa.String(_WS), nullable=False)


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _ws(),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("user_id", sa.String(256)),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("workspace", "name", name="uq_registered_models_workspace_name"),
    )
    op.create_table(
        "registered_model_tags",
        _ws(),
        sa.Column(
            "registered_model_id",
            sa.Integer,
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("registered_model_id", "key", name="pk_registered_model_tags"),
    )
    op.create_table(
        "model_versions",
        _ws(),
        sa.Column(
            "registered_model_id",
            sa.Integer,
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("user_id", sa.String(256)),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("storage_location", sa.Text),
        sa.Column("run_id", sa.String(256)),
        sa.Column("run_link", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("model_id", sa.String(256)),
        sa.PrimaryKeyConstraint("registered_model_id", "version", name="pk_model_versions"),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["workspace", "run_id"])
    op.create_table(
        "model_version_tags",
        _ws(),
        sa.Column("registered_model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(
            "registered_model_id", "version", "key", name="pk_model_version_tags"
        ),
        sa.ForeignKeyConstraint(
            ["registered_model_id", "version"],
            ["model_versions.registered_model_id", "model_versions.version"],
            ondelete="CASCADE",
            name="fk_model_version_tags_version",
        ),
    )
    op.create_table(
        "registered_model_aliases",
        _ws(),
        sa.Column("registered_model_id", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("registered_model_id", "alias", name="pk_registered_model_aliases"),
        sa.ForeignKeyConstraint(
            ["registered_model_id", "version"],
            ["model_versions.registered_model_id", "model_versions.version"],
            ondelete="CASCADE",
            name="fk_registered_model_aliases_version",
        ),
    )


def downgrade() -> None:
    for name in (
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(name)
