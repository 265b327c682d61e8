"""MLflow's system tags, and how ``start_run`` resolves them for the current process.

The keys are MLflow's, so runs logged with Kiln look the same in MLflow's UI.
Resolution never fails: a missing user name, script or git checkout just leaves
the tag out (or uses MLflow's placeholder).
"""

from __future__ import annotations

import getpass
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from kiln.entities import PARENT_RUN_ID_TAG, RUN_NAME_TAG, USER_TAG

RUN_NAME = RUN_NAME_TAG
USER = USER_TAG
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
PARENT_RUN_ID = PARENT_RUN_ID_TAG
NOTE = "mlflow.note.content"

SOURCE_TYPE_LOCAL = "LOCAL"
_GIT_TIMEOUT_S = 2.0


def current_user() -> str:
    """The login name, or ``"unknown"`` when the platform cannot tell (as MLflow)."""
    try:
        return getpass.getuser()
    except Exception:  # getpass raises OSError or KeyError depending on the platform
        return "unknown"


def source_name(argv: Sequence[str] | None = None) -> str:
    """The script being run (``argv[0]``), or ``"<console>"`` in an interactive shell."""
    argv = sys.argv if argv is None else argv
    return argv[0] if argv and argv[0] else "<console>"


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    loose = git_dir / ref
    if loose.is_file():
        return loose.read_text(encoding="utf-8").strip() or None
    packed = git_dir / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref and not line.startswith(("#", "^")):
                return sha.strip()
    return None


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                target = Path(text.partition(":")[2].strip())
                return target if target.is_absolute() else (folder / target).resolve()
    return None


def _read_head(git_dir: Path) -> str | None:
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if not head.startswith("ref:"):
        return head or None  # detached HEAD holds the commit itself
    ref = head.partition(":")[2].strip()
    commit = _resolve_ref(git_dir, ref)
    if commit is None:
        # Linked worktrees keep branch refs in the main repository ("commondir").
        common = git_dir / "commondir"
        if common.is_file():
            common_dir = (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
            commit = _resolve_ref(common_dir, ref)
    return commit


def git_commit(path: Path) -> str | None:
    """The commit checked out in the git repository containing ``path``, if any.

    Reads ``.git`` directly (no subprocess in the common case); falls back to
    ``git rev-parse HEAD`` with a short timeout for layouts it does not understand.
    Returns None outside a repository, before the first commit, or when git is
    missing; never raises.
    """
    start = path if path.is_dir() else path.parent
    try:
        git_dir = _find_git_dir(start.resolve())
        if git_dir is None:
            return None
        commit = _read_head(git_dir)
        if commit is not None:
            return commit
    except (OSError, UnicodeDecodeError):
        pass
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=start,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def resolve_system_tags(
    user_tags: Mapping[str, str],
    argv: Sequence[str] | None = None,
) -> dict[str, str]:
    """System tags for a new run, overridden by any tag the user passed.

    Args:
        user_tags: tags given to ``start_run``; they win over resolved values.
        argv: the command line (defaults to ``sys.argv``).

    Returns:
        ``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type`` and, inside a
        git checkout, ``mlflow.source.git.commit``, merged with ``user_tags``.
    """
    name = source_name(argv)
    tags = {USER: current_user(), SOURCE_NAME: name, SOURCE_TYPE: SOURCE_TYPE_LOCAL}
    script = Path(name)
    commit = git_commit(script if script.exists() else Path.cwd())
    if commit is not None:
        tags[GIT_COMMIT] = commit
    tags.update(user_tags)
    return tags


__all__ = [
    "GIT_COMMIT",
    "NOTE",
    "PARENT_RUN_ID",
    "RUN_NAME",
    "SOURCE_NAME",
    "SOURCE_TYPE",
    "SOURCE_TYPE_LOCAL",
    "USER",
    "current_user",
    "git_commit",
    "resolve_system_tags",
    "source_name",
]
