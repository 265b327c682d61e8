"""``kiln models`` in-process over a temp SQLite store (the group as main.py mounts it)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kiln.cli.main import KilnGroup
from kiln.cli.models import models
from kiln.cli.state import CliState
from kiln.store.open import open_artifact_store, open_tracking_store

Invoke = Callable[..., Result]


@click.group(cls=KilnGroup)
@click.option("--tracking-uri")
@click.pass_context
def _root(ctx: click.Context, tracking_uri: str | None) -> None:
    ctx.obj = CliState(tracking_uri)


_root.add_command(models)


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def kiln_models(store_uri: str) -> Invoke:
    runner = CliRunner(env={"COLUMNS": "200"})

    def invoke(*args: str) -> Result:
        return runner.invoke(_root, ["--tracking-uri", store_uri, "models", *args])

    return invoke


def test_register_list_versions_alias(kiln_models: Invoke, store_uri: str) -> None:
    run = open_tracking_store(store_uri, workspace="default").create_run("0")
    files = open_artifact_store(run.info.artifact_uri)
    files.write_stream("model/MLmodel", io.BytesIO(b"flavors: {}\n"))
    first = kiln_models("register", f"runs:/{run.run_id}/model", "churn", "--tag", "team=a")
    assert first.exit_code == 0, first.output
    assert "Registered churn version 1" in first.output
    second = kiln_models("register", "s3://bucket/churn", "churn", "-d", "second")
    assert "version 2" in second.output

    listed = kiln_models("list")
    assert listed.exit_code == 0, listed.output
    assert "churn" in listed.output

    set_alias = kiln_models("alias", "churn", "champion", "1")
    assert set_alias.exit_code == 0, set_alias.output
    assert "churn@champion -> version 1" in set_alias.output

    shown = kiln_models("versions", "churn")
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if line.strip()]
    version_rows = [line.split()[0] for line in lines if line.split()[0] in ("1", "2")]
    assert version_rows == ["2", "1"]
    assert "@champion" in shown.output
    assert run.run_id in shown.output

    removed = kiln_models("alias", "churn", "champion", "--delete")
    assert removed.exit_code == 0, removed.output
    assert "@champion" not in kiln_models("versions", "churn").output


def test_errors_are_one_line(kiln_models: Invoke) -> None:
    missing = kiln_models("versions", "ghost")
    assert missing.exit_code != 0
    assert "ghost" in missing.output
    assert "Traceback" not in missing.output
    bad_tag = kiln_models("register", "s3://x", "m", "--tag", "novalue")
    assert bad_tag.exit_code != 0
    assert "KEY=VALUE" in bad_tag.output
    reserved = kiln_models("alias", "m", "latest", "1")
    assert reserved.exit_code != 0


def test_empty_registry(kiln_models: Invoke) -> None:
    result = kiln_models("list")
    assert result.exit_code == 0
    assert "No registered models." in result.output


def test_register_refuses_what_cannot_be_served(kiln_models: Invoke, store_uri: str) -> None:
    not_a_uri = kiln_models("register", "not-a-uri", "m")
    assert not_a_uri.exit_code != 0
    assert "nor an absolute path" in not_a_uri.output
    assert "Traceback" not in not_a_uri.output
    run = open_tracking_store(store_uri, workspace="default").create_run("0")
    no_model = kiln_models("register", f"runs:/{run.run_id}/model", "m")
    assert no_model.exit_code != 0
    assert "holds no model" in no_model.output
    assert "Traceback" not in no_model.output
    assert "No registered models" in kiln_models("list").output
