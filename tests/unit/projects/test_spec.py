"""MLproject parsing: entry points, parameter forms, environments, script entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.errors import InvalidInput
from kiln.projects.spec import EnvSpec, Parameter, load_project
from kiln.testing.projects import write_files


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "project"
    write_files(root, files)
    return root


def test_short_and_long_parameter_forms(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "MLproject": """\
name: tutorial
entry_points:
  main:
    parameters:
      alpha: float
      l1_ratio: {type: float, default: 0.1}
      flag: {default: true}
      epochs: {type: int, default: 10}
    command: "python train.py {alpha} {l1_ratio}"
"""
        },
    )
    spec = load_project(root)
    assert spec.name == "tutorial"
    assert spec.root == root.resolve()
    assert spec.env == EnvSpec("none")
    main = spec.entry_point("main")
    assert main.command == "python train.py {alpha} {l1_ratio}"
    assert main.parameters == (
        Parameter("alpha", "float", None),
        Parameter("l1_ratio", "float", "0.1"),
        Parameter("flag", "string", "true"),
        Parameter("epochs", "int", "10"),
    )


def test_file_name_is_matched_in_any_case(tmp_path: Path) -> None:
    root = _project(tmp_path, {"mlproject": "entry_points: {main: {command: 'echo hi'}}"})
    assert load_project(root).entry_point("main").command == "echo hi"


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ("entry_points: [1, 2]", "entry_points must be a mapping"),
        ("entry_points: {main: {parameters: {}}}", "entry point 'main' has no command"),
        (
            "entry_points: {main: {command: x, parameters: {a: decimal}}}",
            "parameter 'a' of entry point 'main' has unknown type 'decimal'",
        ),
        ("entry_points: {main: {command: x, parameters: {a: [1]}}}", "must be a type"),
        ("name: [unclosed", "is not valid YAML"),
        ("- a list", "must be a YAML mapping"),
        ("python_env: p.yaml\nconda_env: c.yaml", "more than one environment"),
        ("docker_env: {volumes: []}", "docker_env needs an image"),
    ],
)
def test_malformed_mlproject_is_refused(tmp_path: Path, document: str, match: str) -> None:
    root = _project(tmp_path, {"MLproject": document, "p.yaml": "", "c.yaml": ""})
    with pytest.raises(InvalidInput, match=match):
        load_project(root)


def test_environment_kinds(tmp_path: Path) -> None:
    python_env = _project(
        tmp_path / "a", {"MLproject": "python_env: env/python_env.yaml", "env/python_env.yaml": ""}
    )
    conda = _project(tmp_path / "b", {"MLproject": "conda_env: conda.yaml", "conda.yaml": ""})
    docker = _project(tmp_path / "c", {"MLproject": "docker_env: {image: 'repo/img:1'}"})
    assert load_project(python_env).env == EnvSpec(
        "python_env", path=(python_env / "env/python_env.yaml").resolve()
    )
    assert load_project(conda).env == EnvSpec("conda", path=(conda / "conda.yaml").resolve())
    assert load_project(docker).env == EnvSpec("docker", image="repo/img:1")


def test_default_environment_files_are_picked_up_as_mlflow_does(tmp_path: Path) -> None:
    root = _project(tmp_path, {"MLproject": "name: x", "python_env.yaml": "", "conda.yaml": ""})
    assert load_project(root).env == EnvSpec("python_env", path=root.resolve() / "python_env.yaml")


def test_missing_environment_file_is_named(tmp_path: Path) -> None:
    root = _project(tmp_path, {"MLproject": "python_env: nowhere.yaml"})
    with pytest.raises(InvalidInput, match=r"python_env 'nowhere.yaml'"):
        load_project(root)


def test_folder_without_mlproject_offers_its_scripts(tmp_path: Path) -> None:
    root = _project(tmp_path, {"train.py": "", "prep.sh": "", "notes.txt": "", "src/more.py": ""})
    spec = load_project(root)
    assert spec.name is None
    assert sorted(spec.entry_points) == ["prep.sh", "train.py"]
    assert spec.entry_point("train.py").command == "python train.py"
    assert spec.entry_point("prep.sh").command == "bash prep.sh"
    assert spec.entry_point("src/more.py").command == "python src/more.py"


def test_script_entry_point_next_to_an_mlproject(tmp_path: Path) -> None:
    root = _project(
        tmp_path, {"MLproject": "entry_points: {main: {command: x}}", "my script.py": ""}
    )
    assert load_project(root).entry_point("my script.py").command == "python 'my script.py'"


@pytest.mark.parametrize("name", ["missing", "missing.py", "notes.txt", "../outside.py"])
def test_unknown_entry_point_lists_the_declared_ones(tmp_path: Path, name: str) -> None:
    (tmp_path / "outside.py").write_text("")
    root = _project(
        tmp_path,
        {"MLproject": "entry_points: {main: {command: x}, eval: {command: y}}", "notes.txt": ""},
    )
    with pytest.raises(InvalidInput, match=r"no entry point .* \(declared: eval, main\)"):
        load_project(root).entry_point(name)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_project(tmp_path / "nope")
