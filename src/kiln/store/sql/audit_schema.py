"""The audit log's table (SQLAlchemy Core), beside the tracking tables.

Created by migration ``0007_audit_log``; ``audit_metadata`` mirrors it (a test
checks that they agree). Rows are only ever inserted: ``event_id`` orders the hash
chain, ``prev_hash``/``hash`` link each row to the one before it
(``kiln.store.rules.audit``). ``before``/``after`` hold canonical JSON text (or NULL).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from kiln.store.sql.schema import WORKSPACE_LENGTH

audit_metadata = MetaData()

audit_events = Table(
    "audit_events",
    audit_metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("tenant", String(WORKSPACE_LENGTH), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(1000), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_tenant", "tenant", "event_id"),
    Index("ix_audit_events_resource", "resource", "event_id"),
)

AUDIT_TABLES = (audit_events,)

__all__ = ["AUDIT_TABLES", "audit_events", "audit_metadata"]
