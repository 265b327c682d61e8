"""System metrics as MLflow logs them, read here from Linux's /proc (psutil is not installed
in the dev environment); metric names are pinned to the ones in mlflow's own monitors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow as real_mlflow
import pytest

import kiln as mlflow
from kiln.errors import InvalidInput
from kiln.tracking import fluent, system_metrics

MLFLOW_MONITORS = Path(real_mlflow.__file__).parent / "system_metrics" / "metrics"


def _mlflow_metric_names() -> set[str]:
    """The names mlflow's CPU, disk and network monitors record (no GPU here)."""
    names: set[str] = set()
    for monitor in ("cpu_monitor.py", "disk_monitor.py", "network_monitor.py"):
        names |= set(re.findall(r'_metrics\["(\w+)"\]', (MLFLOW_MONITORS / monitor).read_text()))
    return {f"system/{name}" for name in names}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (system_metrics.ENABLE_ENV, system_metrics.NODE_ENV, system_metrics.SAMPLES_ENV):
        monkeypatch.delenv(name, raising=False)
    system_metrics._settings.clear()
    mlflow.set_system_metrics_sampling_interval(0.05)
    yield
    system_metrics._settings.clear()


def _wait_for_steps(run_id: str, key: str, steps: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(fluent._client().get_metric_history(run_id, key)) >= steps:
            return
        time.sleep(0.02)
    raise AssertionError(f"{key} did not reach {steps} steps")


def test_enabled_runs_log_mlflows_system_metrics(sqlite_uri: str) -> None:
    mlflow.enable_system_metrics_logging()
    with mlflow.start_run() as run:
        _wait_for_steps(run.info.run_id, "system/cpu_utilization_percentage", 2)
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert set(metrics) == _mlflow_metric_names()
    assert 0 <= metrics["system/system_memory_usage_percentage"] <= 100
    assert metrics["system/disk_available_megabytes"] > 0
    history = fluent._client().get_metric_history(run.info.run_id, "system/disk_usage_megabytes")
    assert [m.step for m in history][:2] == [0, 1]
    assert not system_metrics._monitors  # end_run stopped the thread


def test_start_run_argument_wins_over_the_default(sqlite_uri: str) -> None:
    with mlflow.start_run(log_system_metrics=True) as run:
        _wait_for_steps(run.info.run_id, "system/cpu_utilization_percentage", 1)
    mlflow.enable_system_metrics_logging()
    with mlflow.start_run(log_system_metrics=False) as quiet:
        time.sleep(0.2)
    assert mlflow.get_run(quiet.info.run_id).data.metrics == {}
    mlflow.disable_system_metrics_logging()
    with mlflow.start_run() as default:
        time.sleep(0.2)
    assert mlflow.get_run(default.info.run_id).data.metrics == {}


def test_node_id_samples_and_resumed_steps(sqlite_uri: str) -> None:
    mlflow.config.set_system_metrics_node_id("node_0")
    mlflow.config.set_system_metrics_samples_before_logging(2)
    key = "system/node_0/cpu_utilization_percentage"
    with mlflow.start_run(log_system_metrics=True) as run:
        _wait_for_steps(run.info.run_id, key, 1)
    first = len(fluent._client().get_metric_history(run.info.run_id, key))
    with mlflow.start_run(run_id=run.info.run_id, log_system_metrics=True):
        _wait_for_steps(run.info.run_id, key, first + 1)
    steps = [m.step for m in fluent._client().get_metric_history(run.info.run_id, key)]
    assert steps[: first + 1] == list(range(first + 1))
    assert not any(k.startswith("system/cpu") for k in mlflow.get_run(run.info.run_id).data.metrics)


def test_proc_readings_and_refusals(tmp_path: Path) -> None:
    sampler = system_metrics._proc_sampler()
    assert sampler is not None
    reading = sampler()
    assert 0 <= reading["cpu_utilization_percentage"] <= 100
    assert system_metrics._proc_sampler(tmp_path) is None  # no /proc: nothing to read
    with pytest.raises(InvalidInput, match="must be a positive number"):
        mlflow.set_system_metrics_sampling_interval(0)
