"""``kiln demo --no-wait`` as a real subprocess: the taxi example trained, registered,
served and queried on the embedded store, then the store read back."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import kiln
from kiln.config import default_tracking_uri
from kiln.entities import RunStatus
from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_registry_store
from kiln.tracking.client import KilnClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _kiln_command() -> list[str]:
    script = shutil.which("kiln", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "kiln.cli.main"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("demo-home")
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env.update(KILN_HOME=str(home), COLUMNS="200")
    done = subprocess.run(
        [*_kiln_command(), "demo", "--no-wait"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return home, done.stdout


def test_demo_prints_predictions_and_where_to_look(demo_home: tuple[Path, str]) -> None:
    home, stdout = demo_home
    assert default_tracking_uri(home) in stdout
    assert "Trips scored by the served model" in stdout
    # The three trips of the taxi example's dataframe_split request, in words.
    assert "Upper East Side South" in stdout
    assert "JFK Airport" in stdout
    assert "models:/nyc-taxi-duration/1 (@champion)" in stdout
    assert "kiln runs show" in stdout
    assert "Stopping the server (--no-wait)." in stdout


def test_demo_run_model_and_alias_are_stored(demo_home: tuple[Path, str]) -> None:
    home, stdout = demo_home
    uri = default_tracking_uri(home)
    client = KilnClient.from_uri(uri)
    experiment = client.get_experiment_by_name("kiln-demo")
    assert experiment is not None
    runs = list(client.iter_runs([experiment.experiment_id]))
    assert len(runs) == 1
    run = client.get_run(runs[0].info.run_id)
    assert run.info.run_id in stdout
    assert run.info.status is RunStatus.FINISHED
    metrics = run.data.metrics
    # Gradient boosting beats both baselines by a wide margin on the synthetic trips.
    assert metrics["rmse"] < 0.7 * metrics["baseline_distance_rmse"]
    assert metrics["baseline_distance_rmse"] < metrics["baseline_mean_rmse"]
    assert 0.6 < metrics["r2"] < 1.0
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
    (used,) = run.inputs.dataset_inputs
    assert used.dataset.name == "synthetic-nyc-taxi-seed7"

    service = RegistryService(
        open_registry_store(uri, workspace="default"),
        tracking=client.store,
        artifact_options=ArtifactOptions(),
    )
    champion = service.get_model_version_by_alias("nyc-taxi-duration", "champion")
    assert champion.run_id == run.info.run_id
    model = kiln.pyfunc.load_model(service.get_model_version_download_uri("nyc-taxi-duration", 1))
    assert model.metadata.signature is not None


def test_demo_stopped_its_server(demo_home: tuple[Path, str]) -> None:
    _, stdout = demo_home
    url = re.search(r"scoring server\s+(http://127\.0\.0\.1:\d+)", stdout)
    assert url is not None, stdout
    with pytest.raises(httpx.ConnectError, match="Connection refused"):
        httpx.get(f"{url.group(1)}/ping", timeout=2.0)
