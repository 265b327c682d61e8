"""System tags resolved by start_run: user, source, git commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kiln.tracking.system_tags import (
    GIT_COMMIT,
    SOURCE_NAME,
    SOURCE_TYPE,
    USER,
    current_user,
    git_commit,
    resolve_system_tags,
    source_name,
)

SHA_A = "a" * 40
SHA_B = "b" * 40


def _fake_repo(root: Path, head: str) -> Path:
    git_dir = root / ".git"
    (git_dir / "refs" / "heads").mkdir(parents=True)
    (git_dir / "HEAD").write_text(head, encoding="utf-8")
    return git_dir


def test_loose_branch_ref(tmp_path: Path) -> None:
    git_dir = _fake_repo(tmp_path, "ref: refs/heads/main\n")
    (git_dir / "refs" / "heads" / "main").write_text(SHA_A + "\n", encoding="utf-8")
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    assert git_commit(nested) == SHA_A


def test_packed_ref_and_detached_head(tmp_path: Path) -> None:
    git_dir = _fake_repo(tmp_path, "ref: refs/heads/feature\n")
    (git_dir / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted\n{SHA_B} refs/heads/feature\n",
        encoding="utf-8",
    )
    assert git_commit(tmp_path) == SHA_B
    (git_dir / "HEAD").write_text(SHA_A + "\n", encoding="utf-8")
    assert git_commit(tmp_path / "file.py") == SHA_A


def test_worktree_gitdir_file(tmp_path: Path) -> None:
    main_git = _fake_repo(tmp_path / "main", "ref: refs/heads/main\n")
    (main_git / "refs" / "heads" / "wt").write_text(SHA_B, encoding="utf-8")
    worktree_git = main_git / "worktrees" / "wt"
    worktree_git.mkdir(parents=True)
    (worktree_git / "HEAD").write_text("ref: refs/heads/wt\n", encoding="utf-8")
    (worktree_git / "commondir").write_text("../..\n", encoding="utf-8")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {worktree_git}\n", encoding="utf-8")
    assert git_commit(checkout) == SHA_B


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_real_repository(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    (tmp_path / "train.py").write_text("print(1)\n", encoding="utf-8")
    git("add", "train.py")
    git("commit", "-q", "-m", "first")
    assert git_commit(tmp_path / "train.py") == git("rev-parse", "HEAD")


def test_outside_any_repository(tmp_path: Path) -> None:
    # tmp_path lives under the system temp folder, which is not in a git checkout
    assert git_commit(tmp_path) is None


def test_empty_repository_has_no_commit(tmp_path: Path) -> None:
    _fake_repo(tmp_path, "ref: refs/heads/main\n")
    assert git_commit(tmp_path) is None


def test_source_name_and_user() -> None:
    assert source_name(["/srv/train.py", "--epochs", "3"]) == "/srv/train.py"
    assert source_name([]) == "<console>"
    assert current_user()


def test_resolve_system_tags_user_tags_win(tmp_path: Path) -> None:
    git_dir = _fake_repo(tmp_path, SHA_A)
    assert git_dir.is_dir()
    script = tmp_path / "train.py"
    script.write_text("", encoding="utf-8")
    tags = resolve_system_tags({USER: "ci-bot", "team": "ml"}, argv=[str(script)])
    assert tags[USER] == "ci-bot"
    assert tags["team"] == "ml"
    assert tags[SOURCE_NAME] == str(script)
    assert tags[SOURCE_TYPE] == "LOCAL"
    assert tags[GIT_COMMIT] == SHA_A
