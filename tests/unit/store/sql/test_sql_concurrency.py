"""Several processes on one SQLite file: first opens, concurrent writers, a killed writer."""

from __future__ import annotations

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric
from kiln.store.sql.engine import dispose_engine
from kiln.store.sql.tracking import open_sql_store

WORKERS = 8
SINGLE = 300
BATCHES = 2
BATCH_SIZE = 100

pytestmark = pytest.mark.integration


def _open_only(uri: str) -> str:
    """Worker: open a (possibly brand-new) database and read the Default experiment."""
    return open_sql_store(uri, workspace="default").get_experiment(DEFAULT_EXPERIMENT_ID).name


def _log(args: tuple[str, str, int]) -> str:
    """Worker: log singly and in batches into its own run and into the shared run."""
    uri, shared_run, worker = args
    store = open_sql_store(uri, workspace="default")
    own = store.create_run(DEFAULT_EXPERIMENT_ID, run_name=f"worker-{worker}").run_id
    key = f"w{worker}"
    for step in range(SINGLE):
        store.log_metric(own, Metric("m", float(step), 1000 + step, step))
        store.log_metric(shared_run, Metric(key, float(step), 1000 + step, step))
    for batch in range(BATCHES):
        points = [
            Metric("m", float(i), 5000 + i, SINGLE + batch * BATCH_SIZE + i)
            for i in range(BATCH_SIZE)
        ]
        store.log_batch(own, metrics=points)
        store.log_batch(
            shared_run, metrics=[Metric(key, p.value, p.timestamp, p.step) for p in points]
        )
    return own


@pytest.mark.slow
def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        names = pool.map(_open_only, [uri] * WORKERS)
    assert names == ["Default"] * WORKERS
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM alembic_version").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM experiments").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM workspaces").fetchone() == (1,)


@pytest.mark.slow
def test_eight_processes_log_without_errors_or_losses(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    store = open_sql_store(uri, workspace="default")
    shared = store.create_run(DEFAULT_EXPERIMENT_ID, run_name="shared").run_id
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        own_runs = pool.map(_log, [(uri, shared, worker) for worker in range(WORKERS)])
    expected_steps = list(range(SINGLE + BATCHES * BATCH_SIZE))
    for worker, run_id in enumerate(own_runs):
        history = store.get_metric_history(run_id, "m")
        assert [m.step for m in history] == expected_steps
        shared_history = store.get_metric_history(shared, f"w{worker}")
        assert [m.step for m in shared_history] == expected_steps
    latest = store.get_run(shared).data.metric_objects
    assert {k: m.step for k, m in latest.items()} == {
        f"w{w}": expected_steps[-1] for w in range(WORKERS)
    }
    dispose_engine(uri)


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from kiln.entities import Metric
    from kiln.store.sql.tracking import open_sql_store

    store = open_sql_store(sys.argv[1], workspace="default")
    run_id = sys.argv[2]
    step = 0
    while True:
        if step % 10 == 9:
            store.log_batch(run_id, metrics=[
                Metric("m", float(step + i), step + i, step + i) for i in range(50)
            ])
            step += 50
        else:
            store.log_metric(run_id, Metric("m", float(step), step, step))
            step += 1
        print(step, flush=True)
    """
)


def test_a_killed_writer_leaves_every_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "kiln.db"
    uri = f"sqlite:///{db}"
    store = open_sql_store(uri, workspace="default")
    run_id = store.create_run(DEFAULT_EXPERIMENT_ID).run_id
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, uri, run_id],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    acknowledged = 0
    for line in writer.stdout:
        acknowledged = int(line)
        if acknowledged >= 500:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    dispose_engine(uri)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    reopened = open_sql_store(uri, workspace="default")
    steps = [m.step for m in reopened.get_metric_history(run_id, "m")]
    # Everything acknowledged is there, in full batches, with no gaps or repeats.
    assert len(steps) >= acknowledged
    assert steps == list(range(len(steps)))
    assert reopened.get_run(run_id).data.metric_objects["m"].step == steps[-1]
    dispose_engine(uri)
