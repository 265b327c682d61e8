"""End to end in real processes: ``kiln server --auth``, ``kiln login``, a Kiln script that
logs with the saved token (REST stores and the artifact proxy), and the official mlflow
client with a token from ``kiln tokens create``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.testing.server_process import kiln_server_process

ADMIN_PASSWORD = "admin-password-1"
KILN = [sys.executable, "-c", "from kiln.cli.main import main; main()"]

SCRIPT = """
import kiln
kiln.set_tracking_uri({url!r})
kiln.set_experiment("saved-token")
with kiln.start_run() as run:
    kiln.log_metric("m", 1.5)
    kiln.log_text("hello", "notes/a.txt")
print(run.info.run_id)
"""

READ_WITH_MLFLOW = """
import sys, mlflow
client = mlflow.MlflowClient({url!r})
run = client.get_run(sys.argv[1])
path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes/a.txt",
                                          tracking_uri={url!r})
print(run.data.metrics["m"], open(path).read())
"""


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_a_login_serves_kiln_scripts_and_a_token_serves_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILN_AUTH", "true")
    monkeypatch.setenv("KILN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    (tmp_path / "server").mkdir()
    with kiln_server_process(tmp_path / "server") as url:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MLFLOW_", "KILN_")) or k == "KILN_DEBUG"
        }
        env["KILN_HOME"] = str(tmp_path / "client")
        env["HOME"] = str(tmp_path)
        login = [*KILN, "login", url, "-u", "admin", "--password-stdin"]
        said = _run(login, env, ADMIN_PASSWORD + "\n")
        assert "Logged in" in said
        assert f"KILN_TRACKING_URI={url}" in said  # the default tracking URI is not the server
        run_id = _run([sys.executable, "-c", SCRIPT.format(url=url)], env).strip()
        listed = _run([*KILN, "--tracking-uri", url, "runs", "list", "--experiment-name",
                       "saved-token", "--output", "json"], env)  # fmt: skip
        assert [(r["run_id"], r["metrics.m"]) for r in json.loads(listed)] == [(run_id, 1.5)]
        token = _run([*KILN, "--tracking-uri", url, "tokens", "create", "--role", "viewer"], env)
        reader = {**env, "MLFLOW_TRACKING_TOKEN": token.strip()}
        out = _run([sys.executable, "-c", READ_WITH_MLFLOW.format(url=url), run_id], reader)
        assert out.split() == ["1.5", "hello"]
        # without credentials the same read is refused
        refused = subprocess.run(
            [sys.executable, "-c", READ_WITH_MLFLOW.format(url=url), run_id],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert refused.returncode != 0
        assert "401" in refused.stderr or "UNAUTHENTICATED" in refused.stderr
