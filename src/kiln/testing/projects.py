"""Example projects in throwaway git repositories, for the tests of ``kiln run`` and reproduce.

``git_repo(path, files)`` writes files into a new repository and commits them;
``commit(repo, files)`` adds another commit; ``kiln_run(...)`` runs the real
``kiln run`` CLI in a subprocess. The example projects below are file mappings
(path -> text) so a test can change one file before committing.

Scripts in the examples write what they saw (argv, environment) as JSON to the
file named by ``KILN_TEST_OUTPUT``, which the test sets, so the test can check
what reached the command even when it ran in a temporary clone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

OUTPUT_ENV = "KILN_TEST_OUTPUT"
_GIT_IDENTITY = (
    "-c",
    "user.name=Kiln Tests",
    "-c",
    "user.email=tests@kiln.invalid",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
)

# A script that records its argv and the run environment it was given.
ECHO_SCRIPT = """\
import json, os, sys

keys = ("KILN_RUN_ID", "KILN_TRACKING_URI", "KILN_EXPERIMENT_ID", "MLFLOW_RUN_ID",
        "MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_URI")
with open(os.environ["KILN_TEST_OUTPUT"], "w") as out:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
               "env": {k: os.environ.get(k) for k in keys}}, out)
"""

# name: string, alpha: float (required), epochs: int = 3, data: path = data.csv, where: uri.
PARAMS_PROJECT: Mapping[str, str] = {
    "MLproject": """\
name: params-example
entry_points:
  main:
    parameters:
      alpha: float
      epochs: {type: int, default: 3}
      name: {type: string, default: "plain"}
      data: {type: path, default: data.csv}
    command: "python echo.py --alpha {alpha} --epochs {epochs} --name {name} --data {data}"
  where:
    parameters:
      target: uri
    command: "python echo.py {target}"
""",
    "echo.py": ECHO_SCRIPT,
    "data.csv": "x,y\n1,2\n",
}

# Scripts that join the run with ``import kiln``: ``main`` with ``with kiln.start_run()``,
# ``implicit`` by logging straight away (the run starts itself). Both write the run's
# status as seen from inside the command to KILN_TEST_OUTPUT after they are done with it.
TRACKED_PROJECT: Mapping[str, str] = {
    "MLproject": """\
name: tracked-example
entry_points:
  main:
    parameters:
      lr: {type: float, default: 0.1}
    command: "python train.py {lr}"
  implicit:
    command: "python implicit.py"
""",
    "train.py": """\
import os, sys
import kiln

with kiln.start_run() as run:
    kiln.log_metric("loss", 0.25)
    kiln.log_metric("lr_seen", float(sys.argv[1]))
    kiln.set_tag("child.run_id", run.info.run_id)
with open(os.environ["KILN_TEST_OUTPUT"], "w") as out:
    out.write(kiln.get_run(run.info.run_id).info.status.value)
""",
    "implicit.py": """\
import os
import kiln

kiln.log_metric("loss", 0.5)
run_id = kiln.active_run().info.run_id
kiln.end_run()
with open(os.environ["KILN_TEST_OUTPUT"], "w") as out:
    out.write(kiln.get_run(run_id).info.status.value)
""",
}

# A command that fails after writing to stderr.
FAILING_PROJECT: Mapping[str, str] = {
    "MLproject": """\
name: failing-example
entry_points:
  main:
    command: "python fail.py"
""",
    "fail.py": """\
import sys
print("some progress", flush=True)
print("boom: the data is bad", file=sys.stderr, flush=True)
sys.exit(3)
""",
}

# A command that starts a grandchild, says it started, and then waits forever.
# Both write their pid under KILN_TEST_OUTPUT's folder so a test can check they died.
HANGING_PROJECT: Mapping[str, str] = {
    "MLproject": """\
name: hanging-example
entry_points:
  main:
    command: "python hang.py"
""",
    "hang.py": """\
import os, subprocess, sys, time
out = os.environ["KILN_TEST_OUTPUT"]
child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)"])
with open(out + ".pids", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.rename(out + ".pids", out)  # the test waits for this file: both pids are in it
while True:
    time.sleep(1)
""",
}


def git(repo: Path, *args: str) -> str:
    """Run ``git`` in ``repo`` with a fixed test identity; return its stdout."""
    done = subprocess.run(
        ["git", *_GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def write_files(folder: Path, files: Mapping[str, str]) -> None:
    """Write each ``path -> text`` under ``folder`` (parents created)."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def commit(repo: Path, files: Mapping[str, str], message: str = "change") -> str:
    """Write ``files`` into ``repo``, commit everything, and return the new commit."""
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def git_repo(path: Path, files: Mapping[str, str], message: str = "initial") -> Path:
    """A new git repository at ``path`` (on branch main) with ``files`` committed."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    commit(path, files, message)
    return path


def kiln_run(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``kiln run ARGS`` as a subprocess of this interpreter, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", "run", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


__all__ = [
    "ECHO_SCRIPT",
    "FAILING_PROJECT",
    "HANGING_PROJECT",
    "OUTPUT_ENV",
    "PARAMS_PROJECT",
    "TRACKED_PROJECT",
    "commit",
    "git",
    "git_repo",
    "kiln_run",
    "write_files",
]
