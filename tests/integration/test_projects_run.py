"""``kiln run`` on real example projects in throwaway git repositories.

Most tests call ``run_project`` in this process (the command itself is always a real
subprocess); the CLI is run as a subprocess where its exit status, its output or a
signal sent to it is what is tested.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kiln.config import Settings
from kiln.entities import RunStatus
from kiln.errors import EnvironmentUnavailable, InvalidInput, NotFound
from kiln.projects import tags as T
from kiln.projects.runner import ProjectRun
from kiln.projects.runner import run_project as run_with
from kiln.testing.projects import (
    ECHO_SCRIPT,
    FAILING_PROJECT,
    HANGING_PROJECT,
    OUTPUT_ENV,
    PARAMS_PROJECT,
    TRACKED_PROJECT,
    commit,
    git,
    git_repo,
    kiln_run,
    write_files,
)
from kiln.tracking.client import KilnClient


def run_project(uri: str, **kwargs: Any) -> ProjectRun:
    """``kiln.projects.runner.run_project`` with the settings read here, as the CLI does."""
    return run_with(uri, settings=Settings.from_env(), **kwargs)


pytestmark = pytest.mark.integration


@pytest.fixture
def output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the example scripts report into (they read KILN_TEST_OUTPUT)."""
    path = tmp_path / "output.json"
    monkeypatch.setenv(OUTPUT_ENV, str(path))
    return path


def _client() -> KilnClient:
    return KilnClient.from_uri()


def _quiet() -> io.BytesIO:
    return io.BytesIO()


def test_params_reach_the_script_typed_quoted_and_tracked(tmp_path: Path, output: Path) -> None:
    repo = git_repo(tmp_path / "repo", PARAMS_PROJECT)
    marker = tmp_path / "pwned"
    hostile = f"x'; touch {marker}; echo '$(touch {marker})"
    result = run_project(
        str(repo),
        parameters={"alpha": "0.5", "name": hostile, "batch-size": "32"},
        experiment_name="params",
        run_name="first",
        stderr=_quiet(),
    )
    assert result.status is RunStatus.FINISHED
    assert result.exit_code == 0
    assert not marker.exists()
    seen = json.loads(output.read_text())
    data = str(repo.resolve() / "data.csv")
    assert seen["argv"] == [
        "--alpha", "0.5", "--epochs", "3", "--name", hostile, "--data", data,
        "--batch-size", "32",
    ]  # fmt: skip
    assert seen["cwd"] == str(repo.resolve())
    assert seen["env"]["KILN_RUN_ID"] == seen["env"]["MLFLOW_RUN_ID"] == result.run_id
    assert seen["env"]["KILN_EXPERIMENT_ID"] == seen["env"]["MLFLOW_EXPERIMENT_ID"]
    assert seen["env"]["KILN_EXPERIMENT_ID"] == result.experiment_id
    assert seen["env"]["KILN_TRACKING_URI"].startswith("sqlite:///")
    # MLflow's client must not run its migrations on Kiln's SQLite file.
    assert seen["env"]["MLFLOW_TRACKING_URI"] is None

    client = _client()
    run = client.get_run(result.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "params"
    assert run.info.run_name == "first"
    assert run.info.status is RunStatus.FINISHED
    recorded = {"alpha": "0.5", "epochs": "3", "name": hostile, "data": "data.csv",
                "batch-size": "32"}  # fmt: skip
    assert run.data.params == recorded
    tags = run.data.tags
    assert json.loads(tags[T.PARAMS]) == recorded
    head = git(repo, "rev-parse", "HEAD").strip()
    assert tags[T.SOURCE_TYPE] == "PROJECT"
    assert tags[T.SOURCE_NAME] == repo.resolve().as_uri()
    assert tags[T.GIT_COMMIT] == head
    assert tags[T.GIT_REPO_URL] == tags[T.LEGACY_GIT_REPO_URL] == repo.resolve().as_uri()
    assert tags[T.ENTRY_POINT] == "main"
    assert tags[T.ENV] == tags[T.ENV_MANAGER] == "local"
    assert tags[T.BACKEND] == "local"
    assert tags[T.URI] == str(repo)
    assert tags[T.DIRTY] == "false"
    assert tags[T.COMMAND].startswith("python echo.py --alpha 0.5 --epochs 3 --name ")
    assert T.SUBDIRECTORY not in tags
    assert T.VERSION not in tags
    assert T.EXIT_CODE not in tags
    artifacts = [f.path for f in client.list_artifacts(result.run_id, "kiln")]
    assert artifacts == [T.ENVIRONMENT_LOCK_ARTIFACT]
    lock = Path(client.download_artifacts(result.run_id, T.ENVIRONMENT_LOCK_ARTIFACT))
    assert lock.read_text().startswith("# python ")


def test_parameter_errors_name_the_parameter(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PARAMS_PROJECT)
    with pytest.raises(InvalidInput, match=r"required parameter\(s\) 'alpha'"):
        run_project(str(repo))
    with pytest.raises(InvalidInput, match=r"parameter 'alpha' .* has type float, but got 'abc'"):
        run_project(str(repo), parameters={"alpha": "abc"})
    with pytest.raises(InvalidInput, match=r"parameter 'epochs' .* has type int"):
        run_project(str(repo), parameters={"alpha": "1", "epochs": "many"})
    with pytest.raises(InvalidInput, match=r"parameter 'target' .* has type uri"):
        run_project(str(repo), entry_point="where", parameters={"target": "plain"})
    with pytest.raises(InvalidInput, match=r"no entry point 'nope'"):
        run_project(str(repo), entry_point="nope")
    assert list(_client().search_runs(["0"])) == []  # nothing was started


def test_tracking_uri_of_an_mlruns_folder_is_passed_to_mlflow(tmp_path: Path, output: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"echo.py": ECHO_SCRIPT})
    store = (tmp_path / "mlruns").as_uri()
    result = run_project(str(repo), entry_point="echo.py", tracking_uri=store, stderr=_quiet())
    env = json.loads(output.read_text())["env"]
    assert env["MLFLOW_TRACKING_URI"] == env["KILN_TRACKING_URI"] == store
    run = KilnClient.from_uri(store).get_run(result.run_id)
    assert run.info.status is RunStatus.FINISHED


def test_folder_without_mlproject_runs_scripts_with_params_appended(
    tmp_path: Path, output: Path
) -> None:
    folder = tmp_path / "plain"
    write_files(folder, {"train.py": ECHO_SCRIPT, "run.sh": 'echo "$@" > "$KILN_TEST_OUTPUT"\n'})
    result = run_project(
        str(folder), entry_point="train.py", parameters={"epochs": "3", "x": "a b"},
        stderr=_quiet(),
    )  # fmt: skip
    assert json.loads(output.read_text())["argv"] == ["--epochs", "3", "--x", "a b"]
    tags = _client().get_run(result.run_id).data.tags
    assert tags[T.COMMAND] == "python train.py --epochs 3 --x 'a b'"
    assert T.GIT_COMMIT not in tags
    run_project(str(folder), entry_point="run.sh", parameters={"k": "v"}, stderr=_quiet())
    assert output.read_text() == "--k v\n"


def test_subdir_and_version_run_an_older_commit(tmp_path: Path, output: Path) -> None:
    project = {"proj/MLproject": "entry_points: {main: {command: 'python echo.py'}}",
               "proj/echo.py": ECHO_SCRIPT, "proj/version.txt": "one"}  # fmt: skip
    repo = git_repo(tmp_path / "repo", project)
    first = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, {"proj/version.txt": "two"})
    result = run_project(f"{repo.as_uri()}#proj", version=first[:12], stderr=_quiet())
    cwd = Path(json.loads(output.read_text())["cwd"])
    assert cwd.name == "proj"
    assert not cwd.exists()  # the temporary clone is gone
    tags = _client().get_run(result.run_id).data.tags
    assert tags[T.GIT_COMMIT] == first
    assert tags[T.SUBDIRECTORY] == "proj"
    assert tags[T.VERSION] == first[:12]
    assert tags[T.SOURCE_NAME] == f"{repo.resolve().as_uri()}#proj"


def test_dirty_tree_is_flagged_and_its_diff_stored(tmp_path: Path, output: Path) -> None:
    repo = git_repo(tmp_path / "repo", PARAMS_PROJECT)
    (repo / "data.csv").write_text("x,y\n3,4\n")
    (repo / "notes.md").write_text("new file\n")
    result = run_project(str(repo), parameters={"alpha": "1"}, stderr=_quiet())
    client = _client()
    assert client.get_run(result.run_id).data.tags[T.DIRTY] == "true"
    diff = Path(client.download_artifacts(result.run_id, T.SOURCE_DIFF_ARTIFACT)).read_text()
    assert "+3,4" in diff
    assert "+++ b/notes.md" in diff


def test_failing_command_marks_the_run_failed_with_its_stderr(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", FAILING_PROJECT)
    copied = io.BytesIO()
    result = run_project(str(repo), stderr=copied)
    assert (result.status, result.exit_code) == (RunStatus.FAILED, 3)
    assert b"boom: the data is bad" in copied.getvalue()
    run = _client().get_run(result.run_id)
    assert run.info.status is RunStatus.FAILED
    assert run.info.end_time is not None
    assert run.data.tags[T.EXIT_CODE] == "3"
    assert run.data.tags[T.STDERR_TAIL] == "boom: the data is bad\n"


def test_stderr_tail_keeps_the_last_characters(tmp_path: Path) -> None:
    script = "import sys\nsys.stderr.write('a' * 100000 + 'END')\nsys.exit(1)\n"
    repo = git_repo(tmp_path / "repo", {"loud.py": script})
    result = run_project(str(repo), entry_point="loud.py", stderr=_quiet())
    tail = _client().get_run(result.run_id).data.tags[T.STDERR_TAIL]
    assert len(tail) == T.STDERR_TAIL_CHARS
    assert tail.endswith("aaaEND")


@pytest.mark.parametrize("entry_point", ["main", "implicit"])
def test_script_with_import_kiln_logs_into_the_same_run(
    tmp_path: Path, output: Path, entry_point: str
) -> None:
    repo = git_repo(tmp_path / "repo", TRACKED_PROJECT)
    result = run_project(
        str(repo), entry_point=entry_point, experiment_name="joined", stderr=_quiet()
    )
    client = _client()
    # Inside the command the run was still RUNNING after the script ended it: the
    # launcher, not the script, decides the final status.
    assert output.read_text() == "RUNNING"
    run = client.get_run(result.run_id)
    assert run.info.status is RunStatus.FINISHED
    assert "loss" in run.data.metrics
    assert [r.info.run_id for r in client.search_runs([result.experiment_id])] == [result.run_id]
    if entry_point == "main":
        assert run.data.metrics["lr_seen"] == 0.1
        assert run.data.tags["child.run_id"] == result.run_id


def test_script_failing_after_its_run_block_leaves_the_run_failed(
    tmp_path: Path, output: Path
) -> None:
    script = (
        "import kiln\nwith kiln.start_run():\n    kiln.log_metric('m', 1)\nraise SystemExit(4)\n"
    )
    repo = git_repo(tmp_path / "repo", {"train.py": script})
    result = run_project(str(repo), entry_point="train.py", stderr=_quiet())
    run = _client().get_run(result.run_id)
    assert (run.info.status, run.data.metrics["m"]) == (RunStatus.FAILED, 1.0)


def test_experiment_by_id_and_unknown_id(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write_files(folder, {"ok.py": "pass\n"})
    client = _client()
    experiment_id = client.create_experiment("by-id")
    result = run_project(str(folder), entry_point="ok.py", experiment_id=experiment_id)
    assert result.experiment_id == experiment_id
    with pytest.raises(NotFound, match="experiment '999' does not exist"):
        run_project(str(folder), entry_point="ok.py", experiment_id="999")
    with pytest.raises(InvalidInput, match="not both"):
        run_project(str(folder), entry_point="ok.py", experiment_id="0", experiment_name="x")


def test_docker_env_prints_the_command_and_refuses(tmp_path: Path) -> None:
    repo = git_repo(
        tmp_path / "repo",
        {
            "MLproject": "docker_env: {image: 'acme/train:1'}\n"
            "entry_points: {main: {command: 'python train.py {lr}', "
            "parameters: {lr: float}}}\n"
        },
    )
    with pytest.raises(EnvironmentUnavailable, match=r"on a machine with Docker, run: docker run"):
        run_project(str(repo), parameters={"lr": "0.1"})


# the CLI, as a subprocess ---------------------------------------------------------------
def test_cli_exit_codes_summary_and_errors(tmp_path: Path, output: Path) -> None:
    repo = git_repo(tmp_path / "repo", PARAMS_PROJECT)
    done = kiln_run([str(repo), "-P", "alpha=2", "--experiment-name", "cli"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "FINISHED" in done.stderr
    assert "kiln runs show" in done.stderr

    missing = kiln_run([str(repo)], cwd=tmp_path)
    assert missing.returncode == 2
    assert "required parameter(s) 'alpha'" in missing.stderr
    assert "Traceback" not in missing.stderr

    bad = kiln_run([str(repo), "-P", "alpha=abc"], cwd=tmp_path)
    assert bad.returncode == 2
    assert "parameter 'alpha' of entry point 'main' has type float, but got 'abc'" in bad.stderr

    failing = git_repo(tmp_path / "failing", FAILING_PROJECT)
    failed = kiln_run([str(failing)], cwd=tmp_path)
    assert failed.returncode == 1
    assert "some progress" in failed.stdout  # the command's stdout passes through
    assert "boom: the data is bad" in failed.stderr
    assert "FAILED" in failed.stderr


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its new parent


def _wait_for(path: Path, process: subprocess.Popen[str], deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.05)


def test_ctrl_c_kills_the_whole_process_group_and_marks_the_run_killed(
    tmp_path: Path, output: Path
) -> None:
    repo = git_repo(tmp_path / "repo", HANGING_PROJECT)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiln.cli.main", "run", str(repo), "--experiment-name", "hang"],
        cwd=tmp_path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(output, process)
        pids = [int(p) for p in output.read_text().split()]
        assert all(_alive(pid) for pid in pids)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "KILLED" in stderr
    assert not any(_alive(pid) for pid in pids)
    client = _client()
    experiment = client.get_experiment_by_name("hang")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status is RunStatus.KILLED


def test_sigterm_escalates_to_sigkill_for_a_group_that_ignores_it(
    tmp_path: Path, output: Path
) -> None:
    stubborn = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "out = os.environ['KILN_TEST_OUTPUT']\n"
        "with open(out + '.tmp', 'w') as f:\n"
        "    f.write(str(os.getpid()))\n"
        "os.rename(out + '.tmp', out)\n"
        "while True:\n"
        "    time.sleep(1)\n"
    )
    repo = git_repo(tmp_path / "repo", {"stubborn.py": stubborn})

    finished = threading.Event()

    def interrupt() -> None:
        deadline = time.monotonic() + 120
        while not output.exists() and time.monotonic() < deadline and not finished.is_set():
            time.sleep(0.05)
        if output.exists() and not finished.is_set():  # never SIGTERM the test process itself
            os.kill(os.getpid(), signal.SIGTERM)  # as if `kill <kiln run>`

    sender = threading.Thread(target=interrupt)
    sender.start()
    try:
        result = run_project(
            str(repo), entry_point="stubborn.py", grace_seconds=0.5, stderr=_quiet()
        )
    finally:
        finished.set()
        sender.join()
    assert result.status is RunStatus.KILLED
    assert result.exit_code == -signal.SIGKILL
    assert not _alive(int(output.read_text()))
    assert _client().get_run(result.run_id).info.status is RunStatus.KILLED


# a real environment, built with uv ------------------------------------------------------
@pytest.mark.slow
def test_uv_environment_is_built_once_and_reused(tmp_path: Path, output: Path) -> None:
    project = {
        "MLproject": "name: uv-example\npython_env: python_env.yaml\n"
        "entry_points: {main: {command: 'python train.py'}}\n",
        "python_env.yaml": "dependencies:\n  - six==1.16.0\n",
        "train.py": "import os, sys, six\nimport kiln\n"
        "kiln.log_metric('six_major', float(six.__version__.split('.')[0]))\n"
        "open(os.environ['KILN_TEST_OUTPUT'], 'w').write(sys.prefix)\n",
    }
    repo = git_repo(tmp_path / "repo", project)
    first = kiln_run([str(repo), "--env-manager", "uv"], cwd=tmp_path, timeout=280)
    assert first.returncode == 0, first.stderr
    prefix = output.read_text()
    assert prefix != sys.prefix
    second = kiln_run([str(repo)], cwd=tmp_path, timeout=120)  # uv is the default here
    assert second.returncode == 0, second.stderr
    assert "reused environment" in second.stderr
    assert "saved" in second.stderr
    assert output.read_text() == prefix
    client = _client()
    runs = client.search_runs(["0"])
    assert len(runs) == 2
    for run in runs:
        assert run.info.status is RunStatus.FINISHED
        assert run.data.metrics["six_major"] == 1.0
        assert run.data.tags[T.ENV_MANAGER] == "uv"
        assert run.data.tags[T.ENV_HASH]
        lock = client.download_artifacts(run.info.run_id, T.ENVIRONMENT_LOCK_ARTIFACT)
        assert "six==1.16.0" in Path(lock).read_text()
    assert len({r.data.tags[T.ENV_HASH] for r in runs}) == 1


# a script written for MLflow, against a Kiln tracking server ------------------------------
MLFLOW_SCRIPT = """\
import os
import mlflow

assert os.environ["MLFLOW_TRACKING_URI"].startswith("http://")
with mlflow.start_run() as run:
    mlflow.log_metric("acc", 0.9)
    mlflow.log_param("optimizer", "adam")
with open(os.environ["KILN_TEST_OUTPUT"], "w") as out:
    out.write(run.info.run_id)
"""


@pytest.mark.slow
def test_mlflow_script_logs_into_the_run_through_a_kiln_server(
    tmp_path: Path, output: Path
) -> None:
    from kiln.config import Settings
    from kiln.server.app import create_app
    from kiln.testing.server import serve_in_thread

    folder = tmp_path / "plain"
    write_files(folder, {"train.py": MLFLOW_SCRIPT})
    said: list[str] = []
    with serve_in_thread(create_app(Settings.from_env())) as url:
        result = run_project(
            str(folder),
            entry_point="train.py",
            tracking_uri=url,
            stderr=_quiet(),
            progress=said.append,
        )
        reader = KilnClient.from_uri(url)
        try:
            run = reader.get_run(result.run_id)
            # The lock goes through the server's artifact proxy (an mlflow-artifacts: root).
            lock = reader.download_artifacts(
                result.run_id, T.ENVIRONMENT_LOCK_ARTIFACT, tmp_path / "dl"
            )
        finally:
            reader.store.close()  # type: ignore[attr-defined]  # the REST store's pool
    assert not [line for line in said if "not stored" in line]
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert Path(lock).read_text().startswith("# python ")
    assert "mlflow==" in Path(lock).read_text()
    assert output.read_text() == result.run_id
    assert run.info.status is RunStatus.FINISHED
    assert run.data.metrics["acc"] == 0.9
    assert run.data.params["optimizer"] == "adam"
