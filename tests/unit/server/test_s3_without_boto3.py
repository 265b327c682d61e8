"""Listing a run's ``s3://`` artifacts on a server without boto3 is a 400 that names the
extra to install, not a 500 (an ImportError reached the server's error handler).

The server runs in a child interpreter where ``import boto3`` fails, as on an
install without the ``s3`` extra; this interpreter keeps its boto3.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.modules["boto3"] = None  # import boto3 raises ImportError, as when not installed
    from kiln.config import Settings
    from kiln.server.app import create_app
    from kiln.store.artifacts.local import LocalArtifactStore
    from kiln.store.memory.tracking import open_memory_store
    from kiln.testing.server import asgi_client

    root = sys.argv[1]
    app = create_app(
        Settings(home=root, tracking_uri="unused"),
        store=open_memory_store(artifact_root="s3://bucket/prefix", workspace="default"),
        destination=LocalArtifactStore(root + "/artifacts"),
    )
    api = "/api/2.0/mlflow"
    with asgi_client(app, raise_server_exceptions=False) as http:
        run = http.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()
        run_id = run["run"]["info"]["run_id"]
        answer = http.get(f"{api}/artifacts/list", params={"run_id": run_id})
        print(json.dumps({"status": answer.status_code, "body": answer.json(),
                          "uri": run["run"]["info"]["artifact_uri"]}))
    """
)


def test_listing_s3_artifacts_without_boto3_names_the_extra(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    answer = json.loads(child.stdout.strip().splitlines()[-1])
    assert answer["uri"].startswith("s3://bucket/prefix/")
    assert answer["status"] == 400, answer
    assert answer["body"]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "pip install 'kiln-mlops[s3]'" in answer["body"]["message"]
    assert "Traceback" not in child.stderr
