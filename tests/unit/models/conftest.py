"""Fixtures for the model tests: small data and a fluent API on a SQLite tracking store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kiln.tracking import fluent


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 3))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})


@pytest.fixture
def target(frame: pd.DataFrame) -> np.ndarray:
    return (frame["a"] + frame["b"] > 0).astype("int64").to_numpy()


@pytest.fixture(autouse=True)
def _autolog_off() -> Iterator[None]:
    """Every flavor's autolog is off after each test: ``kiln.autolog()`` turns on all
    installed flavors (or waits for their import), and one left on would log (or write
    ./mlruns) in later tests."""
    yield
    import sys

    from kiln.models.autolog import FLAVORS
    from kiln.models.autolog.import_hooks import HOOKS

    for integration in FLAVORS.values():
        HOOKS.cancel(integration.libraries)  # waiting for a library no test imported yet
        module = sys.modules.get(integration.module)
        if module is not None:
            module.autolog(disable=True)


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fluent API on a fresh SQLite database (runs and registry in one file)."""
    for name in ("KILN_RUN_ID", "MLFLOW_RUN_ID", "KILN_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KILN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    fluent.reset_state()
    fluent.set_tracking_uri(uri)
    yield uri
    while fluent.active_run() is not None:
        fluent.end_run()
    fluent.reset_state()
