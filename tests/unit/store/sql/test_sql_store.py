"""The SQLite tracking store passes the contract, plus what only SQL stores have."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from kiln.entities import DEFAULT_EXPERIMENT_ID, LifecycleStage, Metric, Param, RunStatus, RunTag
from kiln.errors import AlreadyExists, Conflict, InvalidInput, InvalidUri
from kiln.store.open import open_tracking_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.sql import schema
from kiln.store.sql.engine import (
    current_revision,
    dispose_engine,
    head_revision,
    normalize_uri,
    read_transaction,
)
from kiln.store.sql.tracking import SqlTrackingStore, open_sql_store
from kiln.testing.contracts import TrackingStoreContract


@pytest.fixture
def db_uri(tmp_path: Path) -> Iterator[str]:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    yield uri
    dispose_engine(uri)


class TestSqliteStore(TrackingStoreContract):
    @pytest.fixture
    def store(self, db_uri: str) -> TrackingStore:
        return open_sql_store(db_uri, workspace="default")

    @pytest.fixture
    def open_workspace(self, db_uri: str) -> Callable[[str], TrackingStore]:
        return lambda workspace: open_sql_store(db_uri, workspace=workspace)


def _sqlite(db_uri: str) -> sqlite3.Connection:
    return sqlite3.connect(db_uri.removeprefix("sqlite:///"))


def test_open_tracking_store_dispatches_sqlite(db_uri: str) -> None:
    store = open_tracking_store(db_uri, workspace="default")
    assert isinstance(store, SqlTrackingStore)
    assert store.get_experiment(DEFAULT_EXPERIMENT_ID).name == "Default"


def test_migration_creates_every_table_on_an_empty_file(db_uri: str) -> None:
    open_sql_store(db_uri, workspace="default")
    with _sqlite(db_uri) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert version == head_revision()
    assert set(schema.metadata.tables) <= tables


_POSTGRESQL_ONLY_INDEXES = {
    "ix_params_key_value_prefix",
    "ix_tags_key_value_prefix",
    "ix_runs_name_pattern",
}


def test_migrations_match_the_schema_module(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    inspector = inspect(store.engine)
    for table in schema.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        expected = {i.name for i in table.indexes if i.name not in _POSTGRESQL_ONLY_INDEXES}
        assert expected <= indexes, table.name
    assert "workspace" in {c["name"] for c in inspector.get_columns("runs")}


def test_head_revision_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)
    assert ScriptDirectory.from_config(config).get_current_head() == head_revision()


def test_every_table_has_a_workspace_column() -> None:
    for table in schema.metadata.sorted_tables:
        assert "workspace" in table.columns, table.name


def test_reopen_keeps_data_and_skips_migration(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    run = store.create_run(DEFAULT_EXPERIMENT_ID, run_name="kept")
    store.log_batch(run.run_id, [Metric("loss", 0.25, 1, 3)], [Param("a", "1")], [RunTag("t", "v")])
    dispose_engine(db_uri)
    again = open_sql_store(db_uri, workspace="default")
    fetched = again.get_run(run.run_id)
    assert fetched.info.run_name == "kept"
    assert fetched.data.metric_objects["loss"] == Metric("loss", 0.25, 1, 3)
    assert fetched.data.params == {"a": "1"}
    assert fetched.data.tags["t"] == "v"
    assert len(again.search_experiments().items) == 1


def _alembic_config(connection: object) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def test_an_old_database_is_upgraded_on_open(db_uri: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    raw = create_engine(db_uri)
    with raw.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")  # the first schema
        connection.exec_driver_sql(
            "INSERT INTO experiments (experiment_id, workspace, name, artifact_location, "
            "lifecycle_stage) VALUES (7, 'default', 'from-0001', '/x/7', 'active')"
        )
    raw.dispose()
    store = open_sql_store(db_uri, workspace="default")
    with read_transaction(store.engine) as conn:
        assert current_revision(conn) == head_revision()
    assert store.get_experiment("7").name == "from-0001"
    assert store.get_experiment(DEFAULT_EXPERIMENT_ID).name == "Default"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000


def test_a_failing_batch_rolls_back_metrics_written_before_the_failure(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    run = store.create_run(DEFAULT_EXPERIMENT_ID)
    store.log_param(run.run_id, Param("alpha", "1"))
    metrics = [Metric("loss", float(i), i, i) for i in range(10)]
    with pytest.raises(Conflict, match="alpha"):
        store.log_batch(run.run_id, metrics, [Param("beta", "2"), Param("alpha", "other")])
    assert store.get_metric_history(run.run_id, "loss") == []
    assert store.get_run(run.run_id).data.params == {"alpha": "1"}
    with _sqlite(db_uri) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM latest_metrics").fetchone() == (0,)


def test_nan_and_infinities_are_stored_and_searchable(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    runs = {}
    for name, value in [("nan", math.nan), ("inf", math.inf), ("ninf", -math.inf), ("one", 1.0)]:
        run = store.create_run(DEFAULT_EXPERIMENT_ID, run_name=name)
        store.log_metric(run.run_id, Metric("m", value, 1, 0))
        runs[name] = run.run_id
    history = store.get_metric_history(runs["nan"], "m")
    assert math.isnan(history[0].value)
    assert store.get_run(runs["inf"]).data.metrics["m"] == math.inf
    found = store.search_runs([DEFAULT_EXPERIMENT_ID], "metrics.m > 0", order_by=["metrics.m"])
    assert [r.info.run_name for r in found] == ["one", "inf"]
    ordered = store.search_runs([DEFAULT_EXPERIMENT_ID], order_by=["metrics.m DESC"])
    assert [r.info.run_name for r in ordered] == ["inf", "one", "ninf", "nan"]


def test_like_is_case_sensitive_and_has_no_escape(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    for value in ["Alpha", "alpha", "a_b", r"a\b", "a%b"]:
        run = store.create_run(DEFAULT_EXPERIMENT_ID, run_name=value)
        store.set_tag(run.run_id, RunTag("t", value))

    def names(flt: str) -> set[str]:
        return {r.info.run_name for r in store.search_runs([DEFAULT_EXPERIMENT_ID], flt)}

    assert names("tags.t LIKE 'al%'") == {"alpha"}
    assert names("tags.t ILIKE 'al%'") == {"Alpha", "alpha"}
    assert names(r"tags.t LIKE 'a\_b'") == set()
    assert names(r"tags.t LIKE 'a\b'") == {r"a\b"}
    assert names("tags.t LIKE 'a_b'") == {"a_b", r"a\b", "a%b"}


def test_search_ordered_by_a_filtered_metric_pages_without_gaps(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    expected = []
    for i in range(30):
        run = store.create_run(DEFAULT_EXPERIMENT_ID, start_time=1000 + i)
        store.log_batch(run.run_id, [Metric("loss", (i % 7) / 10, 1, 0)], [Param("a", str(i % 2))])
        if i % 2 == 0 and (i % 7) / 10 < 0.5:
            expected.append(((i % 7) / 10, -(1000 + i), run.run_id))
    want = [run_id for *_, run_id in sorted(expected)]
    got: list[str] = []
    token = None
    while True:
        page = store.search_runs(
            [DEFAULT_EXPERIMENT_ID],
            "metrics.loss < 0.5 and params.a = '0'",
            order_by=["metrics.loss"],
            max_results=4,
            page_token=token,
        )
        got.extend(r.run_id for r in page)
        token = page.next_page_token
        if token is None:
            break
    assert got == want


def test_searches_of_one_shape_bind_their_own_values(db_uri: str) -> None:
    """The compiled search SQL is cached per filter shape; values must not leak between calls."""
    store = open_sql_store(db_uri, workspace="default")
    ids = {}
    for i, (name, loss) in enumerate([("a", 0.1), ("b", 0.2), ("c", 0.3)]):
        run = store.create_run(DEFAULT_EXPERIMENT_ID, start_time=1000 + i, run_name=name)
        store.log_batch(run.run_id, [Metric("loss", loss, 1, 0)], [Param("p", name)])
        ids[name] = run.run_id
    for limit, p, names in [
        (0.25, "a", ["a"]),
        (0.25, "b", ["b"]),
        (0.5, "c", ["c"]),
        (0.05, "a", []),
    ]:
        page = store.search_runs(
            [DEFAULT_EXPERIMENT_ID], f"metrics.loss < {limit} and params.p = '{p}'"
        )
        assert [r.run_id for r in page] == [ids[n] for n in names]
    for values, names in [(("a", "c"), ["c", "a"]), (("b", "c"), ["c", "b"]), (("b",), ["b"])]:
        quoted = ", ".join(f"'{ids[v]}'" for v in values)
        page = store.search_runs([DEFAULT_EXPERIMENT_ID], f"attributes.run_id IN ({quoted})")
        assert [r.run_id for r in page] == [ids[n] for n in names]
    for pattern, names in [("a%", ["a"]), ("%", ["c", "b", "a"])]:
        page = store.search_runs([DEFAULT_EXPERIMENT_ID], f"attributes.run_name LIKE '{pattern}'")
        assert [r.info.run_name for r in page] == names


def test_artifact_locations_default_next_to_the_database(tmp_path: Path, db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    root = tmp_path / "artifacts"
    assert store.default_artifact_root == str(root)
    experiment_id = store.create_experiment("e")
    assert store.get_experiment(experiment_id).artifact_location == f"{root}/{experiment_id}"
    run = store.create_run(experiment_id)
    assert run.info.artifact_uri == f"{root}/{experiment_id}/{run.run_id}/artifacts"


def test_experiment_ids_count_from_one_after_default(db_uri: str) -> None:
    store = open_sql_store(db_uri, workspace="default")
    assert [store.create_experiment(name) for name in ("a", "b")] == ["1", "2"]


def test_explicit_artifact_root_is_used(db_uri: str) -> None:
    store = open_sql_store(db_uri, artifact_root="s3://bucket/prefix", workspace="default")
    experiment_id = store.create_experiment("e")
    assert store.get_experiment(experiment_id).artifact_location == (
        f"s3://bucket/prefix/{experiment_id}"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_postgresql_uris_use_psycopg3(uri: str, expected: str) -> None:
    assert normalize_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mysql://u@h/db", "not a SQL tracking URI"),
        ("postgresql+psycopg2://u@h/db", "psycopg 3"),
        ("::::", "invalid database URI"),
    ],
)
def test_other_database_uris_are_rejected(uri: str, message: str) -> None:
    with pytest.raises(InvalidUri, match=message):
        normalize_uri(uri)


def test_bad_workspace_is_rejected(db_uri: str) -> None:
    with pytest.raises(InvalidInput, match="workspace"):
        open_sql_store(db_uri, workspace="")


def test_in_memory_sqlite_works() -> None:
    store = open_sql_store("sqlite:///:memory:", workspace="default")
    run = store.create_run(DEFAULT_EXPERIMENT_ID)
    store.log_metric(run.run_id, Metric("m", 1.0, 1, 0))
    assert store.get_run(run.run_id).data.metrics["m"] == 1.0
    dispose_engine("sqlite:///:memory:")


def test_history_import_keeps_ids_stages_and_every_point(db_uri: str) -> None:
    from kiln.store.memory.tracking import open_memory_store
    from kiln.store.protocols.history import HistoryImport
    from kiln.store.transfer.history import copy_history

    source = open_memory_store("memory://", workspace="default")
    experiment_id = source.create_experiment("copied", tags=[RunTag("k", "v")])
    run = source.create_run(experiment_id, user_id="ann", start_time=5, run_name="r")
    source.log_batch(
        run.run_id,
        [Metric("m", 1.0, 1, 0), Metric("m", math.nan, 2, 1), Metric("m", 3.0, 3, 1)],
        [Param("p", "1")],
    )
    source.update_run_info(run.run_id, status=RunStatus.FINISHED, end_time=9)
    gone = source.create_run(experiment_id, start_time=6)
    source.delete_run(gone.run_id)
    dest = open_sql_store(db_uri, workspace="default")
    assert isinstance(dest, HistoryImport)
    copy_history(source, dest, copy_artifacts=False)
    copied = dest.get_run(run.run_id)
    assert copied.info.run_name == "r"
    assert copied.info.status is RunStatus.FINISHED
    assert (copied.info.start_time, copied.info.end_time) == (5, 9)
    assert copied.data.params == {"p": "1"}
    assert copied.data.metric_objects["m"] == Metric("m", 3.0, 3, 1)
    history = dest.get_metric_history(run.run_id, "m")
    assert [m.step for m in history] == [0, 1, 1]
    assert math.isnan(history[1].value)
    assert dest.get_run(gone.run_id).info.lifecycle_stage is LifecycleStage.DELETED
    experiment = dest.get_experiment(copied.info.experiment_id)
    assert (experiment.name, experiment.tags) == ("copied", {"k": "v"})
    with pytest.raises(AlreadyExists, match=run.run_id):
        dest.import_run(source.get_run(run.run_id), copied.info.experiment_id)


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [
        (None, ["metrics.m"]),
        (None, ["metrics.m DESC"]),
        (None, ["params.p DESC", "metrics.m"]),
        (None, ["tags.t"]),
        ("metrics.m > 0.2", ["metrics.m DESC"]),
        ("metrics.m != 0.5", ["metrics.m"]),
        ("params.p = 'b'", ["metrics.m"]),
        ("params.p IS NULL", ["start_time"]),
        ("tags.t LIKE 'x%'", ["attributes.run_name DESC"]),
        (None, ["end_time"]),
    ],
)
def test_search_pages_agree_with_the_memory_store(
    db_uri: str, filter_string: str | None, order_by: list[str]
) -> None:
    import random

    from kiln.store.memory.tracking import open_memory_store

    rng = random.Random(7)
    stores: list[TrackingStore] = [
        open_sql_store(db_uri, workspace="default"),
        open_memory_store("memory://", workspace="default"),
    ]
    for i in range(25):
        metric = rng.choice([None, math.nan, 0.5, 0.1, 0.9, -math.inf, math.inf, 0.3])
        param = rng.choice([None, "a", "b", "c"])
        tag = rng.choice([None, "x1", "x2", "y"])
        ended = rng.choice([None, 10, 20])
        for store in stores:
            run = store.create_run(DEFAULT_EXPERIMENT_ID, start_time=1000 - i, run_name=f"r{i}")
            store.log_batch(
                run.run_id,
                [] if metric is None else [Metric("m", metric, 1, 0)],
                [] if param is None else [Param("p", param)],
                [] if tag is None else [RunTag("t", tag)],
            )
            if ended is not None:
                store.update_run_info(run.run_id, end_time=ended)

    def pages(store: TrackingStore) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = store.search_runs(
                [DEFAULT_EXPERIMENT_ID],
                filter_string,
                order_by=order_by,
                max_results=3,
                page_token=token,
            )
            names.extend(r.info.run_name for r in page)
            token = page.next_page_token
            if token is None:
                return names

    sql_names, memory_names = (pages(store) for store in stores)
    assert sql_names == memory_names
    assert sql_names
