"""pytest fixtures shared by the whole test suite (registered by tests/conftest.py).

Each backend adds its fixtures in its own module (``kiln.testing.postgres``,
``kiln.testing.s3``, ...) and is listed in ``pytest_plugins`` below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Variables that point a process at a store, run or experiment. ``mlflow.set_experiment``
# writes MLFLOW_EXPERIMENT_ID into os.environ itself, so a test that used the real mlflow
# client would otherwise steer every later test in the same worker.
_ROUTING_VARIABLES = (
    "KILN_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "KILN_RUN_ID",
    "MLFLOW_RUN_ID",
    "KILN_RUN_MANAGED",
    "KILN_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_ID",
    "KILN_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_NAME",
)


@pytest.fixture(autouse=True)
def _isolated_kiln_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the user's ~/.kiln, nor a tracking URI, run or experiment that the
    environment (or an earlier test) set."""
    home = tmp_path / "kiln-home"
    monkeypatch.setenv("KILN_HOME", str(home))
    for name in _ROUTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home
