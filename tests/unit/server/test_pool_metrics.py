"""``/metrics`` shows the SQL store's connection pool (and nothing for stores without one)."""

from __future__ import annotations

import re
from pathlib import Path

from kiln.config import Settings
from kiln.server.app import create_app
from kiln.server.telemetry import pool_collectors
from kiln.store.memory.tracking import open_memory_store
from kiln.store.sql.tracking import open_sql_store
from kiln.testing.server import asgi_client


def _gauge(text: str, name: str) -> int:
    match = re.search(rf'^{name}\{{backend="sqlite"\}} (-?\d+)$', text, re.MULTILINE)
    assert match, f"{name} missing from:\n{text}"
    return int(match.group(1))


def test_metrics_report_the_sql_pool(tmp_path: Path) -> None:
    store = open_sql_store(f"sqlite:///{tmp_path / 'kiln.db'}", workspace="default")
    settings = Settings(home=tmp_path, tracking_uri="unused")
    app = create_app(settings, store=store, destination=None)
    with asgi_client(app) as client:
        assert client.get(
            "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}
        ).is_success
        with store.engine.connect():  # one connection held while /metrics is scraped
            text = client.get("/metrics").text
        assert _gauge(text, "kiln_db_pool_checked_out") == 1
        assert _gauge(text, "kiln_db_pool_size") == store.engine.pool.size()  # type: ignore[attr-defined]
        assert "# TYPE kiln_db_pool_overflow gauge" in text
        # The pool's one connection (the requests ran one at a time) was the one held: none idle.
        assert _gauge(text, "kiln_db_pool_checked_in") == 0
        released = client.get("/metrics").text
        assert _gauge(released, "kiln_db_pool_checked_out") == 0
        assert _gauge(released, "kiln_db_pool_checked_in") == 1  # back in the pool, idle


def test_stores_without_a_pool_have_no_pool_gauges() -> None:
    assert pool_collectors(open_memory_store(workspace="default")) == []
    assert pool_collectors(object()) == []
