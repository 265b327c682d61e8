"""pytest fixtures shared by the whole test suite (registered by tests/conftest.py).

Each backend adds its fixtures in its own module (``kiln.testing.postgres``,
``kiln.testing.s3``, ...) and is listed in ``pytest_plugins`` below.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_kiln_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the user's ~/.kiln or an inherited tracking URI in tests."""
    home = tmp_path / "kiln-home"
    monkeypatch.setenv("KILN_HOME", str(home))
    monkeypatch.delenv("KILN_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home
