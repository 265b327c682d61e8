"""``kiln datasets list/show``: dataset versions and the runs that used them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from click.testing import Result

from kiln.tracking.client import KilnClient
from kiln.tracking.datasets import dataset_from
from kiln.tracking.lineage import dataset_versions

Invoke = Callable[..., Result]
_T0 = 1_700_000_000_000  # start times a second apart, so "over time" has an order


def _log_history(store_uri: str, tmp_path: Path) -> tuple[KilnClient, dict[str, str]]:
    """Two versions of ``train`` (a CSV edited between runs) and a frame ``holdout``."""
    client = KilnClient.from_uri(store_uri)
    churn = client.create_experiment("churn")
    other = client.create_experiment("other")
    data = tmp_path / "train.csv"
    data.write_text("age,plan\n31,basic\n45,pro\n", encoding="utf-8")
    first = client.create_run(churn, _T0, run_name="first").info.run_id
    client.log_input(first, data, context="training")
    client.log_input(first, pd.DataFrame({"y": [1.0, 0.0]}), context="eval")
    data.write_text("age,plan\n31,basic\n45,pro\n52,pro\n", encoding="utf-8")
    second = client.create_run(churn, _T0 + 1000, run_name="second").info.run_id
    client.log_input(second, data, context="training")
    elsewhere = client.create_run(other, _T0 + 2000, run_name="elsewhere").info.run_id
    client.log_input(elsewhere, data, context="training")
    client.create_run(churn, run_name="no-data")
    return client, {"first": first, "second": second, "elsewhere": elsewhere}


def test_versions_group_runs_by_digest(store_uri: str, tmp_path: Path) -> None:
    client, runs = _log_history(store_uri, tmp_path)
    versions = dataset_versions(client, name="train")
    assert [len(v.uses) for v in versions] == [1, 2]
    assert versions[0].uses[0].run_id == runs["first"]
    assert {u.run_id for u in versions[1].uses} == {runs["second"], runs["elsewhere"]}
    assert versions[1].dataset.digest == dataset_from(tmp_path / "train.csv").digest
    assert versions[0].contexts == ("training",)
    assert [v.dataset.name for v in dataset_versions(client)] == ["dataset", "train", "train"]


def test_list_shows_each_version_with_its_runs(
    kiln_cli: Invoke, store_uri: str, tmp_path: Path
) -> None:
    _, runs = _log_history(store_uri, tmp_path)
    result = kiln_cli("datasets", "list", columns=400)  # CI's tmp paths are long

    assert result.exit_code == 0, result.output
    out = result.stdout
    new_digest = dataset_from(tmp_path / "train.csv").digest
    assert "Datasets used in any experiment" in out
    assert new_digest in out
    assert str(tmp_path / "train.csv") in out
    assert "age:long, plan:string" in out
    assert f"{runs['first']} (training)" in out
    assert f"{runs['second']} (training)" in out
    assert f"{runs['first']} (eval)" in out
    line = next(line for line in out.splitlines() if new_digest in line)
    assert " 3 " in line  # rows of the second version


def test_list_one_experiment(kiln_cli: Invoke, store_uri: str, tmp_path: Path) -> None:
    _, runs = _log_history(store_uri, tmp_path)
    result = kiln_cli("datasets", "list", "--experiment-name", "other")
    assert result.exit_code == 0, result.output
    assert runs["elsewhere"] in result.stdout
    assert runs["first"] not in result.stdout


def test_list_with_no_datasets_says_how_to_log_one(kiln_cli: Invoke) -> None:
    result = kiln_cli("datasets", "list")
    assert result.exit_code == 0
    assert "kiln.log_input" in result.stdout


def test_show_gives_history_and_lineage(kiln_cli: Invoke, store_uri: str, tmp_path: Path) -> None:
    _, runs = _log_history(store_uri, tmp_path)
    result = kiln_cli("datasets", "show", "train")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Versions of dataset train (oldest first)" in out
    assert "2 versions of train" in out
    lineage = out[out.index("Runs that used train") :]
    order = [lineage.index(runs[k]) for k in ("first", "second", "elsewhere")]
    assert order == sorted(order)
    assert "second" in lineage
    assert "FINISHED" not in lineage  # the runs are still RUNNING
    assert "RUNNING" in lineage


def test_show_one_digest(kiln_cli: Invoke, store_uri: str, tmp_path: Path) -> None:
    client, runs = _log_history(store_uri, tmp_path)
    old = dataset_versions(client, name="train")[0].dataset.digest
    result = kiln_cli("datasets", "show", "train", "--digest", old)
    assert result.exit_code == 0, result.output
    assert runs["first"] in result.stdout
    assert runs["second"] not in result.stdout


def test_show_unknown_dataset_is_one_line_error(kiln_cli: Invoke, store_uri: str) -> None:
    result = kiln_cli("datasets", "show", "nope")
    assert result.exit_code == 3
    assert "no run of any experiment used a dataset 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_experiment_is_refused(kiln_cli: Invoke) -> None:
    result = kiln_cli("datasets", "list", "--experiment-name", "missing")
    assert result.exit_code == 3
    assert "no experiment is named 'missing'" in result.stderr


def test_help_has_examples(kiln_cli: Invoke) -> None:
    for args in (("datasets",), ("datasets", "list"), ("datasets", "show")):
        result = kiln_cli(*args, "--help", uri=None)
        assert result.exit_code == 0
        assert "Example" in result.stdout
