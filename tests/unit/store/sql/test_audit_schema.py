"""The audit table: migration 0007 creates exactly what ``audit_schema`` declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kiln.store.sql.audit_schema import AUDIT_TABLES, audit_metadata
from kiln.store.sql.engine import dispose_engine, engine_for, head_revision, normalize_uri


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield uri
    dispose_engine(uri)


def test_a_fresh_store_has_the_audit_table_as_declared(sqlite_uri: str) -> None:
    engine = engine_for(sqlite_uri)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        diffs = compare_metadata(context, audit_metadata)
    names = {table.name for table in AUDIT_TABLES}
    relevant = [
        d
        for d in diffs
        if not (d[0] == "remove_table" and d[1].name not in names)
        and not (d[0] == "remove_index" and d[1].table.name not in names)
    ]
    assert relevant == []
