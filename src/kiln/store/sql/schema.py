"""The tracking schema as SQLAlchemy Core tables (no ORM).

Every table carries a ``workspace`` column and every query of
``kiln.store.sql.tracking`` filters on it. Experiment ids are integers drawn from
one sequence shared by all workspaces (so artifact locations ``<root>/<id>``
never collide); the ``workspaces`` table remembers which experiment is the
Default one of each workspace (``0`` for ``default``).

On SQLite, ``runs``, ``params``, ``tags`` and ``latest_metrics`` are ``WITHOUT
ROWID`` tables clustered on their primary key (``run_uuid``, ``(run_uuid, key)``):
a lookup is one b-tree descent, and the ``(key, value)`` indexes carry the run
id, so a search join reads no extra table rows.

Metric values: SQLite turns a NaN into NULL, so a NaN is stored as ``value = 0``
with ``is_nan`` true (as MLflow does); ``±inf`` are stored as they are. A point
(run, key, step, timestamp, value, is_nan) is stored once (``uq_metrics_point``).

The migrations in ``kiln.store.sql.migrations`` create exactly these tables;
``tests/unit/store/sql/test_sql_store.py`` checks that they agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeEngine

# The prefix of a param value that PostgreSQL indexes: a btree entry must stay
# under ~2.7 kB, and a param value may be 6000 characters long.
PARAM_VALUE_INDEX_PREFIX = 200
# The same for a tag value on PostgreSQL (``ix_tags_key_value_prefix``).
TAG_VALUE_INDEX_PREFIX = 200
# The longest workspace name (a DNS label).
WORKSPACE_LENGTH = 63


def workspace_column() -> Column[str]:
    """The ``workspace`` column of every table (of every kind) but ``workspaces``."""
    return Column("workspace", String(WORKSPACE_LENGTH), nullable=False)


def cascade_fk(name: str, type_: TypeEngine[Any], target: str) -> Column[Any]:
    """A required column referencing ``target`` (``"table.column"``): rows go with their parent."""
    return Column(name, type_, ForeignKey(target, ondelete="CASCADE"), nullable=False)


def key_value_table(
    name: str, metadata: MetaData, owner: Column[Any], *, workspace: bool = True, **kw: Any
) -> Table:
    """A table of tags or params: one text ``value`` per (``owner``, ``key``)."""
    return Table(
        name,
        metadata,
        *([workspace_column()] if workspace else []),
        owner,
        Column("key", String(250), nullable=False),
        Column("value", Text, nullable=False),
        PrimaryKeyConstraint(owner.name, "key", name=f"pk_{name}"),
        **kw,
    )


metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("workspace", String(WORKSPACE_LENGTH), primary_key=True),
    Column("default_experiment_id", Integer, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    workspace_column(),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(2000), nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
    UniqueConstraint("workspace", "name", name="uq_experiments_workspace_name"),
)

experiment_tags = key_value_table(
    "experiment_tags", metadata, cascade_fk("experiment_id", Integer(), "experiments.experiment_id")
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    workspace_column(),
    cascade_fk("experiment_id", Integer(), "experiments.experiment_id"),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("deleted_time", BigInteger),
    Column("artifact_uri", String(2000), nullable=False),
    Index("ix_runs_search", "workspace", "experiment_id", "lifecycle_stage", "start_time"),
    sqlite_with_rowid=False,
)

params = key_value_table(
    "params", metadata, cascade_fk("run_uuid", String(32), "runs.run_uuid"), sqlite_with_rowid=False
)
# SQLite indexes the whole value; PostgreSQL a prefix (see PARAM_VALUE_INDEX_PREFIX).
Index("ix_params_key_value", params.c.key, params.c.value).ddl_if(dialect="sqlite")
Index(
    "ix_params_key_value_prefix",
    params.c.key,
    func.substr(params.c.value, 1, PARAM_VALUE_INDEX_PREFIX),
).ddl_if(dialect="postgresql")

tags = key_value_table(
    "tags", metadata, cascade_fk("run_uuid", String(32), "runs.run_uuid"), sqlite_with_rowid=False
)
# Tag-value and run-name searches (migration 0005). PostgreSQL indexes a prefix of a
# tag value (a tag value may be 8000 characters) and uses the pattern operator
# classes, which serve both ``=`` and a ``LIKE`` prefix whatever the collation.
Index("ix_tags_key_value", tags.c.key, tags.c.value).ddl_if(dialect="sqlite")
Index(
    "ix_tags_key_value_prefix",
    tags.c.key,
    func.substr(tags.c.value, 1, TAG_VALUE_INDEX_PREFIX).label("value_prefix"),
    postgresql_ops={"value_prefix": "text_pattern_ops"},
).ddl_if(dialect="postgresql")
Index("ix_runs_name", runs.c.name).ddl_if(dialect="sqlite")
Index("ix_runs_name_pattern", runs.c.name, postgresql_ops={"name": "varchar_pattern_ops"}).ddl_if(
    dialect="postgresql"
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    workspace_column(),
    cascade_fk("run_uuid", String(32), "runs.run_uuid"),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    # One row per point, as MLflow's primary key (key, timestamp, step, run_uuid,
    # value, is_nan): a retried write is skipped (ON CONFLICT DO NOTHING). Ordered
    # for the history query, which reads a key's points by (step, timestamp).
    Index(
        "uq_metrics_point",
        "run_uuid",
        "key",
        "step",
        "timestamp",
        "value",
        "is_nan",
        unique=True,
    ),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    workspace_column(),
    cascade_fk("run_uuid", String(32), "runs.run_uuid"),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="pk_latest_metrics"),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

# Dataset inputs, as in MLflow's schema (column names included) plus ``workspace``.
# A dataset is unique per (experiment, name, digest); an input is the edge
# dataset -> run (source_type "DATASET", destination_type "RUN"), its tags in
# ``input_tags``.
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), primary_key=True),
    workspace_column(),
    cascade_fk("experiment_id", Integer(), "experiments.experiment_id"),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("dataset_source_type", String(36), nullable=False),
    Column("dataset_source", Text, nullable=False),
    Column("dataset_schema", Text),
    Column("dataset_profile", Text),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
)

inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), primary_key=True),
    workspace_column(),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    UniqueConstraint(
        "source_type", "source_id", "destination_type", "destination_id", name="uq_inputs_edge"
    ),
    Index("ix_inputs_destination", "destination_id", "source_id"),
    Index("ix_inputs_source", "source_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    workspace_column(),
    cascade_fk("input_uuid", String(36), "inputs.input_uuid"),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name", name="pk_input_tags"),
)

__all__ = [
    "PARAM_VALUE_INDEX_PREFIX",
    "TAG_VALUE_INDEX_PREFIX",
    "WORKSPACE_LENGTH",
    "cascade_fk",
    "key_value_table",
    "datasets",
    "input_tags",
    "inputs",
    "experiment_tags",
    "experiments",
    "latest_metrics",
    "metadata",
    "metrics",
    "params",
    "runs",
    "tags",
    "workspace_column",
    "workspaces",
]
