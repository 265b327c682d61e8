"""The tag and artifact names a project run records, shared by ``kiln run`` and ``kiln reproduce``.

MLflow's names come first, so a project run looks the same in MLflow's UI as one
started by ``mlflow run``; Kiln's own names record what reproducing the run needs
(the resolved params, the dirty flag, the environment lock).
"""

from __future__ import annotations

from typing import Final

from kiln.entities import SEED_TAG

# MLflow's project tags (the values ``mlflow run`` writes).
SOURCE_TYPE: Final = "mlflow.source.type"
SOURCE_TYPE_PROJECT: Final = "PROJECT"
SOURCE_NAME: Final = "mlflow.source.name"
GIT_COMMIT: Final = "mlflow.source.git.commit"
GIT_REPO_URL: Final = "mlflow.source.git.repoURL"
LEGACY_GIT_REPO_URL: Final = "mlflow.gitRepoURL"
ENTRY_POINT: Final = "mlflow.project.entryPoint"
ENV: Final = "mlflow.project.env"
BACKEND: Final = "mlflow.project.backend"
BACKEND_LOCAL: Final = "local"

# Kiln's project tags.
URI: Final = "kiln.project.uri"
"""The project URI exactly as given on the command line."""
SUBDIRECTORY: Final = "kiln.project.subdirectory"
VERSION: Final = "kiln.project.version"
"""The ``--version`` asked for (a branch or commit); absent when none was given."""
DIRTY: Final = "kiln.source.dirty"
"""``"true"`` when the working tree had uncommitted changes (the diff is an artifact)."""
ENV_MANAGER: Final = "kiln.project.envManager"
ENV_HASH: Final = "kiln.project.envHash"
COMMAND: Final = "kiln.project.command"
"""The fully resolved shell command that ran."""
PARAMS: Final = "kiln.project.params"
"""JSON object of every resolved parameter: the source of truth for reproduce."""
EXIT_CODE: Final = "kiln.project.exitCode"
STDERR_TAIL: Final = "kiln.project.stderrTail"
STDERR_TAIL_CHARS: Final = 4000

# Artifacts.
SOURCE_DIFF_ARTIFACT: Final = "kiln/source.diff"
ENVIRONMENT_LOCK_ARTIFACT: Final = "kiln/environment.lock"

# Reproduction and seeding.
REPRODUCE_OF: Final = "kiln.reproduce.of"
REPRODUCE_RESULT: Final = "kiln.reproduce.result"
SEED: Final = SEED_TAG  # written by kiln.seed_everything

__all__ = [
    "BACKEND",
    "BACKEND_LOCAL",
    "COMMAND",
    "DIRTY",
    "ENTRY_POINT",
    "ENV",
    "ENVIRONMENT_LOCK_ARTIFACT",
    "ENV_HASH",
    "ENV_MANAGER",
    "EXIT_CODE",
    "GIT_COMMIT",
    "GIT_REPO_URL",
    "LEGACY_GIT_REPO_URL",
    "PARAMS",
    "REPRODUCE_OF",
    "REPRODUCE_RESULT",
    "SEED",
    "SOURCE_DIFF_ARTIFACT",
    "SOURCE_NAME",
    "SOURCE_TYPE",
    "SOURCE_TYPE_PROJECT",
    "STDERR_TAIL",
    "STDERR_TAIL_CHARS",
    "SUBDIRECTORY",
    "URI",
    "VERSION",
]
