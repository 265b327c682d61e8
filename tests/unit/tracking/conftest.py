"""Fixtures for the tracking tests: a fresh fluent state on a memory store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.store.memory.tracking import open_memory_store
from kiln.tracking import fluent
from kiln.tracking.client import KilnClient

_ENV = (
    "KILN_RUN_ID",
    "MLFLOW_RUN_ID",
    "KILN_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_ID",
    "KILN_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_NAME",
    "KILN_ARTIFACT_ROOT",
    "KILN_WORKSPACE",
)


class TickClock:
    """A clock that advances one millisecond per reading, so order never needs sleep."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture(autouse=True)
def _clean_run_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(tmp_path: Path) -> KilnClient:
    store = open_memory_store(
        "memory://", artifact_root=str(tmp_path / "artifacts"), workspace="default"
    )
    return KilnClient(store, clock=TickClock())


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KilnClient]:
    """The fluent API on a fresh memory store; yields the client it writes through."""
    monkeypatch.setenv("KILN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    fluent.reset_state()
    fluent.set_tracking_uri("memory://")
    yield fluent._client()
    while fluent.active_run() is not None:
        fluent.end_run()
    fluent.reset_state()


@pytest.fixture
def sqlite_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """For tests written as MLflow scripts (``import kiln as mlflow``): a fresh fluent
    state on a tmp sqlite store, artifacts under tmp_path."""
    monkeypatch.setenv("KILN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    fluent.reset_state()
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    fluent.set_tracking_uri(uri)
    yield uri
    while fluent.active_run() is not None:
        fluent.end_run()
    fluent.reset_state()
