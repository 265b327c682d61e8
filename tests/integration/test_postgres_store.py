"""The PostgreSQL tracking store passes the contract (a throwaway server, see TESTING.md)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric, Param, RunTag
from kiln.errors import Conflict
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.sql.engine import current_revision, head_revision, read_transaction
from kiln.store.sql.tracking import open_sql_store
from kiln.testing.contracts import TrackingStoreContract

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


class TestPostgresStore(TrackingStoreContract):
    @pytest.fixture
    def store(self, postgres_db_uri: str) -> TrackingStore:
        return open_sql_store(postgres_db_uri, workspace="default")

    @pytest.fixture
    def open_workspace(self, postgres_db_uri: str) -> Callable[[str], TrackingStore]:
        return lambda workspace: open_sql_store(postgres_db_uri, workspace=workspace)


def test_plain_postgresql_uri_opens_with_psycopg3(postgres_db_uri: str) -> None:
    plain = "postgresql://" + postgres_db_uri.removeprefix("postgresql+psycopg://")
    store = open_sql_store(plain, workspace="default")
    assert store.engine.dialect.driver == "psycopg"
    with read_transaction(store.engine) as conn:
        assert current_revision(conn) == head_revision()
    assert store.default_artifact_root.endswith("/kiln-artifacts")


def test_special_values_and_long_params_round_trip(postgres_db_uri: str) -> None:
    store = open_sql_store(postgres_db_uri, workspace="default")
    run = store.create_run(DEFAULT_EXPERIMENT_ID)
    long_value = "x" * 6000  # over PostgreSQL's btree entry limit: only a prefix is indexed
    store.log_batch(
        run.run_id,
        [
            Metric("nan", math.nan, 1, 0),
            Metric("inf", math.inf, 1, 0),
            Metric("ninf", -math.inf, 1, 0),
        ],
        [Param("long", long_value)],
        [RunTag("t", "v")],
    )
    data = store.get_run(run.run_id).data
    assert math.isnan(data.metrics["nan"])
    assert data.metrics["inf"] == math.inf
    assert data.metrics["ninf"] == -math.inf
    assert data.params["long"] == long_value
    found = store.search_runs([DEFAULT_EXPERIMENT_ID], f"params.long = '{long_value}'")
    assert [r.run_id for r in found] == [run.run_id]


def test_failing_batch_rolls_back(postgres_db_uri: str) -> None:
    store = open_sql_store(postgres_db_uri, workspace="default")
    run = store.create_run(DEFAULT_EXPERIMENT_ID)
    store.log_param(run.run_id, Param("a", "1"))
    with pytest.raises(Conflict, match="'a'"):
        store.log_batch(run.run_id, [Metric("m", 1.0, 1, 0)], [Param("a", "2")])
    assert store.get_metric_history(run.run_id, "m") == []


def test_experiment_ids_count_from_one_after_default(postgres_db_uri: str) -> None:
    store = open_sql_store(postgres_db_uri, workspace="default")
    assert [store.create_experiment(name) for name in ("a", "b")] == ["1", "2"]
