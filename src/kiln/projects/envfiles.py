"""Reading ``python_env.yaml`` and ``conda.yaml`` into what pip or uv must install.

``python_env.yaml`` (MLflow's format)::

    python: "3.11"                 # the interpreter version
    build_dependencies: [pip, setuptools, wheel]
    dependencies: ["-r requirements.txt", "six==1.16.0"]

``conda.yaml``: ``dependencies`` holds conda package specs and a ``{pip: [...]}``
list. There is no conda on these machines, so only the pip list is installed, and
the rule is strict: besides ``python`` (which picks the interpreter) and ``pip``,
every conda package is *conda-only*, even one whose name also exists on PyPI. A
conda package and the PyPI package of the same name are often different builds
(``pytorch`` vs ``torch``, ``mkl``-linked numpy), so installing the PyPI one
silently would make an environment the author did not ask for; the user moves
such a line into the ``pip:`` list when the PyPI package is what they mean.

Both files are read with YAML's base loader, so ``python: 3.10`` stays the text
``"3.10"`` (the default loader would make it the float 3.1).

Requirement lines are kept as written. ``-r``/``-c`` references are resolved
against the folder of the file that names them (``requirements_text`` writes them
as absolute paths); their content is part of the environment's hash
(``referenced_files``). A local-path requirement (``./pkg``) is installed from the
folder of the environment file, and is identified by its path only, not content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from kiln.errors import EnvironmentUnavailable, InvalidInput, NotFound

_REFERENCE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S.*)$")
_PYTHON_DEP = re.compile(r"^(?:[\w.-]+::)?python(?![\w.-])\s*(.*)$")
_PIP_DEP = re.compile(r"^(?:[\w.-]+::)?pip(?![\w.-])")
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_BUILD_STRING = re.compile(
    r"^(=?=?\d[\d.]*(?:\.\*)?)=[^=,<>!]+$"
)  # conda's python=3.11.4=h955ad1f_0
_COMPARISON = re.compile(r"^(>=|<=|==|!=|>|<|=)?\s*(\d+(?:\.\d+){0,2})(\.\*)?$")


@dataclass(frozen=True, slots=True)
class PythonRequest:
    """The interpreter an environment file asks for.

    ``text`` is the request as written (``"3.11"``, ``"=3.11.4"``, ``">=3.9,<3.12"``);
    ``clauses`` its parsed comparisons, ``(operator, (major, minor[, patch]))``.
    A bare version or conda's ``=``/``==`` pins the major.minor: the patch level
    is a preference, not a requirement (a cached environment must not need a
    Python download for ``3.11.2`` when ``3.11.7`` is installed).
    """

    text: str
    clauses: tuple[tuple[str, tuple[int, ...]], ...]

    def minor(self) -> tuple[int, int] | None:
        """The major.minor a pin asks for, or None for a range or no request."""
        for op, version in self.clauses:
            if op == "==" and len(version) >= 2:
                return version[0], version[1]
        return None

    def patch_differs(self, version: str) -> bool:
        """Whether a pin names a patch level (3.11.4) other than ``version``'s."""
        have = version_tuple(version)
        return any(op == "==" and len(v) == 3 and v != have for op, v in self.clauses)

    def allows(self, version: tuple[int, int, int]) -> bool:
        """Whether an interpreter of ``version`` satisfies the request."""
        return all(_compare(op, version, wanted) for op, wanted in self.clauses)


@dataclass(frozen=True, slots=True)
class EnvRequirements:
    """What an environment file asks to install, independent of the tool that does it.

    ``folder`` is the folder of the environment file: relative requirement paths
    are resolved against it, and pip/uv run there.
    """

    source: Path
    folder: Path
    python: PythonRequest | None
    build_dependencies: tuple[str, ...]
    dependencies: tuple[str, ...]


def parse_python_request(text: str) -> PythonRequest:
    """Parse ``"3.11"``, ``"3.11.4"``, ``"=3.11"``, ``"3.11.*"``, ``">=3.9,<3.12"``.

    Raises:
        InvalidInput: not a version or a comma-separated list of comparisons.
    """
    clauses: list[tuple[str, tuple[int, ...]]] = []
    compact = _BUILD_STRING.sub(r"\1", text.replace(" ", ""))
    for part in compact.split(","):
        match = _COMPARISON.match(part)
        if match is None:
            raise InvalidInput(
                f"cannot read the Python version {text!r}; write it as 3.11, 3.11.4 or >=3.9,<3.12"
            )
        op, number, _star = match.groups()
        version = tuple(int(piece) for piece in number.split("."))
        clauses.append(("==" if op in (None, "=", "==") else op, version))
    return PythonRequest(text=text, clauses=tuple(clauses))


def _compare(op: str, version: tuple[int, int, int], wanted: tuple[int, ...]) -> bool:
    if op == "==":
        # a pin fixes major.minor; the patch is a preference (see PythonRequest)
        return version[: min(len(wanted), 2)] == wanted[:2]
    have = version[: len(wanted)]
    if op == ">=":
        return have >= wanted
    if op == ">":
        return have > wanted
    if op == "<=":
        return have <= wanted
    if op == "<":
        return have < wanted
    return have != wanted  # "!="


def _load(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"environment file {str(path)!r} does not exist") from None
    try:
        document = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader: only str/list/dict
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} must be a YAML mapping")
    return document


def _string_list(value: object, field: str, path: Path) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{path}: {field} must be a list of requirement strings")
    return tuple(item.strip() for item in value if item.strip())


def read_python_env(path: Path) -> EnvRequirements:
    """Read a ``python_env.yaml``.

    Raises:
        NotFound: the file does not exist.
        InvalidInput: it is not a mapping of python/build_dependencies/dependencies.
    """
    document = _load(path)
    python = document.get("python")
    if python is not None and not isinstance(python, str):
        raise InvalidInput(f"{path}: python must be a version such as 3.11")
    return EnvRequirements(
        source=path,
        folder=path.parent,
        python=parse_python_request(python) if python else None,
        build_dependencies=_string_list(
            document.get("build_dependencies"), "build_dependencies", path
        ),
        dependencies=_string_list(document.get("dependencies"), "dependencies", path),
    )


def read_conda_env(path: Path) -> EnvRequirements:
    """Read the pip part of a ``conda.yaml``, refusing conda-only packages.

    Raises:
        NotFound: the file does not exist.
        InvalidInput: the dependencies are not a list of strings and ``{pip: [...]}``.
        EnvironmentUnavailable: it names conda packages other than python and pip.
    """
    document = _load(path)
    entries = document.get("dependencies") or []
    if not isinstance(entries, list):
        raise InvalidInput(f"{path}: dependencies must be a list")
    python: PythonRequest | None = None
    pip: tuple[str, ...] = ()
    conda_only: list[str] = []
    for entry in entries:
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"pip"})
            if unknown:
                raise InvalidInput(
                    f"{path}: a mapping in dependencies may only hold a pip list, got {unknown}"
                )
            pip += _string_list(entry.get("pip"), "the pip list", path)
            continue
        if not isinstance(entry, str):
            raise InvalidInput(f"{path}: dependencies must be strings and a {{pip: [...]}} list")
        spec = entry.strip()
        python_match = _PYTHON_DEP.match(spec)
        if python_match is not None:
            version = python_match.group(1).strip()
            python = parse_python_request(version) if version else None
        elif _PIP_DEP.match(spec) is None:
            conda_only.append(spec)
    if conda_only:
        raise EnvironmentUnavailable(
            f"{path} needs conda packages that only conda installs: {', '.join(conda_only)}. "
            "There is no conda on this machine; Kiln installs only python and the pip: list "
            "of a conda.yaml. Move packages that PyPI has into the pip: list, or write a "
            "python_env.yaml and run with --env-manager uv (or --env-manager local to use "
            "the current Python)"
        )
    return EnvRequirements(
        source=path, folder=path.parent, python=python, build_dependencies=(), dependencies=pip
    )


def _reference(line: str, folder: Path) -> tuple[str, Path] | None:
    match = _REFERENCE.match(line.strip())
    if match is None:
        return None
    flag = "-r" if match.group(1) in ("-r", "--requirement") else "-c"
    return flag, (folder / match.group(2).strip()).resolve()


def requirements_text(lines: Sequence[str], folder: Path) -> str:
    """A requirements file of ``lines`` whose ``-r``/``-c`` paths are absolute.

    Other lines are kept as written; the caller runs pip/uv in ``folder`` so
    relative local paths still resolve.
    """
    out: list[str] = []
    for line in lines:
        found = _reference(line, folder)
        out.append(line if found is None else f"{found[0]} {found[1]}")
    return "".join(f"{line}\n" for line in out)


def referenced_files(lines: Sequence[str], folder: Path) -> list[Path]:
    """Every requirements/constraints file ``lines`` reference, nested ones included.

    Nested references resolve against the folder of the file that names them,
    as pip does. Each file is listed once, in the order found.

    Raises:
        NotFound: a referenced file does not exist.
    """
    found: list[Path] = []
    _walk(lines, folder, str(folder), found)
    return found


def _walk(lines: Sequence[str], folder: Path, where: str, found: list[Path]) -> None:
    for line in lines:
        reference = _reference(line, folder)
        if reference is None:
            continue
        path = reference[1]
        if not path.is_file():
            raise NotFound(f"{where} refers to {line.strip()!r}, but {str(path)!r} does not exist")
        if path in found:
            continue  # named twice, or a file that (indirectly) names itself
        found.append(path)
        nested = path.read_text(encoding="utf-8").splitlines()
        _walk(nested, path.parent, str(path), found)


def version_tuple(text: str) -> tuple[int, int, int]:
    """``"3.11.7"`` -> ``(3, 11, 7)`` (a missing patch is 0)."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise InvalidInput(f"not a Python version: {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


__all__ = [
    "EnvRequirements",
    "PythonRequest",
    "parse_python_request",
    "read_conda_env",
    "read_python_env",
    "referenced_files",
    "requirements_text",
    "version_tuple",
]
