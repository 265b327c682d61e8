"""The logged-model tables (SQLAlchemy Core), beside the tracking tables.

Created by migration ``0003_logged_models``; ``logged_model_metadata`` mirrors it
(a test checks that they agree). A model row carries ``workspace``; tags, params,
metrics and outputs hang off ``model_id`` (globally unique) and go with the model.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from kiln.store.sql.schema import cascade_fk, key_value_table, workspace_column

_ID = 64

logged_model_metadata = MetaData()


def _model_fk() -> Column[str]:
    return cascade_fk("model_id", String(_ID), "logged_models.model_id")


logged_models = Table(
    "logged_models",
    logged_model_metadata,
    Column("model_id", String(_ID), primary_key=True),
    workspace_column(),
    Column("experiment_id", String(32), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_message", Text),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("lifecycle_stage", String(20), nullable=False),
    Index("ix_logged_models_experiment", "workspace", "experiment_id"),
)
logged_model_tags = key_value_table(
    "logged_model_tags", logged_model_metadata, _model_fk(), workspace=False
)
logged_model_params = key_value_table(
    "logged_model_params", logged_model_metadata, _model_fk(), workspace=False
)
logged_model_metrics = Table(
    "logged_model_metrics",
    logged_model_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _model_fk(),
    Column("key", String(250), nullable=False),
    Column("value", Float),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32)),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    Index("ix_logged_model_metrics_model", "model_id"),
)
logged_model_outputs = Table(
    "logged_model_outputs",
    logged_model_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    workspace_column(),
    Column("run_id", String(32), nullable=False),
    _model_fk(),
    Column("step", BigInteger, nullable=False),
    Index("ix_logged_model_outputs_run", "workspace", "run_id"),
)

LOGGED_MODEL_TABLES = (
    logged_models,
    logged_model_tags,
    logged_model_params,
    logged_model_metrics,
    logged_model_outputs,
)

__all__ = [
    "LOGGED_MODEL_TABLES",
    "logged_model_metadata",
    "logged_model_metrics",
    "logged_model_outputs",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
]
