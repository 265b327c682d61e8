"""MLflow 3 logged models: models, their tags, params, metrics, and run outputs.

Mirrors ``kiln.store.sql.logged_model_schema.logged_model_metadata`` (a test checks
that they agree).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_WS = 63
_ID = 64


def _model_fk() -> sa.Column[str]:
    return sa.Column(
        "model_id",
        sa.String(_ID),
        sa.ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(_ID), primary_key=True),
        sa.Column("workspace", sa.String(_WS), nullable=False),
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("model_type", sa.String(500)),
        sa.Column("source_run_id", sa.String(32)),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
    )
    op.create_index("ix_logged_models_experiment", "logged_models", ["workspace", "experiment_id"])
    op.create_table(
        "logged_model_tags",
        _model_fk(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key", name="pk_logged_model_tags"),
    )
    op.create_table(
        "logged_model_params",
        _model_fk(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key", name="pk_logged_model_params"),
    )
    op.create_table(
        "logged_model_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _model_fk(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("dataset_name", sa.String(500)),
        sa.Column("dataset_digest", sa.String(36)),
    )
    op.create_index("ix_logged_model_metrics_model", "logged_model_metrics", ["model_id"])
    op.create_table(
        "logged_model_outputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace", sa.String(_WS), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        _model_fk(),
        sa.Column("step", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_logged_model_outputs_run", "logged_model_outputs", ["workspace", "run_id"])


def downgrade() -> None:
    op.drop_table("logged_model_outputs")
    op.drop_table("logged_model_metrics")
    op.drop_table("logged_model_params")
    op.drop_table("logged_model_tags")
    op.drop_table("logged_models")
