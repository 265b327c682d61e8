"""List commands for scripts (``--output json|csv``), tables in pipes, ``kiln runs artifacts``,
the example requirement check, and printed commands that run as printed."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import kiln
from kiln.cli.commands import kiln_command, pip_command
from kiln.cli.main import cli
from kiln.tracking import fluent

Invoke = Callable[..., Result]
REPO = Path(__file__).resolve().parents[3]
LONG_NAME = "classification-of-census-income-with-gradient-boosting"


@pytest.fixture
def run_id(store_uri: str) -> str:
    fluent.set_tracking_uri(store_uri)
    try:
        kiln.set_experiment(LONG_NAME)
        with kiln.start_run(run_name="a-run-name-longer-than-the-table-shows-it") as run:
            kiln.log_params({"alpha": 0.1})
            kiln.log_metric("rmse", 0.5)
            kiln.log_dict({"k": 1}, "config/settings.json")
            kiln.log_text("x" * 2048, "notes.txt")
        return run.info.run_id
    finally:
        fluent.reset_state()


def test_list_commands_speak_json_and_csv(kiln_cli: Invoke, run_id: str) -> None:
    listed = kiln_cli("runs", "list", "--experiment-name", LONG_NAME, "--output", "json")
    assert listed.exit_code == 0, listed.output
    (record,) = json.loads(listed.stdout)
    assert record["run_id"] == run_id
    assert record["run_name"] == "a-run-name-longer-than-the-table-shows-it"  # never cut
    assert record["metrics.rmse"] == 0.5
    assert record["params.alpha"] == "0.1"
    as_csv = kiln_cli("runs", "list", "--experiment-name", LONG_NAME, "--output", "csv")
    (row,) = csv.DictReader(io.StringIO(as_csv.stdout))
    assert row["run_id"] == run_id
    assert row["metrics.rmse"] == "0.5"
    experiments = json.loads(kiln_cli("experiments", "list", "--output", "json").stdout)
    assert [e["name"] for e in experiments] == [LONG_NAME, "Default"]
    empty = kiln_cli("models", "list", "--output", "json")
    assert json.loads(empty.stdout) == []
    header = kiln_cli("models", "list", "--output", "csv").stdout
    assert header.splitlines() == [
        "name,latest_version,aliases,creation_timestamp,last_updated_timestamp,description"
    ]


def test_runs_artifacts_lists_a_folder(kiln_cli: Invoke, run_id: str) -> None:
    top = kiln_cli("runs", "artifacts", run_id)
    assert top.exit_code == 0, top.output
    assert "config/" in top.stdout
    assert "2.0 KiB" in top.stdout
    inside = json.loads(kiln_cli("runs", "artifacts", run_id, "config", "--output", "json").stdout)
    assert inside == [{"path": "config/settings.json", "is_dir": False, "file_size": 12}]
    missing = kiln_cli("runs", "artifacts", "0" * 32)
    assert missing.exit_code == 3
    assert missing.stderr.startswith("Error: ")


def test_tables_in_a_pipe_never_break_words(store_uri: str, run_id: str) -> None:
    """Without a terminal and without COLUMNS, a table is as wide as its content."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", "--tracking-uri", store_uri, "experiments", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert LONG_NAME in done.stdout
    row = next(line for line in done.stdout.splitlines() if LONG_NAME in line)
    assert len(row) > 80


def _example(root: Path, name: str, requires: str, extra: str | None) -> None:
    folder = root / name
    shutil.copytree(REPO / "examples" / "wine", folder)
    spec = folder / "kiln-example.yaml"
    text = spec.read_text().replace("requires: [sklearn, pandas]", f"requires: [{requires}]")
    spec.write_text(text + (f"extra: {extra}\n" if extra else ""))


@pytest.fixture
def needy(tmp_path: Path) -> Path:
    root = tmp_path / "examples"
    _example(root, "needy", "kiln_no_such_module, sklearn", "nosuch")
    return root


def test_an_example_missing_modules_is_skipped_with_the_install_command(
    kiln_cli: Invoke, needy: Path
) -> None:
    done = kiln_cli("examples", "--examples-dir", str(needy), "run-all")
    assert done.exit_code == 1
    assert f"needy: skipped, needs kiln_no_such_module: {pip_command()} install " in done.stdout
    assert "'kiln-mlops[nosuch]'" in done.stdout
    assert "1 of 1 examples were skipped" in done.stdout
    listed = json.loads(
        kiln_cli("examples", "--examples-dir", str(needy), "list", "--output", "json").stdout
    )
    assert listed[0]["missing_modules"] == ["kiln_no_such_module"]
    assert listed[0]["install"] == f"{pip_command()} install 'kiln-mlops[nosuch]'"


def test_only_naming_an_example_that_cannot_run_fails_before_anything_runs(
    kiln_cli: Invoke, needy: Path, tmp_path: Path
) -> None:
    _example(needy, "plain", "kiln_other_missing", None)
    done = kiln_cli("examples", "--examples-dir", str(needy), "run-all", "--only", "needy,plain")
    assert done.exit_code == 1
    assert done.stdout == ""
    error, hint = done.stderr.splitlines()
    assert "needy needs kiln_no_such_module" in error
    assert f"plain needs kiln_other_missing: {pip_command()} install kiln_other_missing" in error
    assert "nothing was run" in error
    assert hint.startswith("Hint: Install what the message names")


def test_printed_commands_run_as_printed(tmp_path: Path) -> None:
    """With the venv's bin folder off PATH (a fresh shell after scripts/install), the
    printed command is a path that runs."""
    bare = {**os.environ, "PATH": "/usr/bin:/bin"}
    code = "from kiln.cli.commands import kiln_command; print(kiln_command())"
    printed = subprocess.run(
        [sys.executable, "-c", code], env=bare, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed != "kiln"
    done = subprocess.run(
        f"{printed} --version", shell=True, env=bare, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("kiln ")
    on_path = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    if (Path(sys.executable).parent / "kiln").exists():
        named = subprocess.run(
            [sys.executable, "-c", code], env=on_path, capture_output=True, text=True, check=True
        )
        assert named.stdout.strip() == "kiln"
    assert kiln_command() in ("kiln", printed)


def test_help_of_every_list_command_offers_json_and_csv() -> None:
    for args in (
        ["runs", "list"],
        ["runs", "artifacts"],
        ["experiments", "list"],
        ["models", "list"],
        ["models", "versions"],
        ["datasets", "list"],
        ["examples", "list"],
    ):
        shown = CliRunner().invoke(cli, [*args, "--help"], catch_exceptions=False)
        assert "[table|json|csv]" in shown.stdout, args
