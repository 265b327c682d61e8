"""Where a run came from and how to run it again, read from its tags.

The run page shows the source (git commit, entry point, script) and, for a run a
project launcher started (``kiln run`` or ``mlflow run``: ``mlflow.source.type``
is ``PROJECT``), the exact commands that run it again. The tag names are
MLflow's and Kiln's project tags (``kiln.projects.tags``, which sits above this
layer, so they are spelled here; a test keeps both lists equal).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from kiln.entities import Run

SOURCE_TYPE = "mlflow.source.type"
SOURCE_NAME = "mlflow.source.name"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_REPO_URL = "mlflow.source.git.repoURL"
LEGACY_GIT_REPO_URL = "mlflow.gitRepoURL"
ENTRY_POINT = "mlflow.project.entryPoint"
PROJECT_PARAMS = "kiln.project.params"
ENV_MANAGER = "kiln.project.envManager"
DIRTY = "kiln.source.dirty"
SOURCE_TYPE_PROJECT = "PROJECT"
DEFAULT_ENTRY_POINT = "main"
SYSTEM_TAG_PREFIXES = ("mlflow.", "kiln.")
ONE_LINE_MAX = 72  # a longer command is shown one option per line


@dataclass(frozen=True, slots=True)
class RunSource:
    """The source tags of a run, and the commands that run it again.

    ``reproduce``: ``kiln reproduce <id>`` when the run recorded what that needs
    (``kiln run`` on a git checkout); ``rerun``: ``kiln run <source> -e ... -P
    k=v ...`` for any project run. Both None for a run started by a script.
    """

    source_type: str | None
    source_name: str | None
    git_commit: str | None
    repo_url: str | None
    entry_point: str | None
    dirty: bool
    reproduce: str | None
    rerun: str | None


def run_source(run: Run) -> RunSource:
    """The ``RunSource`` of ``run`` (never fails: missing tags are None)."""
    tags = run.data.tags
    source_type = tags.get(SOURCE_TYPE)
    name = tags.get(SOURCE_NAME)
    commit = tags.get(GIT_COMMIT)
    repo_url = tags.get(GIT_REPO_URL) or tags.get(LEGACY_GIT_REPO_URL)
    entry = tags.get(ENTRY_POINT)
    dirty = tags.get(DIRTY) == "true"
    reproduce = rerun = None
    if source_type == SOURCE_TYPE_PROJECT and name:
        recorded = _recorded_params(tags)
        rerun = _rerun_command(name, entry, commit, tags.get(ENV_MANAGER), recorded, run)
        if recorded is not None and commit and repo_url:
            reproduce = shlex.join(
                ["kiln", "reproduce", run.info.run_id, *(["--allow-dirty"] if dirty else [])]
            )
    return RunSource(source_type, name, commit, repo_url, entry, dirty, reproduce, rerun)


def split_tags(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``(user tags, system tags)``, each sorted by key; system tags start with
    ``mlflow.`` or ``kiln.`` (the page folds them away)."""
    user: dict[str, str] = {}
    system: dict[str, str] = {}
    for key in sorted(tags):
        (system if key.startswith(SYSTEM_TAG_PREFIXES) else user)[key] = tags[key]
    return user, system


def _recorded_params(tags: Mapping[str, str]) -> dict[str, str] | None:
    """``kiln.project.params`` (every resolved parameter), None when absent or bad."""
    raw = tags.get(PROJECT_PARAMS)
    if raw is None:
        return None
    try:
        params = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(params, dict):
        return None
    return {str(k): str(v) for k, v in params.items()}


def _rerun_command(
    source: str,
    entry: str | None,
    commit: str | None,
    env_manager: str | None,
    recorded: dict[str, str] | None,
    run: Run,
) -> str:
    """One shell command: one line when short, else one option per line (``\\``
    continued), so it reads and pastes whole."""
    params = recorded if recorded is not None else run.data.params
    options = [["-e", entry or DEFAULT_ENTRY_POINT]]
    if commit:
        options.append(["-v", commit])
    if env_manager:
        options.append(["--env-manager", env_manager])
    options += [["-P", f"{key}={params[key]}"] for key in sorted(params)]
    parts = [shlex.join(["kiln", "run", source]), *(shlex.join(o) for o in options)]
    one_line = " ".join(parts)
    return one_line if len(one_line) <= ONE_LINE_MAX else " \\\n  ".join(parts)


__all__ = ["RunSource", "run_source", "split_tags"]
