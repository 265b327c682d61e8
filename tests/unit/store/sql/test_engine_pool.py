"""EnginePool: the owner of SQL engines, shared by the stores opened from it."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from kiln.config import Settings
from kiln.entities import Metric
from kiln.store.open import open_logged_model_store, open_registry_store, open_tracking_store
from kiln.store.sql.engine import SHARED_ENGINES, EnginePool, dispose_engine, normalize_uri
from kiln.store.sql.logged_models import SqlLoggedModelStore
from kiln.store.sql.registry import SqlRegistryStore
from kiln.store.sql.tracking import SqlTrackingStore, open_sql_store
from kiln.tracking.client import KilnClient


def _three(uri: str, engines: EnginePool | None) -> list[object]:
    return [
        open_tracking_store(uri, workspace="default", engines=engines),
        open_registry_store(uri, workspace="default", engines=engines),
        open_logged_model_store(uri, workspace="default", engines=engines),
    ]


def _engines(stores: list[object]) -> set[int]:
    found = set()
    for store in stores:
        assert isinstance(store, SqlTrackingStore | SqlRegistryStore | SqlLoggedModelStore)
        found.add(id(store._engine))
    return found


def test_the_stores_of_one_pool_share_one_engine_and_close_with_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    with EnginePool() as pool:
        stores = _three(uri, pool)
        assert _engines(stores) == {id(pool.engine(normalize_uri(uri)))}
        tracking = stores[0]
        assert isinstance(tracking, SqlTrackingStore)
        tracking.create_experiment("kept", None, [])
        checked_in = tracking.engine.pool.checkedin()  # type: ignore[attr-defined]
        assert checked_in >= 1
    # closed: its connections are gone, and the next open is a fresh engine
    assert tracking.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    with EnginePool() as again:
        reopened = open_tracking_store(uri, workspace="default", engines=again)
        assert reopened.get_experiment_by_name("kept") is not None
        assert _engines([reopened]) != {id(tracking.engine)}


def test_a_sqlite_engine_has_one_group_committer_that_closes_with_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    with EnginePool() as pool:
        first = open_sql_store(uri, workspace="default", engines=pool)
        second = open_sql_store(uri, workspace="default", engines=pool)
        assert first._group is not None
        assert first._group is second._group is pool.committer(normalize_uri(uri))
        run_id = first.create_run("0").info.run_id
        first.log_metric(run_id, Metric("loss", 0.5, 1, 0))  # through the committer
        warm = first._group._connection  # the committer keeps its connection warm
        assert warm is not None
        driver = warm.connection.driver_connection
        driver.execute("SELECT 1")
    # closing the pool closed the committer first, so the engine closed its connection
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        driver.execute("SELECT 1")
    # a store still held goes on writing, on a fresh connection
    first.log_metric(run_id, Metric("loss", 0.25, 2, 1))
    assert [m.value for m in first.get_metric_history(run_id, "loss")] == [0.5, 0.25]
    with EnginePool() as again:
        assert again.committer(normalize_uri(uri)) is not first._group


def test_openers_without_a_pool_share_the_process_default(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    try:
        stores = _three(uri, None)
        assert _engines(stores) == {id(SHARED_ENGINES.engine(normalize_uri(uri)))}
        with EnginePool() as own:
            assert _engines(_three(uri, own)).isdisjoint(_engines(stores))
    finally:
        dispose_engine(uri)


def test_closing_one_uri_keeps_the_others(tmp_path: Path) -> None:
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    with EnginePool() as pool:
        kept = pool.engine(normalize_uri(second))
        dropped = pool.engine(normalize_uri(first))
        pool.close(first)
        assert pool.engine(normalize_uri(second)) is kept
        assert pool.engine(normalize_uri(first)) is not dropped


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_with_an_empty_pool(tmp_path: Path) -> None:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'k.db'}")
    with EnginePool() as pool:
        parent = pool.engine(uri)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a fresh engine, never the parent's
            os.close(read)
            fresh = pool.engine(uri) is not parent
            os.write(write, b"1" if fresh else b"0")
            os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert answer == b"1"
        assert pool.engine(uri) is parent


def test_a_client_opened_on_a_pool_holds_that_pools_engine(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    settings = Settings(home=tmp_path, tracking_uri=uri)
    pool = EnginePool()
    with closing(pool), closing(KilnClient.from_uri(uri, settings, engines=pool)) as client:
        assert _engines([client.store]) == {id(pool.engine(normalize_uri(uri)))}
