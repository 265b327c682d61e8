"""Run a script under the real mlflow in a subprocess, for the evaluate comparisons."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_mlflow_script(folder: Path, script: str, cases: Any, timeout: float) -> dict[str, Any]:
    """Pickle ``cases`` into ``folder``, run ``script cases.pkl out.json`` there, read
    ``out.json``. The environment is clean: a test that ran before in this process may
    have left MLFLOW_TRACKING_URI/MLFLOW_EXPERIMENT_ID behind (mlflow's setters write
    them)."""
    (folder / "cases.pkl").write_bytes(pickle.dumps(cases))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KILN_"))}
    done = subprocess.run(
        [sys.executable, "-c", script, "cases.pkl", "out.json"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads((folder / "out.json").read_text())
    return result
