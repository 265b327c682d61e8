"""``kiln reproduce`` refusals that need no project (in-process; the full flow is in
tests/integration/test_projects_reproduce.py)."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result

from kiln.projects import tags as T
from kiln.tracking.client import KilnClient

Invoke = Callable[..., Result]


def test_help_has_examples(kiln_cli: Invoke) -> None:
    result = kiln_cli("reproduce", "--help", uri=None)
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "--allow-dirty" in result.stdout


def test_run_without_project_tags_is_refused(kiln_cli: Invoke, store_uri: str) -> None:
    client = KilnClient.from_uri(store_uri)
    run_id = client.create_run("0").info.run_id
    result = kiln_cli("reproduce", run_id)
    assert result.exit_code == 2
    assert "was not launched by `kiln run`" in result.stderr
    assert result.stderr.count("\n") == 2  # one error line, one hint


def test_project_run_outside_git_is_refused(kiln_cli: Invoke, store_uri: str) -> None:
    client = KilnClient.from_uri(store_uri)
    tags = {T.SOURCE_TYPE: T.SOURCE_TYPE_PROJECT, T.PARAMS: "{}", T.URI: "/tmp/folder"}
    run_id = client.create_run("0", tags=tags).info.run_id
    result = kiln_cli("reproduce", run_id)
    assert result.exit_code == 2
    assert "ran from a folder outside git" in result.stderr


def test_bad_tolerance_is_refused(kiln_cli: Invoke, store_uri: str) -> None:
    run_id = KilnClient.from_uri(store_uri).create_run("0").info.run_id
    result = kiln_cli("reproduce", run_id, "--tolerance", "-1")
    assert result.exit_code == 2
    assert "tolerance must be a finite number >= 0" in result.stderr


def test_unknown_run_is_not_found(kiln_cli: Invoke) -> None:
    result = kiln_cli("reproduce", "f" * 32)
    assert result.exit_code == 3
