"""The model registry's tables (SQLAlchemy Core), beside the tracking tables.

Created by migration ``0002_model_registry``; ``registry_metadata`` mirrors it (a
test checks that they agree). Registered models get a surrogate integer id so that
a rename is one ``UPDATE``; versions, tags and aliases hang off that id with
``ON DELETE CASCADE``, and an alias references its version, so deleting either
drops it. ``next_version`` on the model row hands out version numbers, never reused.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kiln.store.sql.schema import cascade_fk, key_value_table, workspace_column

registry_metadata = MetaData()


def _version_fk(name: str) -> ForeignKeyConstraint:
    """(registered_model_id, version) -> the model version, deleted with it."""
    return ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
        ondelete="CASCADE",
        name=name,
    )


registered_models = Table(
    "registered_models",
    registry_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    workspace_column(),
    Column("name", String(256), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("next_version", Integer, nullable=False),
    UniqueConstraint("workspace", "name", name="uq_registered_models_workspace_name"),
)

registered_model_tags = key_value_table(
    "registered_model_tags",
    registry_metadata,
    cascade_fk("registered_model_id", Integer(), "registered_models.id"),
)

model_versions = Table(
    "model_versions",
    registry_metadata,
    workspace_column(),
    cascade_fk("registered_model_id", Integer(), "registered_models.id"),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("storage_location", Text),
    Column("run_id", String(256)),
    Column("run_link", Text),
    Column("status", String(20), nullable=False),
    Column("status_message", Text),
    Column("model_id", String(256)),
    PrimaryKeyConstraint("registered_model_id", "version", name="pk_model_versions"),
    Index("ix_model_versions_run_id", "workspace", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    registry_metadata,
    workspace_column(),
    Column("registered_model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "version", "key", name="pk_model_version_tags"),
    _version_fk("fk_model_version_tags_version"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    registry_metadata,
    workspace_column(),
    Column("registered_model_id", Integer, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "alias", name="pk_registered_model_aliases"),
    _version_fk("fk_registered_model_aliases_version"),
)

REGISTRY_TABLES = (
    registered_models,
    registered_model_tags,
    model_versions,
    model_version_tags,
    registered_model_aliases,
)

__all__ = [
    "REGISTRY_TABLES",
    "model_version_tags",
    "model_versions",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "registry_metadata",
]
