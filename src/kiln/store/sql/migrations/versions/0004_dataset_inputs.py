"""Dataset inputs of runs: datasets, inputs, input_tags (MLflow's tables plus workspace).

Mirrors the tables in ``kiln.store.sql.schema`` (a test checks that they agree).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WS = 63


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(36), primary_key=True),
        sa.Column("workspace", sa.String(_WS), nullable=False),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("dataset_source_type", sa.String(36), nullable=False),
        sa.Column("dataset_source", sa.Text, nullable=False),
        sa.Column("dataset_schema", sa.Text),
        sa.Column("dataset_profile", sa.Text),
        sa.UniqueConstraint(
            "experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"
        ),
    )
    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(36), primary_key=True),
        sa.Column("workspace", sa.String(_WS), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.UniqueConstraint(
            "source_type",
            "source_id",
            "destination_type",
            "destination_id",
            name="uq_inputs_edge",
        ),
    )
    op.create_index("ix_inputs_destination", "inputs", ["destination_id", "source_id"])
    op.create_index("ix_inputs_source", "inputs", ["source_id"])
    op.create_table(
        "input_tags",
        sa.Column("workspace", sa.String(_WS), nullable=False),
        sa.Column(
            "input_uuid",
            sa.String(36),
            sa.ForeignKey("inputs.input_uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name", name="pk_input_tags"),
    )


def downgrade() -> None:
    op.drop_table("input_tags")
    op.drop_table("inputs")
    op.drop_table("datasets")
