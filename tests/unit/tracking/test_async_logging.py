"""Asynchronous logging (``synchronous=False``) on the embedded stores."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import kiln
import kiln.config
from kiln.entities import Metric, Param, RunStatus, RunTag
from kiln.errors import Conflict, InvalidInput
from kiln.store.rules.tracking import (
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)
from kiln.tracking import async_logging, fluent
from kiln.tracking.async_logging import RunOperations
from kiln.tracking.batching import batches
from kiln.tracking.client import KilnClient

LOGGER = "kiln.tracking.async_logging"


@pytest.fixture(autouse=True)
def _default_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts synchronous by default and leaves no failure behind."""
    for name in kiln.config.ASYNC_LOGGING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    async_logging.set_default(None)
    yield
    async_logging.set_default(None)
    async_logging.pending_failure()


def _steps(run_id: str, key: str) -> list[int]:
    return [m.step for m in kiln.get_metric_history(run_id, key)]


def test_10000_points_then_end_run_are_all_stored_in_order(sqlite_uri: str) -> None:
    with kiln.start_run() as run:
        for i in range(10_000):
            ops = kiln.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
            assert isinstance(ops, RunOperations)
    history = kiln.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(10_000))
    assert history[9_999].value == pytest.approx(1e-4)
    assert kiln.get_run(run.info.run_id).info.status is RunStatus.FINISHED


def test_wait_returns_after_its_points_are_stored(sqlite_uri: str) -> None:
    run = kiln.start_run()
    for i in range(2_500):
        kiln.log_metric("acc", i / 2_500, step=i, synchronous=False)
    last = kiln.log_metric("acc", 1.0, step=2_500, synchronous=False)
    assert last is not None
    last.wait()
    assert _steps(run.info.run_id, "acc") == list(range(2_501))
    kiln.end_run()


def test_params_tags_and_metrics_batches_keep_call_order(tracking: KilnClient) -> None:
    with kiln.start_run() as run:
        kiln.log_params({f"p{i}": i for i in range(250)}, synchronous=False)
        assert kiln.log_param("lr", 0.1, synchronous=False) is not None
        kiln.set_tag("stage", "first", synchronous=False)
        kiln.set_tags({f"t{i}": i for i in range(150)}, synchronous=False)
        kiln.set_tag("stage", "last", synchronous=False)
        kiln.log_metrics({f"m{i}": float(i) for i in range(2_500)}, step=3, synchronous=False)
    data = kiln.get_run(run.info.run_id).data
    assert len(data.params) == 251
    assert data.params["lr"] == "0.1"
    assert data.tags["stage"] == "last"
    assert data.tags["t149"] == "149"
    assert len(data.metrics) == 2_500
    assert data.metrics["m2499"] == 2_499.0


def test_bad_key_fails_its_own_call_at_once(tracking: KilnClient) -> None:
    with kiln.start_run() as run:
        with pytest.raises(InvalidInput, match="invalid metric key"):
            kiln.log_metric("bad key!", 1.0, synchronous=False)
        kiln.log_metric("good", 1.0, synchronous=False)
    assert _steps(run.info.run_id, "good") == [0]


def test_deleted_run_failure_raises_from_wait_and_is_logged_once(
    tracking: KilnClient, caplog: pytest.LogCaptureFixture
) -> None:
    with kiln.start_run() as run:
        kiln.log_metric("x", 1.0)
    tracking.delete_run(run.info.run_id)
    caplog.set_level(logging.ERROR, logger=LOGGER)
    for i in range(3_000):  # three batches, one failure
        last = kiln.log_metric("x", 2.0, step=i, run_id=run.info.run_id, synchronous=False)
    assert last is not None
    message = rf"asynchronous logging to run {run.info.run_id} failed; 3000 metrics not logged"
    with pytest.raises(Conflict, match=message):
        last.wait()
    with pytest.raises(Conflict, match="is deleted"):
        last.wait()  # a wait always answers for its own points
    logged = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(logged) == 1  # when the first batch failed; the later ones joined it
    assert re.fullmatch(
        rf"asynchronous logging to run {run.info.run_id} failed; \d+ metrics? not logged: "
        rf"run {run.info.run_id} is deleted; restore it before writing to it",
        logged[0],
    )
    kiln.flush_async_logging()  # raised by wait() already: not raised twice


def test_failure_raises_from_end_run_after_the_run_is_ended(tracking: KilnClient) -> None:
    other = tracking.create_run(tracking.default_experiment_id())
    tracking.delete_run(other.info.run_id)
    run = kiln.start_run()
    kiln.log_metric("ok", 1.0, synchronous=False)
    kiln.log_params({"a": 1}, run_id=other.info.run_id, synchronous=False)
    with pytest.raises(Conflict, match=f"run {other.info.run_id} failed; 1 param not logged"):
        kiln.end_run()
    ended = kiln.get_run(run.info.run_id)
    assert ended.info.status is RunStatus.FINISHED
    assert ended.data.metrics == {"ok": 1.0}
    kiln.flush_async_logging()  # nothing left to tell


def test_param_conflict_is_reported_by_flush(tracking: KilnClient) -> None:
    with kiln.start_run() as run:
        kiln.log_param("seed", 1)
        kiln.log_param("seed", 2, synchronous=False)
        with pytest.raises(Conflict, match="1 param not logged"):
            kiln.flush_async_logging()
    assert kiln.get_run(run.info.run_id).data.params == {"seed": "1"}


def test_enable_async_logging_switches_the_default(
    tracking: KilnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with kiln.start_run():
        assert kiln.log_metric("a", 1.0) is None
        kiln.config.enable_async_logging()
        assert isinstance(kiln.log_metric("a", 2.0), RunOperations)
        assert isinstance(kiln.set_tag("k", "v"), RunOperations)
        assert kiln.log_metric("a", 3.0, synchronous=True) is None
        kiln.config.enable_async_logging(False)
        monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
        assert kiln.log_param("p", 1) == 1  # the process choice wins over the variable
        async_logging.set_default(None)
        assert isinstance(kiln.log_metric("a", 4.0), RunOperations)
        monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "maybe")
        with pytest.raises(InvalidInput, match="MLFLOW_ENABLE_ASYNC_LOGGING must be true"):
            kiln.log_metric("a", 5.0)


def test_batches_stay_within_mlflow_limits() -> None:
    metrics = [Metric("m", float(i), 1, i) for i in range(2_345)]
    params = [Param(f"p{i}", "v") for i in range(150)]
    tags = [RunTag("same", str(i)) for i in range(3)]
    out = list(batches([(1, metrics, params, tags), (2, [Metric("m", 0.0, 1, 9_999)], [], [])]))
    for batch in out:
        assert len(batch.metrics) <= MAX_METRICS_PER_BATCH
        assert len(batch.params) <= MAX_PARAMS_TAGS_PER_BATCH
        assert len(batch.tags) <= MAX_PARAMS_TAGS_PER_BATCH
        assert batch.size() <= MAX_ENTITIES_PER_BATCH
        assert len({t.key for t in batch.tags}) == len(batch.tags)  # repeated key: new batch
    assert [m.step for b in out for m in b.metrics] == [*range(2_345), 9_999]
    assert [t.value for b in out for t in b.tags] == ["0", "1", "2"]
    assert len([p for b in out for p in b.params]) == 150
    assert out[-1].seqs == [1, 2]


def test_interpreter_exit_flushes_without_end_run(sqlite_uri: str, tmp_path: Path) -> None:
    db = tmp_path / "exit.db"
    script = textwrap.dedent(
        f"""
        import kiln
        kiln.set_tracking_uri({f"sqlite:///{db}"!r})
        run = kiln.start_run()
        print(run.info.run_id)
        for i in range(5000):
            kiln.log_metric("loss", float(i), step=i, synchronous=False)
        """
    )
    env = {**os.environ, "KILN_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    fluent.set_tracking_uri(f"sqlite:///{db}")
    assert _steps(run_id, "loss") == list(range(5_000))
    assert kiln.get_run(run_id).info.status is RunStatus.FINISHED
