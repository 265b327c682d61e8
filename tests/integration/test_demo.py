"""``kiln demo`` as a real subprocess, then its store read back through KilnClient."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import kiln
from kiln.config import default_tracking_uri
from kiln.entities import RunStatus
from kiln.tracking.client import KilnClient

pytestmark = pytest.mark.integration

# The wine request of ../shared/reference/serving-requests.md, columns in its order.
REFERENCE_COLUMNS = (
    "alcohol",
    "chlorides",
    "citric acid",
    "density",
    "fixed acidity",
    "free sulfur dioxide",
    "pH",
    "residual sugar",
    "sulphates",
    "total sulfur dioxide",
    "volatile acidity",
)
REFERENCE_ROW = [12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66]


def _kiln_command() -> list[str]:
    script = shutil.which("kiln", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "kiln.cli.main"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("demo-home")
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env.update(KILN_HOME=str(home), COLUMNS="160")
    done = subprocess.run(
        [*_kiln_command(), "demo"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return home, done.stdout


def test_demo_prints_where_to_look(demo_home: tuple[Path, str]) -> None:
    home, stdout = demo_home
    assert default_tracking_uri(home) in stdout
    assert "kiln runs list --experiment-name kiln-demo" in stdout
    assert "kiln runs show" in stdout


def test_demo_store_contents(demo_home: tuple[Path, str], tmp_path: Path) -> None:
    home, stdout = demo_home
    client = KilnClient.from_uri(default_tracking_uri(home))
    experiment = client.get_experiment_by_name("kiln-demo")
    assert experiment is not None
    runs = list(client.iter_runs([experiment.experiment_id]))
    parents = [r for r in runs if r.info.run_name == "wine-elasticnet"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.run_id in stdout
    assert parent.info.status is RunStatus.FINISHED
    assert parent.data.params["rows"] == "6497"

    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1 >= 3
    best_id = parent.data.tags["best_run_id"]
    best = client.get_run(best_id)
    assert best.data.metrics["rmse"].value == min(c.data.metrics["rmse"].value for c in children)
    assert parent.data.metrics["best_rmse"].value == best.data.metrics["rmse"].value
    # A realistic fit of wine quality (0-10 scale) by a linear model.
    assert 0.6 < best.data.metrics["rmse"].value < 0.9

    epochs = int(best.data.params["epochs"])
    history = client.get_metric_history(best_id, "val_rmse")
    assert [m.step for m in history] == list(range(1, epochs + 1))
    assert history[-1].value <= history[0].value
    for tag in ("mlflow.user", "mlflow.source.name", "mlflow.source.type"):
        assert tag in parent.data.tags

    names = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert names == {"feature_importance.json", "model", "residuals.png", "summary.txt"}
    model_files = {f.path for f in client.list_artifacts(parent.info.run_id, "model")}
    assert {"model/MLmodel", "model/model.pkl", "model/input_example.json"} <= model_files

    local = Path(client.download_artifacts(parent.info.run_id, "", tmp_path / "artifacts"))
    assert (local / "residuals.png").read_bytes().startswith(b"\x89PNG")
    importance = json.loads((local / "feature_importance.json").read_text(encoding="utf-8"))
    assert set(importance["coefficients_on_standardized_features"]) == set(REFERENCE_COLUMNS)
    assert "P. Cortez" in (local / "summary.txt").read_text(encoding="utf-8")

    mlmodel = yaml.safe_load((local / "model" / "MLmodel").read_text(encoding="utf-8"))
    assert mlmodel["run_id"] == parent.info.run_id
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert mlmodel["flavors"]["sklearn"]["pickled_model"] == "model.pkl"
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert sorted(col["name"] for col in inputs) == sorted(REFERENCE_COLUMNS)

    model = kiln.pyfunc.load_model(str(local / "model"))
    frame = pd.DataFrame([REFERENCE_ROW], columns=list(REFERENCE_COLUMNS)).astype("float64")
    prediction = model.predict(frame)
    assert 3.0 < float(prediction[0]) < 8.0


def test_demo_model_loads_with_mlflow(demo_home: tuple[Path, str], tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    home, _ = demo_home
    client = KilnClient.from_uri(default_tracking_uri(home))
    experiment = client.get_experiment_by_name("kiln-demo")
    assert experiment is not None
    parent = next(
        r
        for r in client.iter_runs([experiment.experiment_id])
        if r.info.run_name == "wine-elasticnet"
    )
    model_dir = client.download_artifacts(parent.info.run_id, "model", tmp_path / "dl")
    code = (
        "import sys, mlflow.pyfunc\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "import pandas as pd\n"
        f"frame = pd.DataFrame([{REFERENCE_ROW!r}], columns={list(REFERENCE_COLUMNS)!r})\n"
        "frame = frame.astype('float64')\n"
        "print(float(model.predict(frame)[0]))\n"
    )
    env = dict(os.environ, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true")
    done = subprocess.run(
        [sys.executable, "-c", code, model_dir],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert 3.0 < float(done.stdout.strip().splitlines()[-1]) < 8.0
