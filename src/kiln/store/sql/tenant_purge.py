"""Deleting every tracking, registry and logged-model row of one tenant (MLflow's
``CASCADE`` workspace deletion, ``kiln admin delete-tenant --force``).

The tables come from the schema modules' metadata, sorted by their foreign keys
(children first), so a table added to a schema later is purged without editing
this module. A row belongs to a tenant through its ``workspace`` column, or, for
a table without one (``logged_model_tags`` ...), through the foreign key to a
parent that does: those rows go before their parents, while the parents can
still be found. A table with neither cannot be attributed to a tenant and fails
at import (a schema change must say whose its rows are).

Artifacts are not touched: an API call never removes files.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, delete, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.schema import sort_tables

from kiln.store.sql.logged_model_schema import logged_model_metadata, logged_models
from kiln.store.sql.registry_schema import registered_models, registry_metadata
from kiln.store.sql.schema import experiments, metadata, runs

PURGED_METADATA = (metadata, registry_metadata, logged_model_metadata)
# The counts the audit line records: key -> the table whose deleted rows it counts.
COUNTED = {
    "experiments": experiments,
    "runs": runs,
    "registered_models": registered_models,
    "logged_models": logged_models,
}


def owned_by(table: Table, tenant: str) -> ColumnElement[bool]:
    """The rows of ``table`` that belong to ``tenant``."""
    if "workspace" in table.c:
        return table.c.workspace == tenant
    for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
        parent = fk.referred_table
        local = [element.parent for element in fk.elements]
        remote = [element.column for element in fk.elements]
        owners = select(*remote).where(owned_by(parent, tenant))
        if len(local) == 1:
            return local[0].in_(owners)
        return tuple_(*local).in_(owners)
    raise TypeError(
        f"table {table.name!r} has no workspace column and no foreign key to a table "
        "with one: a tenant's rows cannot be found there"
    )


def purge_order() -> list[Table]:
    """Every table of the tracking, registry and logged-model schemas, children first."""
    tables = [table for meta in PURGED_METADATA for table in meta.tables.values()]
    return list(reversed(sort_tables(tables)))


PURGE_ORDER = purge_order()
for _table in PURGE_ORDER:  # a table no tenant owns fails here, not at delete time
    owned_by(_table, "")


def purge_tenant_rows(conn: Connection, tenant: str) -> dict[str, int]:
    """Delete every row of ``tenant`` on ``conn`` (the caller's transaction); answer
    how many experiments, runs, registered models and logged models went."""
    counts = dict.fromkeys(COUNTED, 0)
    counted = {table.name: key for key, table in COUNTED.items()}
    for table in PURGE_ORDER:
        result = conn.execute(delete(table).where(owned_by(table, tenant)))
        key = counted.get(table.name)
        if key is not None:
            counts[key] = int(result.rowcount)
    return counts


__all__ = ["COUNTED", "PURGE_ORDER", "owned_by", "purge_order", "purge_tenant_rows"]
