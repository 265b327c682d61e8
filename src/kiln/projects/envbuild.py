"""Building a virtual environment with uv, or with ``python -m venv`` and pip.

uv is used where it is found: on the search PATH, or beside the running
interpreter (a virtualenv that installed uv has ``.venv/bin/uv``). Without it,
the standard library's venv and pip do the same job, about ten times slower.

Bytecode is compiled at install time (``--compile-bytecode``; pip does it by
default): with ``PYTHONDONTWRITEBYTECODE`` set, as on these machines, an
environment without ``.pyc`` files would recompile every import on every run.

uv ignores pip's configuration, so pip's ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``
and ``PIP_FIND_LINKS`` are passed on as uv's own variables when those are unset;
Python downloads are off (``UV_PYTHON_DOWNLOADS=never``): an environment uses an
interpreter that is already installed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kiln._version import __version__
from kiln.errors import EnvironmentBuildFailed, EnvironmentUnavailable
from kiln.projects.envfiles import PythonRequest, version_tuple
from kiln.projects.envtypes import BuildTool

KILN_DISTRIBUTION = "kiln-mlops"
# What ``import kiln`` needs to track into any store (sqlite, mlruns, a server).
# Kiln's model flavors and datasets need their frameworks (pandas, scikit-learn...);
# a project that uses them lists them, as it would for MLflow.
KILN_CLIENT_DEPENDENCIES = ("sqlalchemy", "alembic", "pyyaml", "httpx")
_OUTPUT_TAIL = 3000
_PIP_TO_UV = {
    "PIP_INDEX_URL": "UV_INDEX_URL",
    "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS": "UV_FIND_LINKS",
}
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True, slots=True)
class Interpreter:
    """A Python interpreter on this machine and its full version (``"3.11.7"``)."""

    path: Path
    version: str


@dataclass(frozen=True, slots=True)
class Toolchain:
    """Where uv is (None: use venv + pip) and the PATH searched for other Pythons."""

    uv: Path | None
    search_path: str

    @classmethod
    def discover(cls, search_path: str | None = None) -> Toolchain:
        """Find uv on ``search_path`` (default: ``$PATH`` and the running interpreter's folder)."""
        if search_path is None:
            search_path = os.environ.get("PATH", os.defpath)
            search_path = os.pathsep.join([search_path, str(Path(sys.executable).parent)])
        found = shutil.which("uv", path=search_path)
        return cls(uv=None if found is None else Path(found), search_path=search_path)

    @property
    def tool(self) -> BuildTool:
        return "uv" if self.uv is not None else "pip"


@dataclass(frozen=True, slots=True)
class KilnInstall:
    """How to put the running Kiln into an environment.

    ``source`` is the ``src`` folder of a source checkout: the environment gets
    an editable link to it (``link_kiln``), so it follows the checkout's code.
    Otherwise ``requirement`` (``kiln-mlops==X.Y.Z``) is installed with
    ``--no-deps``. ``requirements`` are the client dependencies
    (``KILN_CLIENT_DEPENDENCIES`` with Kiln's declared specifiers), installed
    together with the project's so one resolver sees both.
    """

    source: Path | None
    requirement: str
    requirements: tuple[str, ...]
    version: str


@cache
def kiln_install() -> KilnInstall:
    """The running Kiln as something uv/pip can install (cached: it does not change)."""
    # .../src/kiln/projects/envbuild.py -> the checkout root, when this is one
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    declared: list[str] = []
    source: Path | None = None
    if (root / "src" / "kiln").is_dir() and pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == KILN_DISTRIBUTION:
            declared = list(project.get("dependencies", []))
            source = root / "src"
    if not declared:
        from importlib import metadata  # only off a checkout: it costs ~30 ms to import

        try:
            declared = [r for r in metadata.requires(KILN_DISTRIBUTION) or [] if ";" not in r]
        except metadata.PackageNotFoundError:
            declared = []
    by_name = {_canonical(_requirement_name(line)): line for line in declared}
    return KilnInstall(
        source=source,
        requirement=f"{KILN_DISTRIBUTION}=={__version__}",
        requirements=tuple(by_name.get(name, name) for name in KILN_CLIENT_DEPENDENCIES),
        version=__version__,
    )


def link_kiln(folder: Path, interpreter: Interpreter, kiln: KilnInstall, tools: Toolchain) -> None:
    """Put the running Kiln into the environment at ``folder``.

    A checkout is linked the way an editable install links it, written directly:
    a ``.pth`` file naming the checkout's ``src`` and a ``dist-info`` folder, so
    ``import kiln`` works and ``importlib.metadata`` lists ``kiln-mlops``.
    Letting uv or pip do it means building an editable wheel with hatchling in
    an isolated environment on every cold build (about 2.5 s of CPU) for the
    same two files. Without a checkout, ``kiln-mlops==X.Y.Z`` is installed.
    """
    if kiln.source is None:
        install(folder / "bin" / "python", [kiln.requirement], tools, no_deps=True)
        return
    major, minor = interpreter.version.split(".")[:2]
    site = folder / "lib" / f"python{major}.{minor}" / "site-packages"
    if not site.is_dir():
        raise EnvironmentBuildFailed(f"the new environment has no {site}")
    pth = site / "_kiln_mlops_editable.pth"
    pth.write_text(f"{kiln.source}\n", encoding="utf-8")
    info = site / f"kiln_mlops-{kiln.version}.dist-info"
    info.mkdir()
    files = {
        "METADATA": f"Metadata-Version: 2.1\nName: {KILN_DISTRIBUTION}\nVersion: {kiln.version}\n",
        "INSTALLER": "kiln\n",
        "direct_url.json": json.dumps(
            {"url": kiln.source.parent.as_uri(), "dir_info": {"editable": True}}
        ),
    }
    for name, text in files.items():
        (info / name).write_text(text, encoding="utf-8")
    record = [pth.name, *(f"{info.name}/{name}" for name in files), f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in record), encoding="utf-8")


def _requirement_name(line: str) -> str:
    match = _NAME.match(line.strip())
    return match.group(1) if match else line.strip()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def names_kiln(lines: Sequence[str]) -> bool:
    """Whether requirement ``lines`` already install Kiln (``kiln-mlops...``)."""
    return any(_canonical(_requirement_name(line)) == KILN_DISTRIBUTION for line in lines)


def _run(
    args: Sequence[str], *, what: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    try:
        done = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise EnvironmentUnavailable(f"{what}: cannot start {args[0]}: {exc}") from None
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-_OUTPUT_TAIL:]
        raise EnvironmentBuildFailed(f"{what} failed (exit {done.returncode}):\n{output}")
    return done.stdout


def _uv_env() -> dict[str, str]:
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)  # every uv call names its --python explicitly
    for pip_name, uv_name in _PIP_TO_UV.items():
        if pip_name in env and uv_name not in env:
            env[uv_name] = env[pip_name]
    return env


def current_interpreter() -> Interpreter:
    return Interpreter(Path(sys.executable), platform.python_version())


_VERSION_SCRIPT = "import platform, sys; print(platform.python_version()); print(sys.executable)"


def _probe(python: str) -> Interpreter | None:
    try:
        done = subprocess.run(
            [python, "-c", _VERSION_SCRIPT], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        return None  # e.g. a pyenv shim for a version that is not selected
    return Interpreter(Path(python), lines[0])


def find_interpreter(request: PythonRequest | None, tools: Toolchain, where: str) -> Interpreter:
    """The interpreter for ``request``: the running one when it fits, else one installed here.

    The running interpreter wins whenever it satisfies the request (a pin's patch
    level is a preference), so a cached environment is found without starting
    any process. Otherwise ``uv python find`` (never downloading) and then
    ``pythonX.Y`` on the search PATH are tried.

    Raises:
        EnvironmentUnavailable: no installed interpreter satisfies the request.
    """
    current = current_interpreter()
    if request is None or request.allows(version_tuple(current.version)):
        return current
    minor = request.minor()
    candidates: list[Interpreter] = []
    if tools.uv is not None:
        try:
            found = _run(
                [
                    str(tools.uv),
                    "python",
                    "find",
                    "--no-python-downloads",
                    request.text.lstrip("="),
                ],
                what="uv python find",
                env=_uv_env(),
            ).strip()
        except EnvironmentUnavailable:
            found = ""
        probed = _probe(found) if found else None
        if probed is not None:
            candidates.append(probed)
    if minor is not None:
        on_path = shutil.which(f"python{minor[0]}.{minor[1]}", path=tools.search_path)
        probed = _probe(on_path) if on_path else None
        if probed is not None:
            candidates.append(probed)
    for candidate in candidates:
        if request.allows(version_tuple(candidate.version)):
            return candidate
    minor_text = current.version.rsplit(".", 1)[0]
    raise EnvironmentUnavailable(
        f"{where} asks for Python {request.text}, but no such interpreter is installed here "
        f"(the running one is {current.version}; looked with `uv python find` and on PATH). "
        f"Install that Python, change the version in {where} to {minor_text}, "
        "or run with --env-manager local to use the current Python"
    )


def create_venv(target: Path, interpreter: Interpreter, tools: Toolchain) -> Path:
    """Create an empty virtual environment at ``target``; return its python."""
    if tools.uv is not None:
        _run(
            [str(tools.uv), "venv", "--quiet", "--python", str(interpreter.path), str(target)],
            what="uv venv",
            env=_uv_env(),
        )
    else:
        _run([str(interpreter.path), "-m", "venv", str(target)], what="python -m venv")
    python = target / "bin" / "python"
    if not python.exists():
        raise EnvironmentBuildFailed(f"creating the environment left no interpreter at {python}")
    return python


def install(
    python: Path,
    args: Sequence[str],
    tools: Toolchain,
    *,
    cwd: Path | None = None,
    no_deps: bool = False,
    what: str = "installing packages",
) -> None:
    """``uv pip install`` / ``pip install`` ``args`` into the environment of ``python``."""
    if not args:
        return
    extra = ["--no-deps"] if no_deps else []
    if tools.uv is not None:
        command = [str(tools.uv), "pip", "install", "--quiet", "--python", str(python)]
        command += ["--compile-bytecode", *extra, *args]
        _run(command, what=f"{what} (uv pip install)", cwd=cwd, env=_uv_env())
    else:
        command = [str(python), "-m", "pip", "install", "--quiet", "--no-input"]
        command += ["--disable-pip-version-check", *extra, *args]
        _run(command, what=f"{what} (pip install)", cwd=cwd)


_PATH_SCRIPT = (
    "import json, platform, sys; print(json.dumps([platform.python_version(), sys.path]))"
)
_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def installed_packages(python: Path) -> tuple[str, list[tuple[str, str]]]:
    """The Python version of ``python`` and every distribution its environment has.

    The environment's ``sys.path`` comes from the running interpreter or one
    short subprocess (no pip needed there; uv's environments have none), and
    each folder on it is scanned for ``name-version.dist-info``: parsing every
    METADATA file through ``importlib.metadata`` costs about 1.2 s for the
    ~200 packages of a development environment, the folder names 1 ms. Only a
    folder whose name does not say (an old ``.egg-info``) is read. Names are
    canonical (``typing-extensions``); a distribution installed twice counts
    once, the copy import finds first.
    """
    if python == Path(sys.executable):
        version, path = platform.python_version(), list(sys.path)
    else:
        version, path = json.loads(_run([str(python), "-c", _PATH_SCRIPT], what="listing packages"))
    packages: dict[str, str] = {}
    for entry in path:
        for name, dist_version in _distributions_in(Path(entry or ".")):
            packages.setdefault(_canonical(name), dist_version)
    return version, sorted(packages.items())


def _distributions_in(folder: Path) -> list[tuple[str, str]]:
    try:
        children = sorted(os.listdir(folder))
    except OSError:
        return []  # a zip file or a folder that does not exist
    found: list[tuple[str, str]] = []
    for child in children:
        if not child.endswith(_METADATA_SUFFIXES):
            continue
        stem = child.rsplit(".", 1)[0]
        parts = stem.split("-")
        if child.endswith(".dist-info") and len(parts) == 2 and all(parts):
            found.append((parts[0], parts[1]))
            continue
        from importlib import metadata  # rare: an old .egg-info

        dist = metadata.Distribution.at(folder / child)
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if name:
            found.append((name, dist.version))
    return found


def canonical_name(name: str) -> str:
    """PEP 503 normal form of a distribution name."""
    return _canonical(name)


__all__ = [
    "KILN_CLIENT_DEPENDENCIES",
    "KILN_DISTRIBUTION",
    "Interpreter",
    "KilnInstall",
    "Toolchain",
    "canonical_name",
    "create_venv",
    "current_interpreter",
    "find_interpreter",
    "install",
    "installed_packages",
    "kiln_install",
    "link_kiln",
    "names_kiln",
]
