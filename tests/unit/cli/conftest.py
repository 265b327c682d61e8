"""CLI tests run ``kiln`` in-process with click's CliRunner against a temp sqlite store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kiln.cli.main import cli

Invoke = Callable[..., Result]


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def kiln_cli(store_uri: str) -> Invoke:
    """Run ``kiln --tracking-uri <tmp sqlite> ARGS...`` on a wide terminal (200 columns
    unless ``columns`` says otherwise)."""

    def invoke(*args: str, uri: str | None = store_uri, columns: int = 200) -> Result:
        prefix = ["--tracking-uri", uri] if uri else []
        runner = CliRunner(env={"COLUMNS": str(columns)})
        return runner.invoke(cli, [*prefix, *args], catch_exceptions=False)

    return invoke
