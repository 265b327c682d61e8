"""Shared fixtures live in kiln.testing so that the contract suites can be reused.

One fixture lives here: every test gets back the ``MLFLOW_*``/``KILN_*`` environment
it started with. MLflow 3's own ``set_tracking_uri``/``set_experiment`` write
``MLFLOW_TRACKING_URI``/``MLFLOW_EXPERIMENT_ID`` into ``os.environ``; a test that
calls them in-process would otherwise steer every later test of its worker (and the
subprocesses those start) to a store that no longer exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "kiln.testing.browser",
    "kiln.testing.fixtures",
    "kiln.testing.postgres",
    "kiln.testing.s3",
    "kiln.testing.slapd",
]

_PREFIXES = ("MLFLOW_", "KILN_")


@pytest.fixture(autouse=True)
def _restore_tracking_environment() -> Iterator[None]:
    before = {k: v for k, v in os.environ.items() if k.startswith(_PREFIXES)}
    yield
    for key in [k for k in os.environ if k.startswith(_PREFIXES)]:
        if key not in before:
            del os.environ[key]
    os.environ.update(before)
