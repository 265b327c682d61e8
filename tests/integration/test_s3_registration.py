"""Registering an S3-held model checks its MLmodel through the configured endpoint.

``kiln models register`` (and ``RegistryService.register_model``) refuses a source
with no MLmodel file; for an ``s3://`` run that check must read the S3 the
settings name (MinIO, moto), as the artifact upload did, not AWS's default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.config import Settings
from kiln.errors import InvalidInput
from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_registry_store
from kiln.tracking.client import KilnClient

pytestmark = pytest.mark.integration


def _kiln_command() -> list[str]:
    script = shutil.which("kiln", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "kiln.cli.main"]


def _s3_run(uri: str, bucket_uri: str, endpoint: str, tmp_path: Path) -> str:
    """A run whose artifacts live in S3: ``model/MLmodel`` and ``notes/readme.txt``."""
    settings = Settings(home=tmp_path, tracking_uri=uri, s3_endpoint_url=endpoint)
    client = KilnClient.from_uri(uri, settings)
    try:
        experiment_id = client.create_experiment("s3", artifact_location=f"{bucket_uri}/runs")
        run_id = client.create_run(experiment_id).info.run_id
        (tmp_path / "MLmodel").write_text("flavors: {}\n")
        (tmp_path / "readme.txt").write_text("not a model")
        client.log_artifact(run_id, str(tmp_path / "MLmodel"), "model")
        client.log_artifact(run_id, str(tmp_path / "readme.txt"), "notes")
    finally:
        client.close()
    return run_id


def test_the_service_checks_an_s3_source_through_its_endpoint(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    run_id = _s3_run(uri, s3_bucket_uri, s3_endpoint, tmp_path)
    client = KilnClient.from_uri(uri, Settings(home=tmp_path, tracking_uri=uri))
    try:
        service = RegistryService(
            open_registry_store(uri, workspace="default"),
            tracking=client.store,
            artifact_options=ArtifactOptions(s3_endpoint_url=s3_endpoint),
        )
        assert service.register_model(f"runs:/{run_id}/model", "m").version == 1
        with pytest.raises(
            InvalidInput, match=r"holds no model: there is no MLmodel file at 's3://"
        ):
            service.register_model(f"runs:/{run_id}/notes", "m")
    finally:
        client.close()


def test_kiln_models_register_honours_mlflow_s3_endpoint_url(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    run_id = _s3_run(uri, s3_bucket_uri, s3_endpoint, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "KILN_S3_ENDPOINT_URL"}
    env.update(MLFLOW_S3_ENDPOINT_URL=s3_endpoint, MLFLOW_TRACKING_URI=uri, KILN_HOME=str(tmp_path))

    def register(path: str) -> subprocess.CompletedProcess[str]:
        command = [*_kiln_command(), "models", "register", f"runs:/{run_id}/{path}", "m"]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    kept = register("model")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "Registered m version 1" in kept.stdout
    refused = register("notes")
    assert refused.returncode != 0
    assert "holds no model: there is no MLmodel file at 's3://" in refused.stdout + refused.stderr
