"""``kiln reproduce``: run a recorded project run again and prove it gives the same metrics.

Everything comes from what ``kiln run`` recorded (``kiln.projects.tags``):

1. The run must be a project run (``kiln.project.params`` present) made from a
   git repository (``mlflow.source.git.commit``); otherwise it is refused.
2. The recorded commit of the recorded repository is checked out in a temporary
   clone. A run made with uncommitted changes (``kiln.source.dirty``) is refused
   unless ``allow_dirty``; then its ``kiln/source.diff`` is applied to the clone.
3. Every dataset input whose source is a local file is hashed again
   (``kiln.projects.data_versions``); a changed or missing file refuses the
   reproduction, naming the dataset and both digests.
4. The environment is rebuilt from ``kiln/environment.lock`` (cached by the lock's
   content). A run that used the local environment is reproduced in the local
   environment, and the differences between its lock and the current one are
   returned as warnings.
5. The entry point runs with the recorded params as a new run of the same
   experiment, tagged ``kiln.reproduce.of=<original>``; it keeps the original's
   source tags (repository, URI), so a reproduction can itself be reproduced.
6. Each metric's latest value is compared (``kiln.projects.compare``) and the new
   run is tagged ``kiln.reproduce.result`` = ``pass``/``fail``.

The verdict is ``pass`` only when the re-run finished and every metric matched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.config import Settings
from kiln.entities import Run, RunStatus
from kiln.errors import DataChanged, InvalidInput, NotFound, NotReproducible
from kiln.projects import tags as T
from kiln.projects.compare import (
    DEFAULT_TOLERANCE,
    MetricsComparison,
    check_tolerance,
    compare_metrics,
    lock_differences,
)
from kiln.projects.data_versions import InputCheck, check_inputs
from kiln.projects.envs import (
    ENV_MANAGERS,
    EnvManager,
    environment_lock,
    prepare_environment,
)
from kiln.projects.runner import run_project
from kiln.projects.source import apply_diff, checkout_project, local_path, repository_root
from kiln.projects.spec import EnvSpec
from kiln.tracking.client import KilnClient

Progress = Callable[[str], None]
PASS = "pass"
FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Reproduction:
    """The outcome of ``reproduce_run``.

    Attributes:
        original_run_id: the run that was reproduced.
        run_id: the new run.
        status: how the new run ended (FINISHED, FAILED, KILLED).
        exit_code: the command's exit code.
        comparison: metric by metric, original against reproduced.
        data_checks: what became of each recorded dataset input.
        env_warnings: differences between the recorded and the current
            environment, when the reproduction ran in the local one.
        env_manager: the manager the reproduction ran with.
    """

    original_run_id: str
    run_id: str
    status: RunStatus
    exit_code: int | None
    comparison: MetricsComparison
    data_checks: tuple[InputCheck, ...]
    env_warnings: tuple[str, ...]
    env_manager: EnvManager

    @property
    def passed(self) -> bool:
        return self.status is RunStatus.FINISHED and self.comparison.passed


@dataclass(frozen=True, slots=True)
class _Recipe:
    """What ``kiln run`` recorded that reproducing needs."""

    repo_url: str
    commit: str
    subdirectory: str | None
    entry_point: str
    env_manager: EnvManager
    params: dict[str, str]
    dirty: bool


def _recipe(run: Run) -> _Recipe:
    tags = run.data.tags
    run_id = run.info.run_id
    raw_params = tags.get(T.PARAMS)
    if tags.get(T.SOURCE_TYPE) != T.SOURCE_TYPE_PROJECT or raw_params is None:
        raise NotReproducible(
            f"run {run_id} was not launched by `kiln run` (it has no {T.PARAMS} tag), so "
            "nothing records how to run it again; run the project with `kiln run` and "
            "reproduce that run"
        )
    commit = tags.get(T.GIT_COMMIT)
    repo_url = tags.get(T.GIT_REPO_URL) or tags.get(T.LEGACY_GIT_REPO_URL)
    if not commit or not repo_url:
        raise NotReproducible(
            f"run {run_id} ran from a folder outside git (no {T.GIT_COMMIT} tag), so its "
            "code cannot be checked out again; commit the project to a git repository and "
            "run it with `kiln run`"
        )
    try:
        params = json.loads(raw_params)
    except ValueError:
        params = None
    if not isinstance(params, dict):
        raise NotReproducible(f"the {T.PARAMS} tag of run {run_id} is not a JSON object")
    recorded_manager = tags.get(T.ENV_MANAGER)
    manager: EnvManager = next((m for m in ENV_MANAGERS if m == recorded_manager), "local")
    return _Recipe(
        repo_url=repo_url,
        commit=commit,
        subdirectory=tags.get(T.SUBDIRECTORY) or None,
        entry_point=tags.get(T.ENTRY_POINT, "main"),
        env_manager=manager,
        params={str(k): str(v) for k, v in params.items()},
        dirty=tags.get(T.DIRTY) == "true",
    )


def _artifact_bytes(client: KilnClient, run_id: str, path: str) -> bytes | None:
    try:
        with client.artifact_store(run_id).open_read(path) as stream:
            return stream.read()
    except NotFound:
        return None


def _original_repos(repo_url: str) -> list[Path]:
    local = local_path(repo_url)
    return [] if local is None else [local.resolve()]


def _refuse_changed_data(run_id: str, checks: list[InputCheck]) -> None:
    blocking = [c for c in checks if c.blocks]
    if not blocking:
        return
    parts = []
    for check in blocking:
        where = f" at {str(check.path)!r}" if check.path is not None else ""
        if check.verdict == "missing":
            parts.append(
                f"dataset {check.name!r} (digest {check.recorded_digest}): the file{where} is gone"
            )
        else:
            parts.append(
                f"dataset {check.name!r}{where} changed: digest {check.recorded_digest} "
                f"recorded, {check.current_digest} now"
            )
    raise DataChanged(
        f"the data run {run_id} used is not the same any more: {'; '.join(parts)}. "
        "Restore the recorded data to reproduce the run (`kiln datasets show NAME` lists "
        "the versions and the runs that used them)"
    )


def _current_lock_warnings(recorded: bytes | None) -> tuple[str, ...]:
    if recorded is None:
        return (f"the run has no {T.ENVIRONMENT_LOCK_ARTIFACT}; the environment is not compared",)
    current = environment_lock(prepare_environment(EnvSpec(kind="none"), "local"))
    return tuple(lock_differences(recorded.decode("utf-8"), current))


def _latest(run: Run) -> dict[str, float]:
    return dict(run.data.metrics)


def _source_tags(original: Run) -> dict[str, str]:
    """The original's source identity, which the temporary checkout would replace."""
    keep = (
        T.URI,
        T.SOURCE_NAME,
        T.GIT_REPO_URL,
        T.LEGACY_GIT_REPO_URL,
        T.SUBDIRECTORY,
        T.VERSION,
    )
    tags = original.data.tags
    return {key: tags[key] for key in keep if key in tags}


def reproduce_run(
    run_id: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    allow_dirty: bool = False,
    env_manager: EnvManager | None = None,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
    settings: Settings,
) -> Reproduction:
    """Run ``run_id`` again from its recorded commit, params, data and environment.

    Args:
        run_id: a run made by ``kiln run``.
        tolerance: per metric, ``|a - b| <= tolerance * max(1, |a|)`` passes.
        allow_dirty: apply the recorded uncommitted diff instead of refusing.
        env_manager: ``local`` runs in the current environment (the lock is only
            compared); ``uv``/``virtualenv``/``conda`` rebuild from the lock; None
            follows the original (local stays local, anything else is rebuilt).
        tracking_uri: the store holding the run; the configured one when None.
        progress: receives one-line messages about each step.
        settings: the configuration the caller read at the edge (``run_project``'s).

    Returns:
        The new run, its comparison with the original, and the checks made.

    Raises:
        NotFound: no such run, or a built environment's lock artifact is missing.
        NotReproducible: not a project run, not from git, or dirty without ``allow_dirty``.
        DataChanged: a recorded local data file changed or is gone.
        EnvironmentUnavailable: the locked environment cannot be built here.
    """
    say = progress or (lambda message: None)
    check_tolerance(tolerance)
    if env_manager is not None and env_manager not in ENV_MANAGERS:
        raise InvalidInput(
            f"unknown environment manager {env_manager!r}; use one of {', '.join(ENV_MANAGERS)}"
        )
    client = KilnClient.from_uri(tracking_uri, settings)
    original = client.get_run(run_id)
    recipe = _recipe(original)
    diff = None
    if recipe.dirty:
        if not allow_dirty:
            raise NotReproducible(
                f"run {run_id} ran with uncommitted changes on top of commit "
                f"{recipe.commit[:12]} (its diff is the artifact {T.SOURCE_DIFF_ARTIFACT}); "
                "pass --allow-dirty to apply that diff and reproduce it, or commit the "
                "changes and reproduce a run made from the commit"
            )
        diff = _artifact_bytes(client, run_id, T.SOURCE_DIFF_ARTIFACT)
        if diff is None:
            raise NotFound(
                f"run {run_id} is marked dirty but has no {T.SOURCE_DIFF_ARTIFACT} artifact, "
                "so its code cannot be rebuilt"
            )
    lock = _artifact_bytes(client, run_id, T.ENVIRONMENT_LOCK_ARTIFACT)
    manager: EnvManager = env_manager or recipe.env_manager
    if manager != "local" and lock is None:
        raise NotFound(
            f"run {run_id} has no {T.ENVIRONMENT_LOCK_ARTIFACT} artifact to rebuild its "
            "environment from; pass --env-manager local to reproduce it in this environment"
        )
    uri = f"{recipe.repo_url}#{recipe.subdirectory}" if recipe.subdirectory else recipe.repo_url
    say(f"checking out {recipe.commit[:12]} of {recipe.repo_url}")
    with checkout_project(uri, version=recipe.commit) as source:
        repo = repository_root(source.root) or source.root
        if diff is not None:
            say(f"applying {T.SOURCE_DIFF_ARTIFACT} ({len(diff)} bytes)")
            apply_diff(repo, diff)
        checks = check_inputs(
            original.inputs.dataset_inputs,
            original_repos=_original_repos(recipe.repo_url),
            checkout=repo,
        )
        _refuse_changed_data(run_id, checks)
        warnings: tuple[str, ...] = ()
        if manager == "local":
            warnings = _current_lock_warnings(lock)
        tags: Mapping[str, str] = {**_source_tags(original), T.REPRODUCE_OF: run_id}
        done = run_project(
            str(source.root),
            settings=settings,
            entry_point=recipe.entry_point,
            parameters=recipe.params,
            env_manager=manager,
            experiment_id=original.info.experiment_id,
            run_name=f"{original.info.run_name}-reproduced" if original.info.run_name else None,
            tracking_uri=tracking_uri,
            tags=tags,
            lock=None if manager == "local" or lock is None else lock.decode("utf-8"),
            progress=progress,
        )
    reproduced = client.get_run(done.run_id)
    comparison = compare_metrics(_latest(original), _latest(reproduced), tolerance)
    result = Reproduction(
        original_run_id=run_id,
        run_id=done.run_id,
        status=done.status,
        exit_code=done.exit_code,
        comparison=comparison,
        data_checks=tuple(checks),
        env_warnings=warnings,
        env_manager=done.env.manager,
    )
    client.set_tag(done.run_id, T.REPRODUCE_RESULT, PASS if result.passed else FAIL)
    return result


__all__ = ["FAIL", "PASS", "Reproduction", "reproduce_run"]
