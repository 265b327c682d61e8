"""Migration 0006: repeated metric points stored before it are removed, then refused.

On SQLite, and on PostgreSQL (marked ``postgres``: the throwaway server of TESTING.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric
from kiln.store.sql import schema
from kiln.store.sql.engine import dispose_engine
from kiln.store.sql.tracking import open_sql_store

_ROW = (
    "INSERT INTO metrics (workspace, run_uuid, key, value, timestamp, step, is_nan) "
    "VALUES ('default', :run, :key, :value, :ts, :step, :nan)"
)


def _alembic(connection: object, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def check_upgrade_removes_repeats(db_uri: str) -> None:
    """Store repeats under revision 0005, reopen (upgrade to head), find each point once."""
    store = open_sql_store(db_uri, workspace="default")
    run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
    other_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
    dispose_engine(db_uri)
    raw = create_engine(db_uri)
    rows: list[dict[str, Any]] = [
        {"run": run_id, "key": "m", "value": 0.5, "ts": 1, "step": 0, "nan": False},
        {"run": run_id, "key": "m", "value": 0.5, "ts": 1, "step": 0, "nan": False},
        {"run": run_id, "key": "m", "value": 0.5, "ts": 1, "step": 0, "nan": False},
        {"run": run_id, "key": "m", "value": 0.0, "ts": 2, "step": 1, "nan": True},
        {"run": run_id, "key": "m", "value": 0.0, "ts": 2, "step": 1, "nan": True},
        {"run": run_id, "key": "m", "value": 0.0, "ts": 2, "step": 1, "nan": False},
        {"run": run_id, "key": "m", "value": 0.6, "ts": 1, "step": 0, "nan": False},
        {"run": other_id, "key": "m", "value": 0.5, "ts": 1, "step": 0, "nan": False},
    ]
    with raw.begin() as connection:
        _alembic(connection, "downgrade", "0005")
        connection.execute(text(_ROW), rows)
    raw.dispose()

    again = open_sql_store(db_uri, workspace="default")  # migrates to head
    history = again.get_metric_history(run_id, "m")
    assert [(m.step, m.timestamp, m.value) for m in history if not math.isnan(m.value)] == [
        (0, 1, 0.5),
        (0, 1, 0.6),
        (1, 2, 0.0),
    ]
    assert sum(math.isnan(m.value) for m in history) == 1
    assert len(again.get_metric_history(other_id, "m")) == 1
    indexes = {i["name"]: i for i in inspect(again.engine).get_indexes("metrics")}
    assert indexes["uq_metrics_point"]["unique"]
    assert "ix_metrics_history" not in indexes
    with (
        pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"),
        again.engine.begin() as connection,
    ):
        connection.execute(text(_ROW), rows[0])
    again.log_metric(run_id, Metric("m", 0.5, 1, 0))  # a retry is skipped, not refused
    assert len(again.get_metric_history(run_id, "m")) == 4


@pytest.fixture
def db_uri(tmp_path: Path) -> Iterator[str]:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    yield uri
    dispose_engine(uri)


def test_upgrade_removes_repeated_points_on_sqlite(db_uri: str) -> None:
    check_upgrade_removes_repeats(db_uri)


@pytest.mark.postgres
@pytest.mark.integration
def test_upgrade_removes_repeated_points_on_postgresql(postgres_db_uri: str) -> None:
    check_upgrade_removes_repeats(postgres_db_uri)


def test_downgrade_restores_the_history_index(db_uri: str) -> None:
    open_sql_store(db_uri, workspace="default")
    dispose_engine(db_uri)
    raw = create_engine(db_uri)
    with raw.begin() as connection:
        _alembic(connection, "downgrade", "0005")
    names = {i["name"] for i in inspect(raw).get_indexes("metrics")}
    raw.dispose()
    assert "ix_metrics_history" in names
    assert "uq_metrics_point" not in names
