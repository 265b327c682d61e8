"""``run_project``: check out a project, prepare its environment, run one entry point, tracked.

The order is the contract ``kiln reproduce`` relies on:

1. the source is checked out (``source.py``) and the MLproject read (``spec.py``);
2. parameters are typed and the command built, every value shell-quoted (``params.py``);
3. the environment is prepared (``envs.py``), from a lock when one is given;
4. the run is created, with the tags of ``tags.py``, the params, the uncommitted diff and
   the environment lock, before the command starts;
5. the command runs under ``bash -c`` in the project folder, in its own process group,
   with ``KILN_RUN_ID``/``MLFLOW_RUN_ID`` etc. set so ``import kiln`` joins the run;
6. the run ends FINISHED (exit 0), FAILED (non-zero; exit code and stderr tail kept) or
   KILLED (SIGINT/SIGTERM to this process: the whole process group is terminated, then
   killed after a grace period).

The launcher passes the command's own output through: stdout is inherited, stderr is
copied to this process's stderr as it arrives (and its tail kept for the run).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO
from urllib.parse import urlparse

from kiln.config import Settings, default_tracking_uri
from kiln.entities import LifecycleStage, RunStatus
from kiln.errors import EnvironmentUnavailable, InvalidInput, InvalidUri, NotFound
from kiln.projects import tags as T
from kiln.projects.envs import (
    EnvManager,
    PreparedEnv,
    docker_command,
    environment_lock,
    prepare_environment,
    prepare_from_lock,
)
from kiln.projects.params import ResolvedParameters, resolve_parameters
from kiln.projects.source import ProjectSource, checkout_project
from kiln.projects.spec import DEFAULT_ENTRY_POINT, ProjectSpec, load_project
from kiln.tracking.client import KilnClient
from kiln.tracking.environment import RunEnvironment
from kiln.tracking.system_tags import RUN_NAME, USER, current_user

GRACE_SECONDS = 10.0
"""How long the command's process group has to exit after SIGTERM before SIGKILL."""
MANAGED_RUN_ENV = "KILN_RUN_MANAGED"
"""Set to "1" for the command: the launcher, not the script, ends the run."""
_TAIL_BYTES = 4 * T.STDERR_TAIL_CHARS  # UTF-8 needs at most 4 bytes a character
_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class ProjectRun:
    """The outcome of ``run_project``: the run, how it ended, and the environment used."""

    run_id: str
    experiment_id: str
    status: RunStatus
    exit_code: int | None
    env: PreparedEnv


class _Stop(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler while the command runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def run_project(
    uri: str,
    *,
    settings: Settings,
    entry_point: str = DEFAULT_ENTRY_POINT,
    parameters: Mapping[str, str] | None = None,
    version: str | None = None,
    env_manager: EnvManager | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    tags: Mapping[str, str] | None = None,
    lock: str | None = None,
    progress: Callable[[str], None] | None = None,
    stderr: BinaryIO | None = None,
    grace_seconds: float = GRACE_SECONDS,
) -> ProjectRun:
    """Run ``entry_point`` of the project at ``uri`` as a new tracked run.

    Args:
        uri: a folder, ``file://`` URL or git URL, optionally with ``#subdir``.
        settings: the configuration the caller read (``Settings.from_env()`` at the
            edge): the default tracking URI, workspace and artifact root, passed on to
            the command's environment.
        entry_point: a declared entry point, or a .py/.sh file in the project.
        parameters: ``-P`` values; undeclared ones are appended as ``--key value``.
        version: a commit or branch to check out in a temporary clone.
        env_manager: ``local``/``uv``/``virtualenv``/``conda``; by default ``uv`` when the
            project declares an environment, else ``local``.
        experiment_name: the experiment (created when missing); or ``experiment_id``;
            else ``KILN_EXPERIMENT_NAME``/``_ID`` (and MLflow's), else the default one.
        run_name: the run's name.
        tracking_uri: the store; the configured one when None.
        tags: extra tags for the run (``kiln reproduce`` links runs with them).
        lock: an environment lock to rebuild from instead of the project's spec.
        progress: receives one-line messages about slow steps (environment builds).
        stderr: where the command's stderr is copied (this process's stderr by default).
        grace_seconds: time between SIGTERM and SIGKILL when interrupted.

    Returns:
        The run, its final status (FINISHED, FAILED or KILLED) and the exit code.

    Raises:
        NotFound: the experiment id does not exist.
        InvalidInput: the project, entry point or version does not exist, a parameter
            is missing or mistyped, or the MLproject is malformed.
        EnvironmentUnavailable: the environment cannot be built here (docker_env always).
    """
    store_uri = child_tracking_uri(tracking_uri, settings)
    with checkout_project(uri, version=version) as source:
        spec = load_project(source.root)
        entry = spec.entry_point(entry_point)
        resolved = resolve_parameters(entry, parameters or {}, project_root=spec.root)
        if spec.env.kind == "docker":
            assert spec.env.image is not None
            shown = docker_command(
                spec.env.image, resolved.command, spec.root, _tracking_env(store_uri, settings)
            )
            raise EnvironmentUnavailable(
                f"project {spec.name or str(spec.root)!r} runs in the Docker image "
                f"{spec.env.image!r}, and Kiln cannot reach a Docker engine here; on a machine "
                f"with Docker, run: {shown}"
            )
        manager: EnvManager = env_manager or ("local" if spec.env.kind == "none" else "uv")
        if lock is not None:
            env = prepare_from_lock(lock, progress=progress)
        else:
            env = prepare_environment(spec.env, manager, progress=progress)
        with closing(KilnClient.from_uri(store_uri, settings)) as client:  # frees a REST pool
            exp_id = _experiment_id(client, experiment_name, experiment_id)
            run_tags = _run_tags(source, spec, entry.name, env, resolved, run_name, tags)
            run = client.create_run(exp_id, tags=run_tags, run_name=run_name)
            run_id = run.info.run_id
            try:
                _record(client, run_id, source, env, resolved, progress or _silent)
                child_env = _child_env(store_uri, settings, run_id, exp_id, env)
                exit_code, tail, signum = _execute(
                    resolved.command,
                    spec.root,
                    child_env,
                    stderr=stderr,
                    grace_seconds=grace_seconds,
                )
            except BaseException as exc:
                killed = isinstance(exc, KeyboardInterrupt)
                client.set_terminated(run_id, RunStatus.KILLED if killed else RunStatus.FAILED)
                raise
            status = _status(exit_code, signum)
            if status is not RunStatus.FINISHED:
                client.set_tag(run_id, T.EXIT_CODE, str(exit_code))
                if tail:
                    client.set_tag(run_id, T.STDERR_TAIL, tail)
            client.set_terminated(run_id, status)
            return ProjectRun(run_id, exp_id, status, exit_code, env)


def _silent(message: str) -> None:
    """The default progress callback: say nothing."""


def _status(exit_code: int, signum: int | None) -> RunStatus:
    if signum is not None:
        return RunStatus.KILLED
    return RunStatus.FINISHED if exit_code == 0 else RunStatus.FAILED


# tracking ---------------------------------------------------------------------
def child_tracking_uri(tracking_uri: str | None, settings: Settings) -> str:
    """The tracking URI as the command must see it: relative paths made absolute.

    The command runs in the project folder (often a temporary clone), so
    ``sqlite:///kiln.db`` or a bare ``mlruns`` path would name another store there.
    """
    uri = tracking_uri or settings.tracking_uri
    if uri == default_tracking_uri(settings.home):
        return default_tracking_uri(settings.home.resolve())
    scheme = urlparse(uri).scheme
    if scheme == "" or len(scheme) == 1:
        return str(Path(uri).resolve())
    if scheme.split("+", 1)[0] == "sqlite":
        prefix, sep, rest = uri.partition(":///")
        if sep and rest and not rest.startswith("/") and rest != ":memory:":
            return f"{prefix}:///{Path(rest).resolve()}"
    return uri


def _experiment_id(client: KilnClient, name: str | None, experiment_id: str | None) -> str:
    if name is not None and experiment_id is not None:
        raise InvalidInput("pass --experiment-name or --experiment-id, not both")
    if name is None and experiment_id is None:
        env = RunEnvironment.from_env()
        name, experiment_id = env.experiment_name, env.experiment_id
        if name is None and experiment_id is None:
            return client.default_experiment_id()
    if name is not None:
        found = client.get_experiment_by_name(name)
        if found is None:
            return client.create_experiment(name)
    else:
        assert experiment_id is not None
        try:
            found = client.get_experiment(experiment_id)
        except NotFound:
            raise NotFound(
                f"experiment {experiment_id!r} does not exist; list experiments with "
                "`kiln experiments list`, or pass --experiment-name to create one"
            ) from None
    if found.lifecycle_stage is not LifecycleStage.ACTIVE:
        raise InvalidInput(
            f"experiment {found.name!r} is deleted; restore it with `kiln experiments restore "
            f"{found.experiment_id}` or choose another experiment"
        )
    return found.experiment_id


def _run_tags(
    source: ProjectSource,
    spec: ProjectSpec,
    entry_point: str,
    env: PreparedEnv,
    resolved: ResolvedParameters,
    run_name: str | None,
    extra: Mapping[str, str] | None,
) -> dict[str, str]:
    found: dict[str, str] = {
        USER: current_user(),
        T.SOURCE_TYPE: T.SOURCE_TYPE_PROJECT,
        T.SOURCE_NAME: source.source_name,
        T.ENTRY_POINT: entry_point,
        T.ENV: env.manager,
        T.BACKEND: T.BACKEND_LOCAL,
        T.URI: source.uri,
        T.DIRTY: "true" if source.dirty else "false",
        T.ENV_MANAGER: env.manager,
        T.COMMAND: resolved.command,
        T.PARAMS: json.dumps(dict(resolved.recorded), sort_keys=True),
    }
    optional = {
        T.GIT_COMMIT: source.commit,
        T.GIT_REPO_URL: source.repo_url,
        T.LEGACY_GIT_REPO_URL: source.repo_url,
        T.SUBDIRECTORY: source.subdirectory,
        T.VERSION: source.version,
        T.ENV_HASH: env.env_hash,
        RUN_NAME: run_name,
    }
    found.update({key: value for key, value in optional.items() if value})
    found.update(extra or {})
    return found


def _record(
    client: KilnClient,
    run_id: str,
    source: ProjectSource,
    env: PreparedEnv,
    resolved: ResolvedParameters,
    say: Callable[[str], None],
) -> None:
    from kiln.entities import Param

    params = [Param(key, value) for key, value in resolved.recorded.items()]
    if params:
        client.log_batch(run_id, params=params)
    artifacts = {T.ENVIRONMENT_LOCK_ARTIFACT: environment_lock(env).encode("utf-8")}
    if source.diff:
        artifacts[T.SOURCE_DIFF_ARTIFACT] = source.diff
    for name, data in artifacts.items():
        try:
            client.log_bytes(run_id, data, name)
        except InvalidUri as exc:
            # A run whose artifact root this client cannot open (a scheme no artifact
            # store knows) still runs; only reproducing it gets harder.
            say(f"warning: {name} not stored ({exc.message}); the run goes on without it")


# the child process ------------------------------------------------------------
def _tracking_env(store_uri: str, settings: Settings) -> dict[str, str]:
    env = {"KILN_TRACKING_URI": store_uri, "KILN_HOME": str(settings.home.resolve())}
    # MLflow's client pointed at Kiln's SQLite file would run MLflow's own migrations on
    # it, so MLflow only hears about stores it speaks: a server or an mlruns folder.
    if urlparse(store_uri).scheme in ("http", "https", "file"):
        env["MLFLOW_TRACKING_URI"] = store_uri
    return env


def _child_env(
    store_uri: str, settings: Settings, run_id: str, experiment_id: str, env: PreparedEnv
) -> dict[str, str]:
    child = dict(os.environ)
    for name in (
        "MLFLOW_TRACKING_URI",
        "KILN_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_NAME",
        "VIRTUAL_ENV",
        "PYTHONHOME",
    ):
        child.pop(name, None)
    child.update(_tracking_env(store_uri, settings))
    child.update(
        {
            "KILN_RUN_ID": run_id,
            "MLFLOW_RUN_ID": run_id,
            "KILN_EXPERIMENT_ID": experiment_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
            MANAGED_RUN_ENV: "1",
        }
    )
    # ``python`` in the command is the environment's interpreter (for ``local``: the
    # one running Kiln), whatever else is on PATH.
    bin_dir = env.bin_dir or env.python.parent
    child["PATH"] = os.pathsep.join(filter(None, (str(bin_dir), child.get("PATH"))))
    if env.bin_dir is not None:
        child["VIRTUAL_ENV"] = str(env.bin_dir.parent)
    return child


def _shell() -> list[str]:
    bash = shutil.which("bash")
    return [bash, "-c"] if bash else ["/bin/sh", "-c"]


def _execute(
    command: str,
    cwd: Path,
    env: Mapping[str, str],
    *,
    stderr: BinaryIO | None,
    grace_seconds: float,
) -> tuple[int, str, int | None]:
    """Run ``command``; return its exit code, its stderr tail, and the signal that stopped it."""
    sink = sys.stderr.buffer if stderr is None else stderr
    tail = bytearray()
    signum: int | None = None
    with _stop_signals() as disarm:
        process = subprocess.Popen(
            [*_shell(), command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, which we can terminate whole
        )
        assert process.stderr is not None
        reader = threading.Thread(
            target=_copy_stderr, args=(process.stderr, sink, tail), daemon=True
        )
        try:
            reader.start()
            code = process.wait()
            disarm()
        except _Stop as stop:
            signum = stop.signum
            code = _terminate_group(process, grace_seconds)
        reader.join()
        process.stderr.close()
    text = tail.decode("utf-8", errors="replace")[-T.STDERR_TAIL_CHARS :]
    return code, text, signum


def _copy_stderr(stream: BinaryIO, sink: BinaryIO, tail: bytearray) -> None:
    fd = stream.fileno()
    while chunk := os.read(fd, _CHUNK):
        try:
            sink.write(chunk)
            sink.flush()
        except (OSError, ValueError):  # our own stderr closed: keep the tail anyway
            pass
        tail.extend(chunk)
        if len(tail) > 2 * _TAIL_BYTES:
            del tail[:-_TAIL_BYTES]


def _terminate_group(process: subprocess.Popen[bytes], grace_seconds: float) -> int:
    """SIGTERM the process group, SIGKILL it after the grace period; the exit code."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        code = process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        code = None
    # Also reaps grandchildren that outlived the command (or ignored SIGTERM).
    _signal_group(process.pid, signal.SIGKILL)
    return process.wait() if code is None else code


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signum)


@contextmanager
def _stop_signals() -> Iterator[Callable[[], None]]:
    """Turn the first SIGINT/SIGTERM into ``_Stop`` while the command runs (main thread only).

    Yields a function that disarms the handler once the command has ended. Later
    signals are ignored: terminating the group ends in SIGKILL anyway.
    """
    armed = True

    def disarm() -> None:
        nonlocal armed
        armed = False

    if threading.current_thread() is not threading.main_thread():
        yield disarm
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if armed:
            disarm()
            raise _Stop(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield disarm
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


__all__ = ["GRACE_SECONDS", "MANAGED_RUN_ENV", "ProjectRun", "child_tracking_uri", "run_project"]
