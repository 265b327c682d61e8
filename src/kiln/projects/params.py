"""Entry-point parameters: typing, defaults, and the shell command they are quoted into.

Every value that reaches the shell goes through ``shlex.quote``, declared or not, so
``-P name='x; rm -rf /'`` arrives in the script as that literal string and never
runs as a command. Placeholders are ``{name}`` for declared parameters only; other
braces in the command (``awk '{print $1}'``, ``${HOME}``) are left alone.

Types (as MLflow's, which checks only ``path`` and ``uri``; Kiln also checks the numbers):

- ``float``/``int``: must parse; the text is passed on as written (``1e-3`` stays ``1e-3``).
- ``string``: anything.
- ``uri``: must have a scheme (``s3://...``, ``file:///...``), as MLflow requires.
- ``path``: a local path or ``file://`` URI that must exist; the command gets its absolute
  path. A relative value given with ``-P`` is found from the caller's working
  directory (as MLflow), else from the project folder; a relative default is found
  from the project folder (MLflow looks in the caller's working directory, which only
  works when ``mlflow run`` is started inside the project).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from kiln.errors import InvalidInput
from kiln.projects.spec import EntryPoint, Parameter

_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


@dataclass(frozen=True, slots=True)
class ResolvedParameters:
    """The outcome of filling in an entry point.

    Attributes:
        command: the shell command to run, every value quoted.
        values: declared parameters as the command got them (paths absolute), in
            declaration order.
        extra: parameters the entry point does not declare, appended as ``--key value``.
        recorded: every parameter as it should be recorded and replayed: like
            ``values`` plus ``extra``, except that a path inside the project folder is
            relative to it (so it still names the same file in a fresh checkout).
    """

    command: str
    values: Mapping[str, str]
    extra: Mapping[str, str]
    recorded: Mapping[str, str]


def resolve_parameters(
    entry: EntryPoint,
    given: Mapping[str, str],
    *,
    project_root: Path,
    cwd: Path | None = None,
) -> ResolvedParameters:
    """Type-check ``given`` against ``entry``, fill in defaults and build the command.

    Args:
        entry: the entry point to run.
        given: ``-P key=value`` pairs.
        project_root: the project folder (relative path defaults are found there).
        cwd: where relative ``-P`` paths are looked up first (the current directory).

    Raises:
        InvalidInput: a required parameter is missing, a value does not fit its
            type, or the command names a placeholder that is not a declared parameter.
    """
    root = project_root.resolve()
    base = (Path.cwd() if cwd is None else cwd).resolve()
    declared = {p.name: p for p in entry.parameters}
    missing = [p.name for p in entry.parameters if p.name not in given and p.default is None]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        flags = " ".join(f"-P {name}=VALUE" for name in missing)
        raise InvalidInput(
            f"entry point {entry.name!r} needs a value for the required parameter(s) {names}: "
            f"pass {flags}"
        )
    values: dict[str, str] = {}
    recorded: dict[str, str] = {}
    for param in entry.parameters:
        from_user = param.name in given
        raw = given[param.name] if from_user else param.default
        assert raw is not None  # missing required parameters were rejected above
        value = _typed_value(param, raw, entry.name, root=root, cwd=base if from_user else None)
        values[param.name] = value
        recorded[param.name] = _recorded(param, value, root)
    extra = {key: value for key, value in given.items() if key not in declared}
    recorded.update(extra)
    command = _fill(entry, values)
    if extra:
        flags = " ".join(f"--{shlex.quote(k)} {shlex.quote(v)}" for k, v in extra.items())
        command = f"{command} {flags}"
    return ResolvedParameters(command=command, values=values, extra=extra, recorded=recorded)


def _fill(entry: EntryPoint, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            declared = ", ".join(sorted(values)) or "none"
            raise InvalidInput(
                f"the command of entry point {entry.name!r} uses {{{name}}}, which is not a "
                f"declared parameter (declared: {declared}); declare it under parameters"
            )
        return shlex.quote(values[name])

    return _PLACEHOLDER.sub(substitute, entry.command)


def _type_error(param: Parameter, raw: str, entry: str, what: str) -> InvalidInput:
    return InvalidInput(
        f"parameter {param.name!r} of entry point {entry!r} has type {param.type}, "
        f"but got {raw!r}: {what}"
    )


def _typed_value(param: Parameter, raw: str, entry: str, *, root: Path, cwd: Path | None) -> str:
    if param.type == "float":
        try:
            float(raw)
        except ValueError:
            raise _type_error(param, raw, entry, "pass a number such as 0.5") from None
        return raw
    if param.type == "int":
        try:
            int(raw)
        except ValueError:
            raise _type_error(param, raw, entry, "pass a whole number such as 10") from None
        return raw
    if param.type == "uri":
        if not urlparse(raw).scheme:
            raise _type_error(param, raw, entry, "pass a URI with a scheme, e.g. s3://bucket/x")
        return raw
    if param.type == "path":
        return str(_local_path(param, raw, entry, root=root, cwd=cwd))
    return raw


def _local_path(param: Parameter, raw: str, entry: str, *, root: Path, cwd: Path | None) -> Path:
    parsed = urlparse(raw)
    if parsed.scheme == "file" and not parsed.netloc:
        text = unquote(parsed.path)
    elif not parsed.scheme or len(parsed.scheme) == 1:  # a Windows drive letter is no scheme
        text = raw
    else:
        raise _type_error(
            param,
            raw,
            entry,
            "Kiln does not download remote paths; pass a local path, or declare the "
            "parameter as type uri and read it in the script",
        )
    path = Path(text).expanduser()
    bases = [] if path.is_absolute() else ([cwd] if cwd is not None else []) + [root]
    candidates = [path] if path.is_absolute() else [base / path for base in bases]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    looked = " or ".join(repr(str(c)) for c in candidates)
    raise _type_error(param, raw, entry, f"no such file or folder ({looked})")


def _recorded(param: Parameter, value: str, root: Path) -> str:
    if param.type != "path":
        return value
    path = Path(value)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else value


__all__ = ["ResolvedParameters", "resolve_parameters"]
