"""``kiln reproduce`` on real projects in throwaway git repositories.

Original runs are made with ``run_project`` in this process (the command is a real
subprocess either way) or with the ``kiln run`` CLI; ``kiln reproduce`` always runs
as a subprocess, since its exit status and its table are what is tested.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kiln.config import Settings
from kiln.entities import Run, RunStatus
from kiln.projects import tags as T
from kiln.projects.runner import ProjectRun
from kiln.projects.runner import run_project as run_with
from kiln.testing.projects import git_repo, kiln_run, write_files
from kiln.tracking.client import KilnClient
from kiln.tracking.datasets import dataset_from


def run_project(uri: str, **kwargs: Any) -> ProjectRun:
    """``kiln.projects.runner.run_project`` with the settings read here, as the CLI does."""
    return run_with(uri, settings=Settings.from_env(), **kwargs)


pytestmark = pytest.mark.integration

# main: a seeded, data-dependent score; noisy: a score from os.urandom on purpose.
PROJECT: Mapping[str, str] = {
    "MLproject": """\
name: reproducible
entry_points:
  main:
    parameters:
      seed: {type: int, default: 7}
      data: {type: path, default: data.csv}
    command: "python train.py --seed {seed} --data {data}"
  noisy:
    command: "python noisy.py"
""",
    "train.py": """\
import argparse
import numpy as np
import kiln

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int)
parser.add_argument("--data")
args = parser.parse_args()
kiln.seed_everything(args.seed)
values = np.loadtxt(args.data, delimiter=",", skiprows=1)
kiln.log_input(args.data, context="training")
noise = np.random.normal(size=values.shape)
kiln.log_metric("score", float((values * noise).sum()))
kiln.log_metric("mean", float(values.mean()))
""",
    "noisy.py": """\
import os
import kiln

kiln.log_metric("score", int.from_bytes(os.urandom(6), "big") / 2**48)
kiln.log_metric("constant", 1.0)
""",
    "data.csv": "x,y\n1,2\n3,4\n5,6\n",
}


def _client() -> KilnClient:
    return KilnClient.from_uri()


def _original(uri: str, **kwargs: object) -> Run:
    done = run_project(uri, stderr=io.BytesIO(), **kwargs)  # type: ignore[arg-type]
    assert done.status is RunStatus.FINISHED, _client().get_run(done.run_id).data.tags
    return _client().get_run(done.run_id)


def _reproduce(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", "reproduce", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


def _verdicts(table: str) -> dict[str, str]:
    """Metric -> pass/FAIL, from the rows of the printed comparison table."""
    rows = (line.split() for line in table.splitlines())
    return {row[0]: row[-1] for row in rows if len(row) > 2 and row[-1] in ("pass", "FAIL")}


def _reproductions(original_id: str) -> list[Run]:
    runs = _client().search_runs(["0"], f"tags.`{T.REPRODUCE_OF}` = '{original_id}'").items
    return list(runs)


def test_deterministic_project_reproduces(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PROJECT)
    made = kiln_run([str(repo), "-P", "seed=11"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (original,) = _client().search_runs(["0"]).items
    assert original.data.tags[T.SEED] == "11"

    done = _reproduce(original.info.run_id, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"Run {original.info.run_id} reproduced as" in done.stdout
    assert "Reproduced: 2 metrics match." in done.stdout
    assert _verdicts(done.stdout) == {"mean": "pass", "score": "pass"}
    (again,) = _reproductions(original.info.run_id)
    assert again.info.run_id != original.info.run_id
    assert again.info.status is RunStatus.FINISHED
    assert again.data.tags[T.REPRODUCE_RESULT] == "pass"
    assert again.data.tags[T.SEED] == "11"
    assert again.data.tags[T.GIT_COMMIT] == original.data.tags[T.GIT_COMMIT]
    assert again.data.tags[T.URI] == original.data.tags[T.URI]
    assert again.data.params == original.data.params
    assert again.data.metrics["score"] == original.data.metrics["score"]
    digests = {i.dataset.digest for r in (original, again) for i in r.inputs.dataset_inputs}
    assert digests == {dataset_from(repo / "data.csv").digest}


def test_reproduction_of_a_reproduction_reproduces(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PROJECT)
    original = _original(str(repo), version="main")  # a temporary clone, deleted afterwards
    first = _reproduce(original.info.run_id, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (again,) = _reproductions(original.info.run_id)
    second = _reproduce(again.info.run_id, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Reproduced" in second.stdout


def test_nondeterministic_project_does_not_reproduce(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PROJECT)
    original = _original(str(repo), entry_point="noisy")

    done = _reproduce(original.info.run_id, cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    assert _verdicts(done.stdout) == {"constant": "pass", "score": "FAIL"}
    assert "Not reproduced: 1 of 2 metrics differ" in done.stdout
    (again,) = _reproductions(original.info.run_id)
    assert again.data.tags[T.REPRODUCE_RESULT] == "fail"


def test_tolerance_decides(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PROJECT)
    original = _original(str(repo), entry_point="noisy")
    done = _reproduce(original.info.run_id, "--tolerance", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # scores lie in [0, 1)


def test_dirty_run_is_refused_without_allow_dirty(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PROJECT)
    write_files(
        repo,
        {
            "train.py": PROJECT["train.py"] + 'kiln.log_metric("extra", 2.5)\n',
            "notes.txt": "an untracked file\n",
        },
    )
    original = _original(str(repo))
    assert original.data.tags[T.DIRTY] == "true"
    assert original.data.metrics["extra"] == 2.5

    refused = _reproduce(original.info.run_id, cwd=tmp_path)
    assert refused.returncode == 2
    assert "uncommitted changes" in refused.stderr
    assert "--allow-dirty" in refused.stderr
    assert _reproductions(original.info.run_id) == []

    allowed = _reproduce(original.info.run_id, "--allow-dirty", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "Reproduced: 3 metrics match." in allowed.stdout
    (again,) = _reproductions(original.info.run_id)
    assert again.data.metrics["extra"] == 2.5
    assert again.data.tags[T.DIRTY] == "true"


def test_changed_data_is_refused(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", PROJECT)
    outside = tmp_path / "shared" / "train.csv"
    outside.parent.mkdir()
    outside.write_text("x,y\n1,2\n", encoding="utf-8")
    original = _original(str(repo), parameters={"data": str(outside)})
    old = dataset_from(outside).digest
    outside.write_text("x,y\n1,2\n9,9\n", encoding="utf-8")
    new = dataset_from(outside).digest

    done = _reproduce(original.info.run_id, cwd=tmp_path)

    assert done.returncode == 4
    message = next(line for line in done.stderr.splitlines() if line.startswith("Error: "))
    assert "dataset 'train'" in message
    assert f"digest {old} recorded, {new} now" in message
    assert _reproductions(original.info.run_id) == []
    outside.write_text("x,y\n1,2\n", encoding="utf-8")  # restored: reproduces again
    assert _reproduce(original.info.run_id, cwd=tmp_path).returncode == 0


def test_run_not_made_by_kiln_run_is_refused(tmp_path: Path) -> None:
    client = _client()
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "score", 1.0)
    done = _reproduce(run_id, cwd=tmp_path)
    assert done.returncode == 2
    assert "was not launched by `kiln run`" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_uv_environment_is_rebuilt_from_the_lock(tmp_path: Path) -> None:
    project = {
        "MLproject": "name: uv-reproduce\npython_env: python_env.yaml\n"
        "entry_points: {main: {command: 'python train.py'}}\n",
        "python_env.yaml": "dependencies:\n  - six==1.16.0\n",
        "train.py": "import random, sys, six\nimport kiln\n"
        "kiln.seed_everything(3)\n"
        "kiln.log_metric('draw', random.random())\n"
        "kiln.log_metric('six_major', float(six.__version__.split('.')[0]))\n"
        "kiln.set_tag('prefix', sys.prefix)\n",
    }
    repo = git_repo(tmp_path / "repo", project)
    made = kiln_run([str(repo), "--env-manager", "uv"], cwd=tmp_path, timeout=280)
    assert made.returncode == 0, made.stderr
    (original,) = _client().search_runs(["0"]).items

    done = _reproduce(original.info.run_id, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "from the lock" in done.stderr
    (again,) = _reproductions(original.info.run_id)
    assert again.data.tags["prefix"] not in (sys.prefix, original.data.tags["prefix"])
    assert again.data.tags[T.ENV_HASH] != original.data.tags[T.ENV_HASH]
    lock = again.data.tags[T.ENV_MANAGER]
    assert lock in ("uv", "virtualenv")
    assert again.data.metrics["draw"] == original.data.metrics["draw"]
