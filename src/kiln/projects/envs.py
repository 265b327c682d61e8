"""Environments for project commands: the running Python, or a cached virtualenv.

Managers (``--env-manager``):

- ``local``: the running interpreter, as is; nothing is built.
- ``uv`` / ``virtualenv``: a virtual environment from the project's
  ``python_env.yaml``, or from the pip part of its ``conda.yaml``; a project
  without either gets an environment holding only Kiln. Both are built with uv
  where it is found, else with ``python -m venv`` and pip
  (``kiln.projects.envbuild``); the manager is part of the cache key.
- ``conda``: there is no conda here. A ``conda.yaml`` whose conda packages are
  only ``python`` and ``pip`` is built like ``uv`` (and the progress says so);
  anything else is refused (``kiln.projects.envfiles`` says why strictly).

Kiln is installed into every built environment so that ``import kiln`` scripts
join the run: the running checkout, editable, without its heavy dependencies
(only what tracking needs, ``KILN_CLIENT_DEPENDENCIES``), unless the project's
requirements already name ``kiln-mlops``.

Environments are cached under ``$KILN_HOME/envs`` by a content hash of: the
environment file, every requirements file it references, the interpreter
version, Kiln's version and client requirements, the manager and the build tool
(``kiln.projects.envcache`` keeps concurrent and interrupted builds safe). A
second prepare is a hit and reports the build time it saved.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from kiln.config import default_home
from kiln.errors import EnvironmentUnavailable, InvalidInput
from kiln.projects.envbuild import (
    KILN_DISTRIBUTION,
    Interpreter,
    KilnInstall,
    Toolchain,
    canonical_name,
    create_venv,
    find_interpreter,
    install,
    installed_packages,
    kiln_install,
    link_kiln,
    names_kiln,
)
from kiln.projects.envcache import ensure
from kiln.projects.envfiles import (
    EnvRequirements,
    parse_python_request,
    read_conda_env,
    read_python_env,
    referenced_files,
    requirements_text,
)
from kiln.projects.envtypes import (
    ENV_MANAGERS,
    EnvManager,
    PreparedEnv,
    Progress,
    no_progress,
)
from kiln.projects.spec import EnvSpec

ENVS_FOLDER = "envs"
LOCK_PYTHON_PREFIX = "# python "
_HASH_FORMAT = 1
_REQUIREMENTS_FILE = "kiln-requirements.txt"
DOCKER_PROJECT_DIR = "/mlflow/projects/code"  # where ``mlflow run`` mounts the project


def default_cache_root() -> Path:
    """``$KILN_HOME/envs``."""
    return default_home() / ENVS_FOLDER


def _local() -> PreparedEnv:
    return PreparedEnv(
        manager="local",
        python=Path(sys.executable),
        bin_dir=None,
        env_hash=None,
        cache_hit=False,
        build_seconds=0.0,
        saved_seconds=None,
    )


def _read_spec(env: EnvSpec) -> EnvRequirements | None:
    if env.kind == "none":
        return None
    if env.path is None:
        raise InvalidInput(f"a {env.kind} environment spec needs the path of its file")
    if env.kind == "python_env":
        return read_python_env(env.path)
    return read_conda_env(env.path)


def _digest(parts: Mapping[str, object]) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_local_path(line: str) -> bool:
    bare = line.removeprefix("-e").removeprefix("--editable").strip()
    return bare.startswith((".", "/", "~", "file:"))


def spec_hash(
    requirements: EnvRequirements | None,
    *,
    manager: EnvManager,
    tool: str,
    python_version: str,
    kiln: KilnInstall,
) -> str:
    """The cache key of an environment: a sha256 over everything that shapes it.

    The environment file's bytes and those of every file it references (not
    their paths: two projects with the same spec share one environment), plus
    the folder when a requirement is a local path (whose content is not read).
    """
    parts: dict[str, object] = {
        "format": _HASH_FORMAT,
        "manager": manager,
        "tool": tool,
        "python": python_version,
        "kiln": [kiln.version, list(kiln.requirements), str(kiln.source), kiln.requirement],
    }
    if requirements is not None:
        lines = (*requirements.build_dependencies, *requirements.dependencies)
        parts["spec"] = _file_digest(requirements.source)
        parts["files"] = [
            _file_digest(path) for path in referenced_files(lines, requirements.folder)
        ]
        if any(_is_local_path(line) for line in lines):
            parts["folder"] = str(requirements.folder)
    return _digest(parts)


def _builder(
    requirements: EnvRequirements | None,
    interpreter: Interpreter,
    tools: Toolchain,
    kiln: KilnInstall,
) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        python = create_venv(folder, interpreter, tools)
        workdir = requirements.folder if requirements is not None else None
        build_deps = requirements.build_dependencies if requirements is not None else ()
        deps = requirements.dependencies if requirements is not None else ()
        if build_deps:
            install(python, build_deps, tools, cwd=workdir, what="installing build_dependencies")
        with_kiln = not names_kiln(deps)
        lines = [*deps, *(kiln.requirements if with_kiln else ())]
        listing = folder / _REQUIREMENTS_FILE
        listing.write_text(requirements_text(lines, workdir or folder), encoding="utf-8")
        install(python, ["-r", str(listing)], tools, cwd=workdir, what="installing dependencies")
        if with_kiln:
            link_kiln(folder, interpreter, kiln, tools)

    return build


def _cached_env(
    root: Path,
    env_hash: str,
    build: Callable[[Path], None],
    manager: EnvManager,
    details: dict[str, object],
    started: float,
    say: Callable[[str], None],
) -> PreparedEnv:
    """Take the environment ``env_hash`` from the cache under ``root`` (``build`` it on a
    miss), say which happened, and describe it."""
    short = env_hash[:8]
    cached, hit = ensure(root, env_hash, build, progress=say, details=details)
    if hit:
        say(f"reused environment {short}… (saved {cached.build_seconds:.1f} s)")
    else:
        say(f"built environment {short}… in {cached.build_seconds:.1f} s")
    return PreparedEnv(
        manager=manager,
        python=cached.python,
        bin_dir=cached.folder / "bin",
        env_hash=env_hash,
        cache_hit=hit,
        build_seconds=time.perf_counter() - started,
        saved_seconds=cached.build_seconds if hit else None,
    )


def prepare_environment(
    env: EnvSpec,
    manager: EnvManager,
    *,
    cache_root: Path | None = None,
    progress: Progress | None = None,
    search_path: str | None = None,
) -> PreparedEnv:
    """The environment to run a project command in, built or reused from the cache.

    Args:
        env: the project's environment spec (``ProjectSpec.env``).
        manager: ``local`` (the running Python), ``uv``, ``virtualenv`` or ``conda``.
        cache_root: where environments are cached; default ``$KILN_HOME/envs``.
        progress: called with short messages ("building environment 3f2a… with uv").
        search_path: the PATH on which uv and other Pythons are looked for; default
            ``$PATH`` plus the running interpreter's folder.

    Raises:
        EnvironmentUnavailable: docker_env, conda-only packages, or a Python
            version that is not installed; the message says what to do.
        EnvironmentBuildFailed: uv or pip failed (the message has their output).
        InvalidInput, NotFound: an unknown manager, a bad or missing environment file.
    """
    say = progress or no_progress
    if manager not in ENV_MANAGERS:
        raise InvalidInput(
            f"unknown environment manager {manager!r}; use one of {', '.join(ENV_MANAGERS)}"
        )
    if env.kind == "docker":
        raise EnvironmentUnavailable(
            f"the project runs in the Docker image {env.image!r}, and there is no Docker "
            "engine here; run it where Docker is installed, or with --env-manager local"
        )
    if manager == "local":
        return _local()
    started = time.perf_counter()
    requirements = _read_spec(env)
    tools = Toolchain.discover(search_path)
    where = str(requirements.source) if requirements is not None else "the project"
    interpreter = find_interpreter(
        requirements.python if requirements is not None else None, tools, where
    )
    kiln = kiln_install()
    env_hash = spec_hash(
        requirements,
        manager=manager,
        tool=tools.tool,
        python_version=interpreter.version,
        kiln=kiln,
    )
    root = cache_root if cache_root is not None else default_cache_root()
    short = env_hash[:8]

    def build(folder: Path) -> None:
        wanted = requirements.python if requirements is not None else None
        if wanted is not None and wanted.patch_differs(interpreter.version):
            say(f"Python {wanted.text} asked for, using the installed {interpreter.version}")
        if manager == "conda":
            say(f"conda is not installed: building environment {short}… with {tools.tool}")
        else:
            say(f"building environment {short}… with {tools.tool}")
        _builder(requirements, interpreter, tools, kiln)(folder)

    details: dict[str, object] = {
        "manager": manager,
        "tool": tools.tool,
        "python": interpreter.version,
    }
    return _cached_env(root, env_hash, build, manager, details, started, say)


def environment_lock(env: PreparedEnv) -> str:
    """Every package installed in ``env``, as ``name==version`` lines, sorted by name.

    The first line is ``# python X.Y.Z``. Names are canonical (PEP 503), and
    Kiln's own line is a plain ``kiln-mlops==X.Y.Z`` even when it is an editable
    checkout, so ``prepare_from_lock`` can put the running Kiln in its place.
    """
    version, packages = installed_packages(env.python)
    lines = [f"{LOCK_PYTHON_PREFIX}{version}"]
    lines += [f"{name}=={package_version}" for name, package_version in packages]
    return "".join(f"{line}\n" for line in lines)


def parse_lock(lock: str) -> tuple[str, list[tuple[str, str]]]:
    """The Python version and ``(name, version)`` pins of an ``environment_lock`` text.

    Raises:
        InvalidInput: no ``# python`` header, or a line that is not ``name==version``.
    """
    python: str | None = None
    pins: list[tuple[str, str]] = []
    for number, raw in enumerate(lock.splitlines(), start=1):
        line = raw.strip()
        if line.startswith(LOCK_PYTHON_PREFIX):
            python = line.removeprefix(LOCK_PYTHON_PREFIX).strip()
            continue
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise InvalidInput(f"environment lock line {number} is not name==version: {raw!r}")
        pins.append((canonical_name(name.strip()), version.strip()))
    if python is None:
        raise InvalidInput("the environment lock has no '# python X.Y.Z' line")
    return python, pins


def prepare_from_lock(
    lock: str,
    *,
    cache_root: Path | None = None,
    progress: Progress | None = None,
    search_path: str | None = None,
) -> PreparedEnv:
    """An environment with exactly the pins of ``lock`` (cached by the lock's content).

    Every pin is installed without dependency resolution (``--no-deps``): the lock
    already lists every package. Kiln's own pin is replaced by the running Kiln.
    The interpreter must have the lock's major.minor; the patch may differ (said
    through ``progress``). The manager is ``uv`` when uv builds it, else
    ``virtualenv``.

    Raises:
        InvalidInput: the lock is malformed.
        EnvironmentUnavailable: no interpreter with the lock's Python version.
        EnvironmentBuildFailed: a pin could not be installed.
    """
    say = progress or no_progress
    started = time.perf_counter()
    python_version, pins = parse_lock(lock)
    tools = Toolchain.discover(search_path)
    request = parse_python_request(python_version)
    interpreter = find_interpreter(request, tools, "the environment lock")
    kiln = kiln_install()
    manager: EnvManager = "uv" if tools.uv is not None else "virtualenv"
    others = [(name, version) for name, version in pins if name != KILN_DISTRIBUTION]
    locked_kiln = [version for name, version in pins if name == KILN_DISTRIBUTION]
    env_hash = _digest(
        {
            "format": _HASH_FORMAT,
            "lock": sorted(others),
            "tool": tools.tool,
            "python": interpreter.version,
            "kiln": [kiln.version, str(kiln.source), kiln.requirement],
        }
    )
    root = cache_root if cache_root is not None else default_cache_root()
    short = env_hash[:8]

    def build(folder: Path) -> None:
        say(f"building environment {short}… from the lock with {tools.tool}")
        if interpreter.version != python_version:
            say(f"the lock has Python {python_version}, using the installed {interpreter.version}")
        if locked_kiln and locked_kiln[0] != kiln.version:
            say(
                f"the lock has {KILN_DISTRIBUTION} {locked_kiln[0]}, "
                f"installing the running {kiln.version}"
            )
        python = create_venv(folder, interpreter, tools)
        listing = folder / _REQUIREMENTS_FILE
        listing.write_text("".join(f"{n}=={v}\n" for n, v in others), encoding="utf-8")
        install(
            python, ["-r", str(listing)], tools, no_deps=True, what="installing the locked packages"
        )
        link_kiln(folder, interpreter, kiln, tools)

    details: dict[str, object] = {
        "manager": manager,
        "tool": tools.tool,
        "python": interpreter.version,
        "lock": True,
    }
    return _cached_env(root, env_hash, build, manager, details, started, say)


def docker_command(image: str, command: str, project_root: Path, env: Mapping[str, str]) -> str:
    """The ``docker run`` line that would run ``command`` in ``image`` (shell-quoted).

    The project is mounted where ``mlflow run`` mounts it and is the working
    directory; each of ``env`` is passed with ``-e``. Kiln prints it because
    there is no Docker engine to run it here.
    """
    args: list[str] = ["docker", "run", "--rm", "-v", f"{project_root}:{DOCKER_PROJECT_DIR}"]
    args += ["-w", DOCKER_PROJECT_DIR]
    for key, value in sorted(env.items()):
        args += ["-e", f"{key}={value}"]
    args += [image, "sh", "-c", command]
    return shlex.join(args)


__all__ = [
    "ENV_MANAGERS",
    "EnvManager",
    "PreparedEnv",
    "default_cache_root",
    "docker_command",
    "environment_lock",
    "parse_lock",
    "prepare_environment",
    "prepare_from_lock",
    "spec_hash",
]
