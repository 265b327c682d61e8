"""Where a project's files come from: a local folder, or a git repository at a version.

A URI is a local path, a ``file://`` URL, or a URL git can clone, optionally with
``#subdir`` naming the project folder inside it. Without ``--version`` a local folder
runs in place (its uncommitted changes included, recorded as a diff); with a version,
or for a remote repository, the repository is cloned into a fresh work folder and that
commit or branch checked out, so the run sees exactly the committed files.

Git is driven through the real ``git`` command (no library), so every repository
layout git understands works here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from kiln.errors import InvalidInput, SourceUnavailable

# A clone lives at <tmp>/kiln-project-XXXX/repo; data_versions recognises checkouts by this layout.
CLONE_PREFIX = "kiln-project-"
CLONE_FOLDER = "repo"


@dataclass(frozen=True, slots=True)
class ProjectSource:
    """A project folder ready to run, and what is known about its version.

    Attributes:
        root: the project folder (``#subdir`` applied), absolute.
        uri: the URI as given.
        subdirectory: the ``#subdir`` part, or None.
        version: the ``--version`` asked for, or None.
        repo_url: the git repository: its absolute ``file://`` URL for a local
            repository, the clone URL for a remote one; None outside git.
        commit: the commit checked out (HEAD), None outside git.
        dirty: the project folder has uncommitted changes (always False for a clone).
        diff: those changes as ``git apply``-able bytes (untracked files included),
            paths relative to the repository root; None when clean.
        work_dir: the temporary clone to delete afterwards; None when run in place.
    """

    root: Path
    uri: str
    subdirectory: str | None
    version: str | None
    repo_url: str | None
    commit: str | None
    dirty: bool
    diff: bytes | None
    work_dir: Path | None

    @property
    def source_name(self) -> str:
        """What ``mlflow.source.name`` records: the repository (or folder) and subdir."""
        base = self.repo_url or self.root.as_uri()
        return f"{base}#{self.subdirectory}" if self.repo_url and self.subdirectory else base


def split_uri(uri: str) -> tuple[str, str | None]:
    """``"repo#sub/dir"`` -> ``("repo", "sub/dir")``.

    Raises:
        InvalidInput: the subdirectory is absolute or climbs out with ``..``.
    """
    if not uri.strip():
        raise InvalidInput("the project URI is empty; pass a folder such as . or a git URL")
    base, sep, sub = uri.partition("#")
    if not sep or not sub.strip("/"):
        return base, None
    sub = sub.strip("/")
    if sub.startswith("/") or ".." in Path(sub).parts:
        raise InvalidInput(f"the subdirectory {sub!r} in {uri!r} must stay inside the repository")
    return base, sub


def local_path(base: str) -> Path | None:
    """The local folder a URI names (a path or ``file://`` URL), or None for a remote URL."""
    parsed = urlparse(base)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # "C:" is a drive letter, not a scheme
        return None
    if "@" in base and ":" in base.split("@", 1)[1] and not Path(base).exists():
        return None  # scp-like git URL: git@host:org/repo.git
    return Path(base).expanduser()


def _git(
    args: Sequence[str], cwd: Path, *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise SourceUnavailable(
            "git is not installed, and it is needed to run a project from a git repository "
            "or at a --version; install git"
        ) from None
    if check and done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise SourceUnavailable(
            f"git {' '.join(args[:2])} failed in {str(cwd)!r}: "
            f"{message[-1] if message else 'exit code ' + str(done.returncode)}"
        )
    return done


def repository_root(folder: Path) -> Path | None:
    """The top of the git working tree containing ``folder``, or None."""
    if shutil.which("git") is None:
        return None
    done = _git(["rev-parse", "--show-toplevel"], folder, check=False)
    if done.returncode != 0:
        return None
    return Path(done.stdout.decode().strip()).resolve()


def head_commit(repo: Path) -> str | None:
    """The commit checked out in ``repo`` (None before the first commit)."""
    done = _git(["rev-parse", "--verify", "-q", "HEAD"], repo, check=False)
    text = done.stdout.decode().strip()
    return text if done.returncode == 0 and text else None


def uncommitted_diff(folder: Path, repo: Path) -> bytes:
    """The changes to ``folder`` since HEAD as a patch ``git apply`` takes at ``repo``.

    Tracked changes come from ``git diff --binary HEAD``; untracked files that are not
    ignored are added as new files, so applying the patch to a clean checkout of the
    same commit gives back the exact tree that ran. Empty when the folder is clean.
    """
    parts = [_git(["diff", "--binary", "HEAD", "--", "."], folder).stdout]
    listed = _git(
        ["ls-files", "--others", "--exclude-standard", "--full-name", "-z", "--", "."], folder
    )
    for name in sorted(filter(None, listed.stdout.decode().split("\0"))):
        # --no-index exits 1 when the files differ, which they always do here.
        parts.append(
            _git(
                ["diff", "--binary", "--no-index", "--", "/dev/null", name], repo, check=False
            ).stdout
        )
    return b"".join(parts)


def apply_diff(repo: Path, diff: bytes) -> None:
    """Apply a patch made by ``uncommitted_diff`` to a checkout at ``repo``.

    Raises:
        SourceUnavailable: the patch does not apply (the checkout is not at its commit).
    """
    if not diff:
        return
    with tempfile.NamedTemporaryFile(suffix=".diff", delete=False) as handle:
        handle.write(diff)
    try:
        _git(["apply", "--whitespace=nowarn", handle.name], repo)
    finally:
        Path(handle.name).unlink(missing_ok=True)


def _clone(url: str, version: str | None, work_dir: Path) -> Path:
    checkout = work_dir / CLONE_FOLDER
    _git(["clone", "--quiet", "--no-checkout", url, str(checkout)], work_dir)
    target = version or "HEAD"
    done = _git(["checkout", "--quiet", target], checkout, check=False)
    if done.returncode != 0:
        raise InvalidInput(
            f"version {target!r} is not a commit or branch of {url!r}; list them with "
            "`git log --oneline` or `git branch -a` in the repository"
        )
    return checkout


@contextmanager
def checkout_project(
    uri: str, *, version: str | None = None, work_root: Path | None = None
) -> Iterator[ProjectSource]:
    """The project named by ``uri``, checked out at ``version``, for the ``with`` block.

    A temporary clone (made for ``version`` or a remote URL) is deleted on exit.

    Raises:
        InvalidInput: the folder, the subdirectory or the version does not exist, or
            ``version`` is given for a folder that is not in a git repository.
        SourceUnavailable: git is missing or failed.
    """
    base, sub = split_uri(uri)
    local = local_path(base)
    if local is not None:
        local = local.resolve()
        if not local.is_dir():
            raise InvalidInput(f"project folder {str(local)!r} does not exist")
    repo = None if local is None else repository_root(local)
    if local is not None and version is None:
        root = local / sub if sub else local
        yield _in_place(uri, sub, root, repo)
        return
    if local is not None and repo is None:
        raise InvalidInput(
            f"--version {version} needs a git repository, but {str(local)!r} is not in one; "
            "drop --version to run the folder as it is"
        )
    url = base if local is None else str(repo)
    # A local folder inside a repository: the project is that folder within the clone.
    inner = None if local is None or repo is None else local.relative_to(repo).as_posix()
    subdirectory = "/".join(p for p in (inner, sub) if p and p != ".") or None
    work_dir = Path(tempfile.mkdtemp(prefix=CLONE_PREFIX, dir=work_root))
    try:
        checkout = _clone(url, version, work_dir)
        root = checkout / subdirectory if subdirectory else checkout
        if not root.is_dir():
            raise InvalidInput(
                f"{subdirectory!r} is not a folder in {url!r} at {version or 'HEAD'}"
            )
        yield ProjectSource(
            root=root.resolve(),
            uri=uri,
            subdirectory=subdirectory,
            version=version,
            repo_url=repo.as_uri() if repo is not None else base,
            commit=head_commit(checkout),
            dirty=False,
            diff=None,
            work_dir=work_dir,
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _in_place(uri: str, sub: str | None, root: Path, repo: Path | None) -> ProjectSource:
    if not root.is_dir():
        raise InvalidInput(f"project folder {str(root)!r} does not exist")
    commit = None if repo is None else head_commit(repo)
    diff = uncommitted_diff(root, repo) if repo is not None and commit is not None else b""
    subdirectory = sub if repo is None else root.resolve().relative_to(repo).as_posix()
    return ProjectSource(
        root=root,
        uri=uri,
        subdirectory=None if subdirectory in (None, ".") else subdirectory,
        version=None,
        repo_url=None if repo is None else repo.as_uri(),
        commit=commit,
        dirty=bool(diff),
        diff=diff or None,
        work_dir=None,
    )


__all__ = [
    "ProjectSource",
    "apply_diff",
    "checkout_project",
    "head_commit",
    "local_path",
    "repository_root",
    "split_uri",
    "uncommitted_diff",
]
