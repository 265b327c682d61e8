"""One row per metric point, so a retried ``log_metric`` adds nothing (issue 10).

MLflow's ``metrics`` table has the primary key (key, timestamp, step, run_uuid,
value, is_nan); Kiln kept every write, so a client's retry after a lost response
stored the point twice. This removes the repeats already stored (the first row of
each point stays) and replaces ``ix_metrics_history`` by the unique index
``uq_metrics_point``, whose leading columns serve the history query as before.
Writes skip a stored point with ``ON CONFLICT DO NOTHING``. Mirrors
``kiln.store.sql.schema``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_POINT = ("run_uuid", "key", "step", "timestamp", "value", "is_nan")


def upgrade() -> None:
    metrics = sa.table("metrics", sa.column("id"), *(sa.column(name) for name in _POINT))
    earlier = metrics.alias("earlier")
    # A row goes when an earlier row holds the same point; ix_metrics_history
    # (run_uuid, key, step, timestamp) finds the candidates.
    same_point = sa.and_(
        *(earlier.c[name] == metrics.c[name] for name in _POINT),
        earlier.c.id < metrics.c.id,
    )
    op.execute(sa.delete(metrics).where(sa.exists().where(same_point)))
    op.create_index("uq_metrics_point", "metrics", list(_POINT), unique=True)
    op.drop_index("ix_metrics_history", "metrics")


def downgrade() -> None:
    op.create_index("ix_metrics_history", "metrics", ["run_uuid", "key", "step", "timestamp"])
    op.drop_index("uq_metrics_point", "metrics")
