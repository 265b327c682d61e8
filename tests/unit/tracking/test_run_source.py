"""Where a run came from and the commands that run it again (kiln.tracking.run_source)."""

from __future__ import annotations

import shlex

from kiln.entities import Run, RunData, RunInfo, RunStatus
from kiln.projects import tags as T
from kiln.tracking import run_source as S
from kiln.tracking.run_source import run_source, split_tags

RUN_ID = "0123456789abcdef0123456789abcdef"


def _run(tags: dict[str, str], params: dict[str, str] | None = None) -> Run:
    info = RunInfo(RUN_ID, "1", "r", "ada", RunStatus.FINISHED, 1, 2, "file:///a")
    return Run(info, RunData(params=params or {}, tags=tags))


def test_the_tag_names_are_the_project_launchers() -> None:
    assert (S.SOURCE_TYPE, S.SOURCE_NAME, S.GIT_COMMIT) == (
        T.SOURCE_TYPE,
        T.SOURCE_NAME,
        T.GIT_COMMIT,
    )
    assert (S.GIT_REPO_URL, S.LEGACY_GIT_REPO_URL) == (T.GIT_REPO_URL, T.LEGACY_GIT_REPO_URL)
    assert (S.ENTRY_POINT, S.PROJECT_PARAMS, S.ENV_MANAGER) == (
        T.ENTRY_POINT,
        T.PARAMS,
        T.ENV_MANAGER,
    )
    assert (S.DIRTY, S.SOURCE_TYPE_PROJECT) == (T.DIRTY, T.SOURCE_TYPE_PROJECT)


def test_a_kiln_project_run_gets_reproduce_and_an_exact_run_command() -> None:
    source = run_source(
        _run(
            {
                T.SOURCE_TYPE: "PROJECT",
                T.SOURCE_NAME: "file:///srv/repo#wine",
                T.GIT_COMMIT: "abc",
                T.GIT_REPO_URL: "file:///srv/repo",
                T.ENTRY_POINT: "train",
                T.ENV_MANAGER: "uv",
                T.DIRTY: "true",
                T.PARAMS: '{"b": "x y", "a": "1", "c": "$(rm -rf /)"}',
            },
            params={"ignored": "because the recorded params win"},
        )
    )
    assert source.reproduce == f"kiln reproduce {RUN_ID} --allow-dirty"
    assert source.dirty
    assert source.rerun is not None
    lines = source.rerun.split(" \\\n  ")
    assert lines == [
        "kiln run 'file:///srv/repo#wine'",
        "-e train",
        "-v abc",
        "--env-manager uv",
        "-P a=1",
        "-P 'b=x y'",
        "-P 'c=$(rm -rf /)'",
    ]
    words = shlex.split(source.rerun.replace("\\\n", ""))
    assert words[-2:] == ["-P", "c=$(rm -rf /)"]  # the shell reads it back word for word


def test_an_mlflow_project_run_reruns_with_its_params_and_cannot_be_reproduced() -> None:
    source = run_source(
        _run(
            {T.SOURCE_TYPE: "PROJECT", T.SOURCE_NAME: "https://github.com/org/proj"},
            params={"alpha": "0.1"},
        )
    )
    assert source.reproduce is None
    assert source.rerun == "kiln run https://github.com/org/proj -e main -P alpha=0.1"


def test_a_script_run_has_a_source_but_no_commands() -> None:
    source = run_source(
        _run({T.SOURCE_TYPE: "LOCAL", T.SOURCE_NAME: "train.py", T.GIT_COMMIT: "f"})
    )
    assert (source.source_type, source.source_name, source.git_commit) == ("LOCAL", "train.py", "f")
    assert source.reproduce is None
    assert source.rerun is None
    bare = run_source(_run({}))
    assert bare.source_name is None
    assert bare.rerun is None
    assert not bare.dirty


def test_a_bad_params_tag_still_gives_a_run_command_from_the_run_params() -> None:
    tags = {T.SOURCE_TYPE: "PROJECT", T.SOURCE_NAME: "/p", T.GIT_COMMIT: "c", T.GIT_REPO_URL: "/p"}
    for raw in ("not json", "[1, 2]"):
        source = run_source(_run({**tags, T.PARAMS: raw}, params={"k": "v"}))
        assert source.reproduce is None
        assert source.rerun == "kiln run /p -e main -v c -P k=v"


def test_split_tags_folds_system_tags_away_in_key_order() -> None:
    user, system = split_tags({"z": "1", "mlflow.user": "a", "kiln.seed": "3", "a": "2"})
    assert list(user) == ["a", "z"]
    assert list(system) == ["kiln.seed", "mlflow.user"]
