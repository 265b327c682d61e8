"""The ``MLproject`` file: entry points, their typed parameters, and the environment spec.

The format is MLflow's (see ``shared/reference/formats.md``)::

    name: tutorial
    python_env: python_env.yaml        # or conda_env: conda.yaml, or docker_env: {image: ...}
    entry_points:
      main:
        parameters:
          alpha: float                       # short form: a type, no default -> required
          l1_ratio: {type: float, default: 0.1}
        command: "python train.py {alpha} {l1_ratio}"

As in MLflow, the file name is matched case-insensitively, a project names at most
one environment, and without one a ``python_env.yaml`` (else ``conda.yaml``) in the
project folder is used. A folder without an MLproject is a project too: each
``.py``/``.sh`` file is an entry point (``python train.py`` / ``bash x.sh``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from kiln.errors import InvalidInput

ParamType = Literal["float", "int", "string", "path", "uri"]
PARAM_TYPES: tuple[ParamType, ...] = get_args(ParamType)
EnvKind = Literal["none", "python_env", "conda", "docker"]

MLPROJECT_FILE = "MLproject"
DEFAULT_PYTHON_ENV_FILE = "python_env.yaml"
DEFAULT_CONDA_FILE = "conda.yaml"
DEFAULT_ENTRY_POINT = "main"
# How a script entry point without an MLproject entry is run, by extension (as MLflow,
# which uses $SHELL for .sh; bash is what the scripts are written for in practice).
SCRIPT_RUNNERS: Mapping[str, str] = {".py": "python", ".sh": "bash"}
_ENV_FIELDS = ("python_env", "conda_env", "docker_env")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One declared parameter; ``default`` None means the parameter is required."""

    name: str
    type: ParamType
    default: str | None


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """A named command template; ``{name}`` placeholders are filled with quoted values."""

    name: str
    command: str
    parameters: tuple[Parameter, ...]


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """The environment a project asks for.

    ``path`` is the absolute path of python_env.yaml / conda.yaml; ``image`` the
    docker_env image. ``kind="none"``: run in the caller's own Python.
    """

    kind: EnvKind
    path: Path | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """A loaded project: its folder, environment and entry points."""

    name: str | None
    root: Path
    env: EnvSpec
    entry_points: Mapping[str, EntryPoint]

    def entry_point(self, name: str) -> EntryPoint:
        """The entry point called ``name``, or a script in the project run by extension.

        Raises:
            InvalidInput: neither a declared entry point nor an existing .py/.sh file.
        """
        found = self.entry_points.get(name)
        if found is not None:
            return found
        script = script_entry_point(self.root, name)
        if script is not None:
            return script
        declared = ", ".join(sorted(self.entry_points)) or "none"
        raise InvalidInput(
            f"no entry point {name!r} in project {str(self.root)!r} (declared: {declared}); "
            "pass -e with a declared entry point or a .py/.sh file in the project"
        )


def script_entry_point(root: Path, name: str) -> EntryPoint | None:
    """``python <name>`` / ``bash <name>`` for an existing .py/.sh file under ``root``."""
    runner = SCRIPT_RUNNERS.get(Path(name).suffix)
    if runner is None or Path(name).is_absolute():
        return None
    script = (root / name).resolve()
    if not script.is_file() or not script.is_relative_to(root.resolve()):
        return None
    return EntryPoint(name=name, command=f"{runner} {shlex.quote(name)}", parameters=())


def find_mlproject(root: Path) -> Path | None:
    """The MLproject file in ``root`` (any letter case, as MLflow), or None."""
    for child in sorted(root.iterdir()):
        if child.name.lower() == MLPROJECT_FILE.lower() and child.is_file():
            return child
    return None


def load_project(root: Path) -> ProjectSpec:
    """Read the project in folder ``root``.

    Raises:
        InvalidInput: ``root`` is not a folder, a named environment file is missing, or
            the MLproject is not valid YAML or breaks the format.
    """
    root = root.resolve()
    if not root.is_dir():
        raise InvalidInput(f"project folder {str(root)!r} does not exist or is not a folder")
    mlproject = find_mlproject(root)
    if mlproject is None:
        return ProjectSpec(
            name=None, root=root, env=_default_env(root), entry_points=_script_entry_points(root)
        )
    where = str(mlproject)
    try:
        document = yaml.safe_load(mlproject.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where} is not valid YAML: {exc}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidInput(f"{where} must be a YAML mapping with name and entry_points")
    name = document.get("name")
    return ProjectSpec(
        name=None if name is None else str(name),
        root=root,
        env=_env_spec(root, document, where),
        entry_points=_entry_points(document.get("entry_points"), where),
    )


def _script_entry_points(root: Path) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for child in sorted(root.iterdir()):
        entry = script_entry_point(root, child.name)
        if entry is not None:
            found[child.name] = entry
    return found


def _default_env(root: Path) -> EnvSpec:
    if (root / DEFAULT_PYTHON_ENV_FILE).is_file():
        return EnvSpec("python_env", path=root / DEFAULT_PYTHON_ENV_FILE)
    if (root / DEFAULT_CONDA_FILE).is_file():
        return EnvSpec("conda", path=root / DEFAULT_CONDA_FILE)
    return EnvSpec("none")


def _env_file(root: Path, value: object, field: str, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: {field} must be the path of a file in the project")
    path = (root / value).resolve()
    if not path.is_file():
        raise InvalidInput(f"{where} names {field} {value!r}, but {str(path)!r} does not exist")
    return path


def _env_spec(root: Path, document: Mapping[str, Any], where: str) -> EnvSpec:
    named = [field for field in _ENV_FIELDS if document.get(field)]
    if len(named) > 1:
        raise InvalidInput(
            f"{where} names more than one environment ({', '.join(named)}); keep only one"
        )
    if not named:
        return _default_env(root)
    field = named[0]
    value = document[field]
    if field == "python_env":
        return EnvSpec("python_env", path=_env_file(root, value, field, where))
    if field == "conda_env":
        return EnvSpec("conda", path=_env_file(root, value, field, where))
    image = value.get("image") if isinstance(value, dict) else None
    if not isinstance(image, str) or not image.strip():
        raise InvalidInput(f"{where}: docker_env needs an image, e.g. docker_env: {{image: name}}")
    return EnvSpec("docker", image=image)


def _entry_points(value: object, where: str) -> dict[str, EntryPoint]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: entry_points must be a mapping of name -> entry point")
    found: dict[str, EntryPoint] = {}
    for raw_name, body in value.items():
        name = str(raw_name)
        if not isinstance(body, dict):
            raise InvalidInput(f"{where}: entry point {name!r} must be a mapping with a command")
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise InvalidInput(f"{where}: entry point {name!r} has no command")
        found[name] = EntryPoint(
            name=name, command=command, parameters=_parameters(body.get("parameters"), name, where)
        )
    return found


def _parameters(value: object, entry: str, where: str) -> tuple[Parameter, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: parameters of entry point {entry!r} must be a mapping")
    return tuple(_parameter(str(name), body, entry, where) for name, body in value.items())


def _parameter(name: str, body: object, entry: str, where: str) -> Parameter:
    default: object = None
    if isinstance(body, str):
        kind: object = body  # short form: "alpha: float"
    elif isinstance(body, dict):
        kind = body.get("type", "string")  # MLflow's default type
        default = body.get("default")
    elif body is None:
        kind = "string"
    else:
        raise InvalidInput(
            f"{where}: parameter {name!r} of entry point {entry!r} must be a type "
            "(alpha: float) or a mapping ({type: float, default: 0.1})"
        )
    if kind not in PARAM_TYPES:
        raise InvalidInput(
            f"{where}: parameter {name!r} of entry point {entry!r} has unknown type {kind!r}; "
            f"use one of {', '.join(PARAM_TYPES)}"
        )
    if isinstance(default, (dict, list)):
        raise InvalidInput(f"{where}: the default of parameter {name!r} must be a single value")
    return Parameter(
        name=name,
        type=kind,
        default=None if default is None else _scalar_text(default),
    )


def _scalar_text(value: object) -> str:
    # YAML turns "true" into a bool; the command should see what the author wrote.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = [
    "DEFAULT_ENTRY_POINT",
    "MLPROJECT_FILE",
    "PARAM_TYPES",
    "EntryPoint",
    "EnvKind",
    "EnvSpec",
    "Parameter",
    "ParamType",
    "ProjectSpec",
    "find_mlproject",
    "load_project",
    "script_entry_point",
]
