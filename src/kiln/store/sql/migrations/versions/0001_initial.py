"""Initial tracking schema: workspaces, experiments, runs, params, tags, metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_WS = 63
_PARAM_PREFIX = 200


def _ws() -> sa.Column[str]:
    return sa.Column("workspace", sa.String(_WS), nullable=False)


def _run_fk() -> sa.Column[str]:
    return sa.Column(
        "run_uuid",
        sa.String(32),
        sa.ForeignKey("runs.run_uuid", ondelete="CASCADE"),
        nullable=False,
    )


def _metric_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("workspace", sa.String(_WS), primary_key=True),
        sa.Column("default_experiment_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        _ws(),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(2000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("creation_time", sa.BigInteger),
        sa.Column("last_update_time", sa.BigInteger),
        sa.UniqueConstraint("workspace", "name", name="uq_experiments_workspace_name"),
    )
    op.create_table(
        "experiment_tags",
        _ws(),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
    )
    op.create_table(
        "runs",
        sa.Column("run_uuid", sa.String(32), primary_key=True),
        _ws(),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("deleted_time", sa.BigInteger),
        sa.Column("artifact_uri", sa.String(2000), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_runs_search", "runs", ["workspace", "experiment_id", "lifecycle_stage", "start_time"]
    )
    for name in ("params", "tags"):
        op.create_table(
            name,
            _ws(),
            _run_fk(),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("run_uuid", "key", name=f"pk_{name}"),
            sqlite_with_rowid=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        # A btree entry must stay under ~2.7 kB; a param value may be 6000 characters.
        op.create_index(
            "ix_params_key_value_prefix",
            "params",
            ["key", sa.text(f"substr(value, 1, {_PARAM_PREFIX})")],
        )
    else:
        op.create_index("ix_params_key_value", "params", ["key", "value"])
    op.create_table(
        "metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        _ws(),
        _run_fk(),
        *_metric_columns(),
    )
    op.create_index("ix_metrics_history", "metrics", ["run_uuid", "key", "step", "timestamp"])
    op.create_table(
        "latest_metrics",
        _ws(),
        _run_fk(),
        *_metric_columns(),
        sa.PrimaryKeyConstraint("run_uuid", "key", name="pk_latest_metrics"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])


def downgrade() -> None:
    for name in (
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
        "workspaces",
    ):
        op.drop_table(name)
