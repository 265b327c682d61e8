"""The examples' metadata: the shipped examples load, malformed files are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiln.cli.main import cli
from kiln.config import Settings
from kiln.errors import InvalidInput, NotFound
from kiln.examples.catalog import (
    CHECKOUT_DIR,
    EXAMPLES_DIR_ENV,
    discover,
    examples_root,
    load_example,
    select,
)

GOOD = """\
title: A tiny example
flavor: sklearn
metric: {name: rmse, lower_is_better: true}
requires: [sklearn]
requests:
  - name: split
    content_type: application/json
    body: requests/one.json
    predictions: 1
"""


def _write_example(root: Path, name: str = "tiny", metadata: str = GOOD) -> Path:
    folder = root / name
    (folder / "requests").mkdir(parents=True)
    (folder / "MLproject").write_text("name: tiny\nentry_points:\n  main:\n    command: 'true'\n")
    (folder / "requests" / "one.json").write_text(json.dumps({"inputs": [[1.0]]}))
    (folder / "kiln-example.yaml").write_text(metadata)
    return folder


def test_the_shipped_examples_load() -> None:
    examples = {e.name: e for e in discover(CHECKOUT_DIR)}
    assert {"wine", "adult", "taxi"} <= set(examples)
    wine = examples["wine"]
    assert wine.flavor == "sklearn"
    assert wine.metric.name == "rmse"
    assert wine.metric.lower_is_better
    assert not wine.heavy
    assert wine.requests[0].content_type == "application/json; format=pandas-split"
    assert json.loads(wine.requests[0].read_body())["data"] == [
        [12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66]
    ]
    assert examples["adult"].metric.lower_is_better is False
    assert examples["adult"].extra == "xgboost"
    taxi_formats = {r.content_type for r in examples["taxi"].requests}
    assert taxi_formats == {
        "application/json",
        "application/json; format=pandas-split",
        "text/csv",
    }


def test_a_minimal_example_gets_the_defaults(tmp_path: Path) -> None:
    example = load_example(_write_example(tmp_path))
    assert example.name == "tiny"
    assert example.heavy is False
    assert example.extra is None
    assert dict(example.parameters) == {}
    assert example.missing_modules() == ()


def test_missing_modules_are_named_with_the_extra(tmp_path: Path) -> None:
    metadata = GOOD.replace("requires: [sklearn]", "requires: [no_such_module_kiln]\nextra: zz")
    example = load_example(_write_example(tmp_path, metadata=metadata))
    assert example.missing_modules() == ("no_such_module_kiln",)
    assert "needs the zz extra" in example.requirement_hint()


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("title: A tiny example\n", "", r"'title' must be a non-empty string"),
        ("flavor: sklearn", "flavor: 3", r"'flavor' must be a non-empty string, got 3"),
        ("metric: {name: rmse, lower_is_better: true}", "metric: rmse", r"'metric' must be a map"),
        ("lower_is_better: true", "lower_is_better: maybe", r"'lower_is_better' must be true or"),
        ("requires: [sklearn]", "requires: sklearn", r"'requires' must be a list of strings"),
        ("predictions: 1", "predictions: 0", r"'predictions' must be a positive integer"),
        ("body: requests/one.json", "body: requests/two.json", r"two\.json does not exist"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(
    tmp_path: Path, replace: str, by: str, message: str
) -> None:
    assert replace in GOOD
    folder = _write_example(tmp_path, metadata=GOOD.replace(replace, by))
    with pytest.raises(InvalidInput, match=message):
        load_example(folder)


def test_no_requests_and_bad_yaml_are_refused(tmp_path: Path) -> None:
    no_requests = GOOD.split("requests:")[0] + "requests: []\n"
    with pytest.raises(InvalidInput, match="'requests' must be a non-empty list"):
        load_example(_write_example(tmp_path, "a", no_requests))
    with pytest.raises(InvalidInput, match="is not valid YAML"):
        load_example(_write_example(tmp_path, "b", "title: [unclosed\n"))
    with pytest.raises(InvalidInput, match="must hold a mapping"):
        load_example(_write_example(tmp_path, "c", "- a list\n"))


def test_a_folder_without_metadata_or_mlproject_is_not_an_example(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"has no kiln-example\.yaml"):
        load_example(tmp_path)
    folder = _write_example(tmp_path)
    (folder / "MLproject").unlink()
    with pytest.raises(NotFound, match="has no MLproject file"):
        load_example(folder)


def test_examples_root_is_the_explicit_folder_else_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXAMPLES_DIR_ENV, str(tmp_path))  # read at the edge, not here
    assert (examples_root() / "taxi" / "kiln-example.yaml").is_file()
    assert examples_root(tmp_path) == tmp_path
    assert examples_root(CHECKOUT_DIR) == CHECKOUT_DIR
    with pytest.raises(NotFound, match="does not exist"):
        examples_root(tmp_path / "missing")


def test_kiln_examples_dir_is_a_setting_the_cli_reads(tmp_path: Path) -> None:
    assert Settings.from_env({EXAMPLES_DIR_ENV: str(tmp_path)}).examples_dir == tmp_path
    assert Settings.from_env({}).examples_dir is None
    _write_example(tmp_path, "tiny")
    runner = CliRunner(env={EXAMPLES_DIR_ENV: str(tmp_path)})
    listed = runner.invoke(cli, ["examples", "list", "--output", "json"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert [e["name"] for e in json.loads(listed.stdout)] == ["tiny"]
    chosen = runner.invoke(
        cli,
        ["examples", "--examples-dir", str(CHECKOUT_DIR), "list", "--output", "json"],
        catch_exceptions=False,
    )
    assert "taxi" in [e["name"] for e in json.loads(chosen.stdout)]  # the option wins


def test_select_keeps_the_asked_order_and_names_unknown_examples(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        _write_example(tmp_path, name)
    found = discover(tmp_path)
    assert [e.name for e in found] == ["a", "b", "c"]
    assert [e.name for e in select(found, None)] == ["a", "b", "c"]
    assert [e.name for e in select(found, ["c", "a", "c"])] == ["c", "a"]
    with pytest.raises(NotFound, match="no example named zz; the examples are: a, b, c"):
        select(found, ["zz"])
