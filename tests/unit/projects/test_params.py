"""Parameter typing, defaults, quoting and undeclared parameters."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from kiln.errors import InvalidInput
from kiln.projects.params import resolve_parameters
from kiln.projects.spec import EntryPoint, Parameter


def _entry(command: str, *params: Parameter) -> EntryPoint:
    return EntryPoint(name="main", command=command, parameters=params)


ALPHA = Parameter("alpha", "float", None)
EPOCHS = Parameter("epochs", "int", "3")


def test_defaults_fill_in_and_values_are_quoted(tmp_path: Path) -> None:
    entry = _entry("python train.py {alpha} {epochs}", ALPHA, EPOCHS)
    resolved = resolve_parameters(entry, {"alpha": "1e-3"}, project_root=tmp_path)
    assert resolved.command == "python train.py 1e-3 3"
    assert resolved.values == {"alpha": "1e-3", "epochs": "3"}
    assert resolved.recorded == {"alpha": "1e-3", "epochs": "3"}
    assert resolved.extra == {}


def test_required_parameters_are_named(tmp_path: Path) -> None:
    entry = _entry("x {alpha} {beta}", ALPHA, Parameter("beta", "string", None))
    with pytest.raises(InvalidInput, match=r"required parameter\(s\) 'alpha', 'beta'.*-P alpha="):
        resolve_parameters(entry, {}, project_root=tmp_path)


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        (ALPHA, "abc", r"parameter 'alpha' of entry point 'main' has type float, but got 'abc'"),
        (EPOCHS, "2.5", r"parameter 'epochs' .* has type int, but got '2.5'"),
        (Parameter("where", "uri", None), "just/a/path", r"has type uri.*scheme"),
        (Parameter("data", "path", None), "missing.csv", r"has type path.*no such file"),
        (Parameter("data", "path", None), "s3://bucket/x.csv", r"does not download remote"),
    ],
)
def test_values_must_fit_their_type(
    tmp_path: Path, param: Parameter, value: str, match: str
) -> None:
    entry = _entry("x {" + param.name + "}", param)
    with pytest.raises(InvalidInput, match=match):
        resolve_parameters(entry, {param.name: value}, project_root=tmp_path)


def test_path_parameters_become_absolute(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.csv").write_text("x\n")
    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "mine.csv").write_text("y\n")
    data = Parameter("data", "path", "data/train.csv")
    other = Parameter("other", "path", None)
    entry = _entry("x {data} {other}", data, other)

    resolved = resolve_parameters(entry, {"other": "mine.csv"}, project_root=project, cwd=caller)
    assert resolved.values == {
        "data": str(project / "data" / "train.csv"),
        "other": str(caller / "mine.csv"),
    }
    # Inside the project a path is recorded relative to it, so a fresh checkout finds it.
    assert resolved.recorded == {"data": "data/train.csv", "other": str(caller / "mine.csv")}

    # A relative -P value not under the caller's folder is looked up in the project.
    again = resolve_parameters(
        entry,
        {"other": "data/train.csv", "data": (caller / "mine.csv").as_uri()},
        project_root=project,
        cwd=caller,
    )
    assert again.values == {
        "data": str(caller / "mine.csv"),
        "other": str(project / "data" / "train.csv"),
    }


def test_undeclared_parameters_are_appended_quoted(tmp_path: Path) -> None:
    entry = _entry("python train.py {alpha}", ALPHA)
    resolved = resolve_parameters(
        entry, {"alpha": "0.5", "batch-size": "32", "note": "two words"}, project_root=tmp_path
    )
    assert resolved.command == "python train.py 0.5 --batch-size 32 --note 'two words'"
    assert resolved.extra == {"batch-size": "32", "note": "two words"}
    assert resolved.recorded == {"alpha": "0.5", "batch-size": "32", "note": "two words"}


INJECTIONS = [
    "x; touch {marker}",
    "$(touch {marker})",
    "`touch {marker}`",
    "x' ; touch {marker}; echo '",
    'x" && touch {marker} && echo "',
    "x\ntouch {marker}",
    "{{alpha}} | touch {marker}",
]


@pytest.mark.parametrize("template", INJECTIONS)
def test_no_value_can_inject_a_command(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    value = template.format(marker=marker)
    name = Parameter("name", "string", None)
    entry = _entry("printf '%s\\n' {name}", name)
    resolved = resolve_parameters(
        entry, {"name": value, f"k; touch {marker}": value}, project_root=tmp_path
    )
    done = subprocess.run(
        ["bash", "-c", resolved.command], capture_output=True, text=True, check=True
    )
    assert not marker.exists()
    assert done.stdout.split("\n")[: 1 + value.count("\n")] == value.split("\n")
    assert f"--k; touch {marker}" in done.stdout
    assert shlex.split(resolved.command)[2] == value


def test_other_braces_in_the_command_are_left_alone(tmp_path: Path) -> None:
    entry = _entry("awk '{print $1}' ${HOME} {alpha}", ALPHA)
    resolved = resolve_parameters(entry, {"alpha": "1"}, project_root=tmp_path)
    assert resolved.command == "awk '{print $1}' ${HOME} 1"


def test_placeholder_for_an_undeclared_parameter_is_refused(tmp_path: Path) -> None:
    entry = _entry("python train.py {alpha} {gamma}", ALPHA)
    with pytest.raises(InvalidInput, match=r"uses \{gamma\}, which is not a declared parameter"):
        resolve_parameters(entry, {"alpha": "1"}, project_root=tmp_path)


def test_cli_parameter_pairs() -> None:
    from kiln.cli.project import parse_parameters

    assert parse_parameters(["alpha=0.5", "expr=a=b", "empty="]) == {
        "alpha": "0.5",
        "expr": "a=b",
        "empty": "",
    }
    with pytest.raises(InvalidInput, match=r"-P 'alpha' is not key=value"):
        parse_parameters(["alpha"])
    with pytest.raises(InvalidInput, match="given twice"):
        parse_parameters(["a=1", "a=2"])
