"""``kiln examples run-all`` as a real subprocess: the shipped examples pass, broken ones fail
with their reason and a non-zero exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln.config import default_tracking_uri
from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_registry_store
from kiln.tracking.client import KilnClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILN = [sys.executable, "-c", "from kiln.cli.main import main; main()"]


def _kiln(home: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env.pop("KILN_EXAMPLES_DIR", None)
    env.update(KILN_HOME=str(home), COLUMNS="250")
    return subprocess.run(
        [*KILN, *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.timeout(900)
def test_run_all_passes_for_wine_adult_and_taxi(tmp_path: Path) -> None:
    done = _kiln(tmp_path, "examples", "run-all", "--only", "wine,adult,taxi", timeout=850)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "All 3 examples passed" in done.stdout
    table = done.stdout[done.stdout.index("kiln examples run-all") :]
    for name in ("wine", "adult", "taxi"):
        row = next(line for line in table.splitlines() if line.strip().startswith(name))
        assert row.rstrip().endswith("pass"), row
        assert f"example-{name} v1" in row
        assert " ms " in row

    uri = default_tracking_uri(tmp_path)
    client = KilnClient.from_uri(uri)
    service = RegistryService(
        open_registry_store(uri, workspace="default"),
        tracking=client.store,
        artifact_options=ArtifactOptions(),
    )
    for name, metric in (("wine", "rmse"), ("adult", "auc"), ("taxi", "rmse")):
        champion = service.get_model_version_by_alias(f"example-{name}", "champion")
        run = client.get_run(champion.run_id)
        assert run.data.tags["mlflow.source.type"] == "PROJECT"
        assert metric in run.data.metrics
        assert run.inputs.dataset_inputs
        experiment = client.get_experiment(run.info.experiment_id)
        assert experiment.name == f"examples-{name}"
    wine = client.get_run(service.get_model_version_by_alias("example-wine", "champion").run_id)
    assert 0.6 < wine.data.metrics["rmse"] < 0.8


def _example(root: Path, name: str, train: str, predictions: int) -> None:
    folder = root / name
    (folder / "requests").mkdir(parents=True)
    (folder / "MLproject").write_text(
        f"name: {name}\nentry_points:\n  main:\n    command: python train.py\n"
    )
    (folder / "train.py").write_text(textwrap.dedent(train))
    body = {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}
    (folder / "requests" / "one.json").write_text(json.dumps(body))
    (folder / "kiln-example.yaml").write_text(
        textwrap.dedent(
            f"""\
            title: deliberately broken ({name})
            flavor: sklearn
            metric: {{name: mse, lower_is_better: true}}
            requests:
              - name: one row
                content_type: application/json
                body: requests/one.json
                predictions: {predictions}
            """
        )
    )


FIT = """\
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    import kiln

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = LinearRegression().fit(frame, [0.0, 2.0, 4.0, 6.0])
    with kiln.start_run():
        kiln.log_metric("mse", 0.0)
        kiln.sklearn.log_model(model, name="model", input_example=frame.head(2))
"""


@pytest.mark.timeout(600)
def test_broken_examples_fail_with_their_reason(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    _example(examples, "crashes", "raise SystemExit('the data is gone')\n", 1)
    _example(examples, "miscounts", FIT, 2)
    _example(examples, "nometric", FIT.replace('kiln.log_metric("mse", 0.0)', "pass"), 1)
    listed = _kiln(tmp_path, "examples", "--examples-dir", str(examples), "list", timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "deliberately broken (crashes)" in listed.stdout

    done = _kiln(tmp_path, "examples", "--examples-dir", str(examples), "run-all", timeout=550)
    assert done.returncode == 1, done.stdout[-6000:] + done.stderr[-3000:]
    assert "3 of 3 examples failed" in done.stdout
    table = done.stdout[done.stdout.index("kiln examples run-all") :]
    rows = {line.split()[0]: line for line in table.splitlines()[3:] if line.strip()}
    assert "FAIL: training failed (exit code 1): the data is gone" in rows["crashes"]
    assert "expected 2 predictions, got 1" in rows["miscounts"]
    assert "example-miscounts v1" in rows["miscounts"]
    assert "the run logged no 'mse' metric" in rows["nometric"]


def test_an_unknown_example_is_refused(tmp_path: Path) -> None:
    done = _kiln(tmp_path, "examples", "run-all", "--only", "wine,nosuch", timeout=120)
    assert done.returncode == 3
    assert "no example named nosuch" in done.stderr
