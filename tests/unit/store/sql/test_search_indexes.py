"""Tag-value and run-name searches use their indexes (migration 0005, issue 10).

The plans are read with EXPLAIN QUERY PLAN from the SQL the search really ran
(traced on the driver connection), not from a hand-written query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, inspect

from kiln.entities import DEFAULT_EXPERIMENT_ID, ViewType
from kiln.store.sql import filters
from kiln.store.sql.engine import current_revision, dispose_engine, head_revision, read_transaction
from kiln.store.sql.schema import runs, tags
from kiln.store.sql.search_index import PROBE_CAP, like_prefix, prefix_bounds
from kiln.store.sql.tracking import SqlTrackingStore, open_sql_store

RUN_NAME = "mlflow.runName"


@pytest.fixture
def db_uri(tmp_path: Path) -> Iterator[str]:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    yield uri
    dispose_engine(uri)


def _bulk_runs(store: SqlTrackingStore, count: int, user: str = "bench") -> None:
    """``count`` runs named ``run-<i>`` (tags ``mlflow.runName`` and ``mlflow.user``)."""
    ws = store.workspace
    run_rows, tag_rows = [], []
    for i in range(count):
        run_id = uuid.uuid4().hex
        run_rows.append(
            {
                "run_uuid": run_id,
                "workspace": ws,
                "experiment_id": int(DEFAULT_EXPERIMENT_ID),
                "name": f"run-{i}",
                "user_id": user,
                "status": "RUNNING",
                "start_time": 1_000 + i,
                "end_time": None,
                "lifecycle_stage": "active",
                "deleted_time": None,
                "artifact_uri": f"/x/{run_id}",
            }
        )
        for key, value in ((RUN_NAME, f"run-{i}"), ("mlflow.user", user)):
            tag_rows.append({"workspace": ws, "run_uuid": run_id, "key": key, "value": value})
    with store.engine.begin() as conn:
        conn.execute(insert(runs), run_rows)
        conn.execute(insert(tags), tag_rows)


def _plans(store: SqlTrackingStore, filter_string: str) -> tuple[list[str], list[str]]:
    """(run names found, EXPLAIN QUERY PLAN lines of the run SELECT the search executed)."""
    traced: list[str] = []
    with read_transaction(store.engine) as conn:
        driver: Any = conn.connection.driver_connection
        driver.set_trace_callback(traced.append)
        try:
            page = filters.search_runs(
                conn, store.workspace, [0], filter_string, ViewType.ACTIVE_ONLY, 100, [], None
            )
        finally:
            driver.set_trace_callback(None)
        selects = [sql for sql in traced if sql.startswith("SELECT runs.run_uuid")]
        assert len(selects) == 1, traced
        plan = [row[-1] for row in driver.execute(f"EXPLAIN QUERY PLAN {selects[0]}")]
    return [run.info.run_name for run in page.items], plan


@pytest.mark.parametrize(
    ("filter_string", "index", "found"),
    [
        (f"tags.`{RUN_NAME}` = 'run-1234'", "ix_tags_key_value", ["run-1234"]),
        ("attributes.run_name = 'run-1234'", "ix_runs_name", ["run-1234"]),
        ("run_name = 'run-1234'", "ix_runs_name", ["run-1234"]),
        (
            "attributes.run_name LIKE 'run-123%'",
            "ix_runs_name",
            [f"run-123{i}" for i in range(9, -1, -1)] + ["run-123"],
        ),
        (
            f"tags.`{RUN_NAME}` LIKE 'run-123%'",
            "ix_tags_key_value",
            [f"run-123{i}" for i in range(9, -1, -1)] + ["run-123"],
        ),
    ],
)
def test_a_selective_tag_or_run_name_filter_searches_its_index(
    db_uri: str, filter_string: str, index: str, found: list[str]
) -> None:
    store = open_sql_store(db_uri, workspace="default")
    _bulk_runs(store, 2 * PROBE_CAP)
    names, plan = _plans(store, filter_string)
    assert names == found
    assert any(f"INDEX {index}" in line for line in plan), plan
    assert not any("ix_runs_search" in line for line in plan), plan  # no walk over every run


@pytest.mark.parametrize(
    "filter_string",
    [
        "tags.`mlflow.user` = 'bench'",
        f"tags.`{RUN_NAME}` LIKE 'run-%'",
        "attributes.run_name LIKE 'run-%'",
        "attributes.run_name != 'run-3'",
    ],
)
def test_a_value_most_runs_share_keeps_the_ordered_walk(db_uri: str, filter_string: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    _bulk_runs(store, 2 * PROBE_CAP)
    names, plan = _plans(store, filter_string)
    assert names == [f"run-{i}" for i in range(2 * PROBE_CAP - 1, 2 * PROBE_CAP - 101, -1)]
    assert any("ix_runs_search" in line for line in plan), plan
    assert not any("ix_tags_key_value" in line or "ix_runs_name" in line for line in plan), plan


def test_a_rare_run_name_drives_even_beside_a_common_tag(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    _bulk_runs(store, 2 * PROBE_CAP)
    names, plan = _plans(store, "tags.`mlflow.user` = 'bench' and attributes.run_name = 'run-7'")
    assert names == ["run-7"]
    assert any("INDEX ix_runs_name" in line for line in plan), plan
    assert not any("ix_tags_key_value" in line for line in plan), plan


def test_migration_0005_upgrades_an_existing_database(db_uri: str) -> None:
    from alembic import command
    from alembic.config import Config

    raw = create_engine(db_uri)
    with raw.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(Path(filters.__file__).parent / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.exec_driver_sql(
            "INSERT INTO runs (run_uuid, workspace, experiment_id, name, user_id, status, "
            "start_time, lifecycle_stage, artifact_uri) VALUES "
            "('a' || hex(randomblob(15)), 'default', 0, 'old-run', 'u', 'FINISHED', 5, "
            "'active', '/x')"
        )
        connection.exec_driver_sql(
            "INSERT INTO tags (workspace, run_uuid, key, value) "
            f"SELECT 'default', run_uuid, '{RUN_NAME}', name FROM runs"
        )
    before = {i["name"] for i in inspect(raw).get_indexes("tags")}
    raw.dispose()
    assert "ix_tags_key_value" not in before

    store = open_sql_store(db_uri, workspace="default")
    with read_transaction(store.engine) as conn:
        assert current_revision(conn) == head_revision()
    inspector: Any = inspect(store.engine)
    assert "ix_tags_key_value" in {i["name"] for i in inspector.get_indexes("tags")}
    assert "ix_runs_name" in {i["name"] for i in inspector.get_indexes("runs")}
    names, plan = _plans(store, f"tags.`{RUN_NAME}` = 'old-run'")
    assert names == ["old-run"]
    assert any("INDEX ix_tags_key_value" in line for line in plan), plan


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [("run-99999%", "run-99999"), ("a_b%", "a"), ("%x", ""), ("exact", "exact"), ("", "")],
)
def test_like_prefix_stops_at_the_first_wildcard(pattern: str, prefix: str) -> None:
    assert like_prefix(pattern) == prefix


def test_prefix_bounds_enclose_exactly_the_strings_with_the_prefix() -> None:
    assert prefix_bounds("run-9999") == ("run-9999", "run-999:")
    assert prefix_bounds("") is None
    assert prefix_bounds("a\U0010ffff") == ("a\U0010ffff", "b")
    assert prefix_bounds("\U0010ffff") is None
    assert prefix_bounds("x\ud7ff") == ("x\ud7ff", "x\ue000")  # surrogates are skipped
    low, high = prefix_bounds("ab")  # type: ignore[misc]
    inside = ["ab", "ab\x00", "abz", "ab\U0010ffff"]
    outside = ["aa", "a", "ac", "b", "a\U0010ffff"]
    assert all(low <= s < high for s in inside)
    assert not any(low <= s < high for s in outside)
