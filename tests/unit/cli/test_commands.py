"""``kiln`` commands end to end in-process: exit codes, output, one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from kiln import __version__
from kiln.tracking.client import KilnClient

Invoke = Callable[..., Result]


def _assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith("Error: ")
    assert lines[1].startswith("Hint: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_version(kiln_cli: Invoke) -> None:
    result = kiln_cli("--version", uri=None)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"kiln {__version__}"


def test_help_everywhere_has_examples(kiln_cli: Invoke) -> None:
    for args in (
        (),
        ("experiments",),
        ("experiments", "create"),
        ("experiments", "list"),
        ("runs",),
        ("runs", "list"),
        ("runs", "show"),
        ("runs", "delete"),
        ("runs", "restore"),
        ("import",),
        ("export",),
        ("demo",),
    ):
        result = kiln_cli(*args, "--help", uri=None)
        assert result.exit_code == 0, args
        assert "Example" in result.stdout, args


def test_experiments_create_and_list(kiln_cli: Invoke, store_uri: str) -> None:
    created = kiln_cli("experiments", "create", "churn")
    assert created.exit_code == 0
    assert "Created experiment churn with id 1" in created.stdout
    listed = kiln_cli("experiments", "list")
    assert listed.exit_code == 0
    assert "churn" in listed.stdout
    assert "Default" in listed.stdout

    client = KilnClient.from_uri(store_uri)
    client.delete_experiment("1")
    assert "churn" not in kiln_cli("experiments", "list").stdout
    assert "churn" in kiln_cli("experiments", "list", "--view", "deleted").stdout
    assert "churn" in kiln_cli("experiments", "list", "--view", "all").stdout


def test_experiment_rename_delete_restore(kiln_cli: Invoke, store_uri: str) -> None:
    kiln_cli("experiments", "create", "a")
    assert kiln_cli("experiments", "rename", "1", "b").exit_code == 0
    assert kiln_cli("experiments", "delete", "1").exit_code == 0
    assert kiln_cli("experiments", "restore", "1").exit_code == 0
    experiment = KilnClient.from_uri(store_uri).get_experiment("1")
    assert (experiment.name, str(experiment.lifecycle_stage)) == ("b", "active")


def test_duplicate_experiment_exits_4_with_one_line(kiln_cli: Invoke) -> None:
    kiln_cli("experiments", "create", "dup")
    result = kiln_cli("experiments", "create", "dup")
    assert result.exit_code == 4
    assert result.stdout == ""
    _assert_one_line_error(result.stderr, "dup")


def _seed_runs(store_uri: str) -> tuple[str, list[str]]:
    client = KilnClient.from_uri(store_uri)
    experiment_id = client.create_experiment("seeded")
    ids = []
    for index, rmse in enumerate((0.9, 0.7, 0.8)):
        run = client.create_run(experiment_id, run_name=f"run-{index}")
        client.log_param(run.info.run_id, "alpha", index)
        client.log_metric(run.info.run_id, "rmse", rmse)
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return experiment_id, ids


def test_runs_list_filter_order_and_max(kiln_cli: Invoke, store_uri: str) -> None:
    experiment_id, ids = _seed_runs(store_uri)
    by_name = kiln_cli("runs", "list", "--experiment-name", "seeded")
    assert by_name.exit_code == 0
    assert all(run_id in by_name.stdout for run_id in ids)
    assert "rmse" in by_name.stdout

    filtered = kiln_cli(
        "runs",
        "list",
        "--experiment-id",
        experiment_id,
        "--filter",
        "metrics.rmse < 0.85",
        "--order-by",
        "metrics.rmse ASC",
    )
    assert filtered.exit_code == 0
    out = filtered.stdout
    assert ids[0] not in out
    assert out.index(ids[1]) < out.index(ids[2])

    limited = kiln_cli(
        "runs",
        "list",
        "--experiment-id",
        experiment_id,
        "--max-results",
        "1",
        "--order-by",
        "metrics.rmse DESC",
    )
    assert [i for i in ids if i in limited.stdout] == [ids[0]]


def test_runs_list_empty_and_errors(kiln_cli: Invoke, store_uri: str) -> None:
    empty = kiln_cli("runs", "list")
    assert empty.exit_code == 0
    assert "No active runs in experiment 0" in empty.stdout

    missing = kiln_cli("runs", "list", "--experiment-name", "nope")
    assert missing.exit_code == 3
    _assert_one_line_error(missing.stderr, "nope")

    both = kiln_cli("runs", "list", "--experiment-id", "0", "--experiment-name", "x")
    assert both.exit_code == 2
    _assert_one_line_error(both.stderr, "not both")

    bad_filter = kiln_cli("runs", "list", "--filter", "metrics.rmse <<< 1")
    assert bad_filter.exit_code == 2
    _assert_one_line_error(bad_filter.stderr)


def test_runs_show(kiln_cli: Invoke, store_uri: str) -> None:
    _, ids = _seed_runs(store_uri)
    result = kiln_cli("runs", "show", ids[1])
    assert result.exit_code == 0
    out = result.stdout
    for fragment in (ids[1], "run-1", "FINISHED", "Params", "alpha", "Metrics", "rmse", "0.7"):
        assert fragment in out
    assert "mlflow.runName" in out


def test_runs_show_unknown_exits_3(kiln_cli: Invoke) -> None:
    result = kiln_cli("runs", "show", "f" * 32)
    assert result.exit_code == 3
    _assert_one_line_error(result.stderr, "f" * 32)


def test_runs_delete_and_restore(kiln_cli: Invoke, store_uri: str) -> None:
    _, ids = _seed_runs(store_uri)
    assert kiln_cli("runs", "delete", ids[0]).exit_code == 0
    assert ids[0] not in kiln_cli("runs", "list", "--experiment-name", "seeded").stdout
    deleted = kiln_cli("runs", "list", "--experiment-name", "seeded", "--view", "deleted")
    assert ids[0] in deleted.stdout
    assert kiln_cli("runs", "restore", ids[0]).exit_code == 0
    assert ids[0] in kiln_cli("runs", "list", "--experiment-name", "seeded").stdout


def test_bad_tracking_uri_exits_2(kiln_cli: Invoke) -> None:
    result = kiln_cli("experiments", "list", uri="ftp://example.com/x")
    assert result.exit_code == 2
    _assert_one_line_error(result.stderr, "ftp://example.com/x")


def test_tracking_uri_from_environment(kiln_cli: Invoke, store_uri: str) -> None:
    from click.testing import CliRunner

    from kiln.cli.main import cli

    KilnClient.from_uri(store_uri).create_experiment("via-env")
    runner = CliRunner(env={"MLFLOW_TRACKING_URI": store_uri, "COLUMNS": "200"})
    result = runner.invoke(cli, ["experiments", "list"])
    assert result.exit_code == 0
    assert "via-env" in result.stdout


def test_export_and_import_round_trip(kiln_cli: Invoke, store_uri: str, tmp_path: Path) -> None:
    _, ids = _seed_runs(store_uri)
    mlruns = tmp_path / "exported"
    exported = kiln_cli("export", "--to", str(mlruns))
    assert exported.exit_code == 0, exported.output
    assert "runs copied" in exported.stdout
    assert (mlruns / "1" / ids[0] / "meta.yaml").exists()

    target = f"sqlite:///{tmp_path / 'copy.db'}"
    imported = kiln_cli("import", str(mlruns), "--to", target)
    assert imported.exit_code == 0, imported.output
    copy = KilnClient.from_uri(target)
    experiment = copy.get_experiment_by_name("seeded")
    assert experiment is not None
    copied = list(copy.iter_runs([experiment.experiment_id]))
    assert sorted(r.data.metrics["rmse"] for r in copied) == [0.7, 0.8, 0.9]

    again = kiln_cli("import", str(mlruns), "--to", target)
    assert again.exit_code == 0
    assert "runs already there" in again.stdout


def test_import_missing_source_exits_3(kiln_cli: Invoke, tmp_path: Path) -> None:
    result = kiln_cli("import", str(tmp_path / "nowhere"))
    assert result.exit_code == 3
    _assert_one_line_error(result.stderr, "does not exist")
