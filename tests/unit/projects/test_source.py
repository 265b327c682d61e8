"""Project sources: folders in place, git repositories, #subdir, --version, dirty trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.errors import InvalidInput
from kiln.projects.source import apply_diff, checkout_project, split_uri
from kiln.testing.projects import commit, git, git_repo


def test_split_uri() -> None:
    assert split_uri("repo#sub/dir/") == ("repo", "sub/dir")
    assert split_uri("file:///x/repo") == ("file:///x/repo", None)
    assert split_uri("repo#") == ("repo", None)
    with pytest.raises(InvalidInput, match="must stay inside the repository"):
        split_uri("repo#../etc")


def test_plain_folder_runs_in_place(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    with checkout_project(str(tmp_path)) as source:
        assert source.root == tmp_path.resolve()
        assert (source.commit, source.repo_url, source.dirty, source.work_dir) == (
            None,
            None,
            False,
            None,
        )


def test_clean_repository_in_place_records_its_commit(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"proj/train.py": "print(1)\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    with checkout_project(f"{repo.as_uri()}#proj") as source:
        assert source.root == repo.resolve() / "proj"
        assert source.commit == head
        assert source.repo_url == repo.resolve().as_uri()
        assert source.subdirectory == "proj"
        assert not source.dirty
        assert source.diff is None
        assert source.source_name == f"{repo.resolve().as_uri()}#proj"


def test_dirty_tree_gives_a_diff_that_recreates_it(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"train.py": "print(1)\n", "other/x.txt": "x\n"})
    (repo / "train.py").write_text("print(2)\n")
    (repo / "new.py").write_bytes(b"\x00binary\xff")
    (repo / ".gitignore").write_text("ignored.log\n")
    (repo / "ignored.log").write_text("noise")
    with checkout_project(str(repo)) as source:
        assert source.dirty
        assert source.diff is not None
        diff = source.diff
        assert b"b/ignored.log" not in diff
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    apply_diff(clone, diff)
    for name in ("train.py", "new.py", ".gitignore"):
        assert (clone / name).read_bytes() == (repo / name).read_bytes()
    assert not (clone / "ignored.log").exists()


def test_dirty_flag_covers_only_the_project_folder(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"a/train.py": "1\n", "b/other.py": "1\n"})
    (repo / "b" / "other.py").write_text("2\n")
    with checkout_project(f"{repo}#a") as source:
        assert not source.dirty
    with checkout_project(str(repo / "b")) as source:
        assert source.dirty
        assert source.subdirectory == "b"


def test_version_checks_out_an_older_commit_in_a_temporary_clone(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"proj/v.txt": "one\n"})
    first = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"proj/v.txt": "two\n"})
    git(repo, "branch", "old", first)
    (repo / "proj" / "v.txt").write_text("dirty\n")  # a clone never sees local changes
    for version in (first, first[:10], "old"):
        with checkout_project(f"{repo}#proj", version=version) as source:
            assert (source.root / "v.txt").read_text() == "one\n"
            assert source.commit == first
            assert not source.dirty
            assert source.version == version
            assert source.work_dir is not None
            work_dir = source.work_dir
        assert not work_dir.exists()


def test_version_of_a_subfolder_path(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"proj/v.txt": "one\n"})
    with checkout_project(str(repo / "proj"), version="main") as source:
        assert (source.root / "v.txt").read_text() == "one\n"
        assert source.subdirectory == "proj"


def test_unknown_version_and_missing_subdir(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"v.txt": "one\n"})
    with (
        pytest.raises(InvalidInput, match="version 'nope' is not a commit or branch"),
        checkout_project(str(repo), version="nope"),
    ):
        pass
    with (
        pytest.raises(InvalidInput, match="'sub' is not a folder"),
        checkout_project(f"{repo}#sub", version="main"),
    ):
        pass
    with pytest.raises(InvalidInput, match="does not exist"), checkout_project(f"{repo}#sub"):
        pass


def test_version_needs_a_repository(tmp_path: Path) -> None:
    with (
        pytest.raises(InvalidInput, match="needs a git repository"),
        checkout_project(str(tmp_path), version="main"),
    ):
        pass
