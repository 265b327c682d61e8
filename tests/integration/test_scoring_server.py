"""``kiln models serve`` as a real process: the reference curl requests, V2, auth, workers.

Real sklearn models saved by ``kiln.models.sklearn.save_model``: the wine ElasticNet
(registered, served as ``models:/wine/1`` with a token and two workers), a model over
13 columns all named "features" and one over the Adult census columns (served by path).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet, LogisticRegression

from kiln.models import pyfunc as kiln_pyfunc
from kiln.models import sklearn as kiln_sklearn
from kiln.models.python_model import PythonModel
from kiln.models.signature import infer_signature
from kiln.testing.server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINE_DATA = Path(__file__).parents[2] / "examples/wine/data/winequality.csv.gz"
TOKEN = "integration-token"
KILN = [sys.executable, "-m", "kiln.cli.main"]

# The requests of reference/serving-requests.md, verbatim.
WINE = (
    '{"columns":["alcohol", "chlorides", "citric acid", "density", "fixed acidity", '
    '"free sulfur dioxide", "pH", "residual sugar", "sulphates", "total sulfur dioxide", '
    '"volatile acidity"],"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66]]}'
)
FEATURES = (
    '{"columns":["features", "features", "features", "features", "features", "features", '
    '"features", "features", "features", "features", "features","features","features"],'
    '"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66,0.45,0.55]]}'
)
ADULT = (
    '{"columns":["age", "capital-gain", "capital-loss", "education", "education-num", "fnlwgt", '
    '"hours-per-week", "marital-status", "native-country", "occupation", "race","relationship",'
    '"sex","workclass"],"data":[[25,0,0,1,7,226802,40,4,38,7,2,3,1,4]]}'
)
SPLIT_1X = {"Content-Type": "application/json; format=pandas-split"}


@dataclass
class Scoring:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def kiln_serve(args: list[str], home: Path, log_name: str) -> Iterator[Scoring]:
    port = free_port()
    log = home / f"{log_name}.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env["KILN_HOME"] = str(home)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*KILN, "models", "serve", *args, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    scoring = Scoring(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kiln models serve exited:\n{log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{scoring.url}/ping", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"kiln models serve did not start:\n{log.read_text()}")
            time.sleep(0.1)  # readiness polling of a child process
        yield scoring
    finally:
        scoring.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scoring-home")


@pytest.fixture(scope="module")
def wine_model(home: Path) -> Path:
    frame = pd.read_csv(WINE_DATA)
    features = frame.drop(columns=["quality", "color"])
    model = ElasticNet(alpha=0.5, l1_ratio=0.5, random_state=42).fit(features, frame["quality"])
    path = home / "wine-model"
    kiln_sklearn.save_model(
        model, path, signature=infer_signature(features, model.predict(features))
    )
    return path


@pytest.fixture(scope="module")
def wine(home: Path, wine_model: Path) -> Iterator[Scoring]:
    """The wine model registered in the default store under KILN_HOME, served as models:/."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env["KILN_HOME"] = str(home)
    subprocess.run(
        [*KILN, "models", "register", str(wine_model), "wine"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    token_file = home / "token"
    token_file.write_text(TOKEN + "\n")
    args = ["-m", "models:/wine/1", "--workers", "2", "--auth-token-file", str(token_file)]
    with kiln_serve(args, home, "wine") as scoring:
        yield scoring


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_reference_wine_request(wine: Scoring) -> None:
    response = httpx.post(f"{wine.url}/invocations", content=WINE, headers={**SPLIT_1X, **_auth()})
    assert response.status_code == 200, response.text
    (prediction,) = response.json()
    assert 3 < prediction < 9


def test_mlflow_2x_bodies_and_csv(wine: Scoring) -> None:
    split = json.loads(WINE)
    records = [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
    bodies = [
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {c: [v] for c, v in records[0].items()}},
    ]
    answers = [
        httpx.post(f"{wine.url}/invocations", json=body, headers=_auth()).json() for body in bodies
    ]
    csv = pd.DataFrame(records).to_csv(index=False)
    answers.append(
        httpx.post(
            f"{wine.url}/invocations", content=csv, headers={"Content-Type": "text/csv", **_auth()}
        ).json()
    )
    first = answers[0]["predictions"]
    assert len(first) == 1
    assert all(a["predictions"] == pytest.approx(first) for a in answers)


def test_token_required_and_health_open(wine: Scoring) -> None:
    response = httpx.post(f"{wine.url}/invocations", content=WINE, headers=SPLIT_1X)
    assert response.status_code == 401
    assert httpx.get(f"{wine.url}/health").status_code == 200
    assert httpx.get(f"{wine.url}/v2/health/ready").json() == {"ready": True}


def test_v2_metadata_and_infer_name_the_registered_version(wine: Scoring) -> None:
    meta = httpx.get(f"{wine.url}/v2/models/wine/versions/1", headers=_auth()).json()
    assert meta["name"] == "wine"
    assert meta["versions"] == ["1"]
    assert [i["datatype"] for i in meta["inputs"]] == ["FP64"] * 11
    names = [i["name"] for i in meta["inputs"]]
    row = dict(zip(json.loads(WINE)["columns"], json.loads(WINE)["data"][0], strict=True))
    body = {
        "id": "42",
        "inputs": [
            {
                "name": "input-0",
                "shape": [1, 11],
                "datatype": "FP64",
                "data": [row[n] for n in names],
            }
        ],
    }
    answer = httpx.post(f"{wine.url}/v2/models/wine/infer", json=body, headers=_auth()).json()
    assert answer["model_name"] == "wine"
    assert answer["model_version"] == "1"
    assert answer["id"] == "42"
    (output,) = answer["outputs"]
    assert (output["shape"], output["datatype"]) == ([1], "FP64")
    legacy = httpx.post(f"{wine.url}/invocations", content=WINE, headers={**SPLIT_1X, **_auth()})
    assert output["data"] == pytest.approx(legacy.json())


def test_bad_input_is_400_and_the_server_stays_up(wine: Scoring) -> None:
    body = {"dataframe_split": {"columns": ["alcohol"], "data": [["strong"]]}}
    response = httpx.post(f"{wine.url}/invocations", json=body, headers=_auth())
    assert response.status_code == 400
    assert response.json()["message"]
    ok = httpx.post(f"{wine.url}/invocations", content=WINE, headers={**SPLIT_1X, **_auth()})
    assert ok.status_code == 200


def test_workers_share_the_port_with_nodelay(wine: Scoring) -> None:
    with httpx.Client(headers={**SPLIT_1X, **_auth()}) as client:
        client.post(f"{wine.url}/invocations", content=WINE)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            assert client.post(f"{wine.url}/invocations", content=WINE).status_code == 200
            times.append(time.perf_counter() - start)
    # with TCP_NODELAY off every keep-alive request waits >= 40 ms for a delayed ACK
    assert min(times) < 0.03
    text = httpx.get(f"{wine.url}/metrics").text
    assert "kiln_scoring_requests_total" in text


class RowSum(PythonModel):
    """Stands in for the reference's Keras model: 13 positional inputs named "features"."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.asarray(model_input, dtype="float64").sum(axis=1)


@pytest.fixture(scope="module")
def features_model(home: Path) -> Path:
    import cloudpickle

    path = home / "features-model"
    module = sys.modules[__name__]  # not importable in the server process: pickle by value
    cloudpickle.register_pickle_by_value(module)
    try:
        kiln_pyfunc.save_model(path, python_model=RowSum())  # no signature, like the reference
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    return path


@pytest.fixture(scope="module")
def adult_model(home: Path) -> Path:
    columns = json.loads(ADULT)["columns"]
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.integers(0, 50, size=(300, len(columns))), columns=columns)
    target = (frame["age"] + frame["hours-per-week"] > 50).astype(int)
    model = LogisticRegression(max_iter=500).fit(frame, target)
    path = home / "adult-model"
    kiln_sklearn.save_model(model, path, signature=infer_signature(frame, model.predict(frame)))
    return path


def test_reference_features_and_adult_requests(
    home: Path, features_model: Path, adult_model: Path
) -> None:
    with kiln_serve(["-m", str(features_model)], home, "features") as scoring:
        response = httpx.post(f"{scoring.url}/invocations", content=FEATURES, headers=SPLIT_1X)
        assert response.status_code == 200, response.text
        assert response.json() == [
            pytest.approx(
                12.8 + 0.029 + 0.48 + 0.98 + 6.2 + 29 + 3.33 + 1.2 + 0.39 + 75 + 0.66 + 0.45 + 0.55
            )
        ]
        meta = httpx.get(f"{scoring.url}/v2/models/features-model").json()
        assert meta["name"] == "features-model"  # the folder name
    with kiln_serve(["-m", str(adult_model), "--name", "adult"], home, "adult") as scoring:
        response = httpx.post(f"{scoring.url}/invocations", content=ADULT, headers=SPLIT_1X)
        assert response.status_code == 200, response.text
        assert response.json() in ([0], [1])


def test_features_request_against_sklearn_fitted_on_an_array(home: Path) -> None:
    """scikit-learn >= 1.9 refuses a frame with duplicate names; an array model reads positions."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 13))
    model = make_pipeline(StandardScaler(), ElasticNet(alpha=0.01)).fit(x, x @ np.arange(13.0))
    path = home / "features-sklearn"
    kiln_sklearn.save_model(model, path)  # no signature, no feature names
    row = np.asarray(json.loads(FEATURES)["data"], dtype="float64")
    with kiln_serve(["-m", str(path)], home, "features-sklearn") as scoring:
        response = httpx.post(f"{scoring.url}/invocations", content=FEATURES, headers=SPLIT_1X)
        assert response.status_code == 200, response.text
        assert response.json() == pytest.approx(model.predict(row).tolist())


def test_scoring_process_never_loads_sqlalchemy(wine_model: Path) -> None:
    script = f"""
import json, sys
from kiln.serving.process import load_local_model, parser
from kiln.serving import create_scoring_app
from kiln.serving.runner import serve
args = parser().parse_args(["--model-path", {str(wine_model)!r}, "--name", "wine"])
app = create_scoring_app(load_local_model(args.model_path), name=args.name)
roots = {"sqlalchemy", "alembic"}
prefixes = ("kiln.server.", "kiln.store.sql")
bad = sorted(m for m in sys.modules
             if m.split(".")[0] in roots or m == "kiln.server" or m.startswith(prefixes))
print(json.dumps(bad))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_predict_command_scores_a_csv_in_chunks(home: Path, wine_model: Path) -> None:
    frame = pd.read_csv(WINE_DATA).drop(columns=["quality", "color"]).head(2500)
    source = home / "wines.csv"
    frame.to_csv(source, index=False)
    target = home / "predictions.csv"
    env = {**os.environ, "KILN_HOME": str(home)}
    done = subprocess.run(
        [
            *KILN,
            "models",
            "predict",
            "-m",
            str(wine_model),
            "-i",
            str(source),
            "-o",
            str(target),
            "--chunk-rows",
            "1000",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote 2500 predictions" in done.stdout
    assert len(pd.read_csv(target)) == 2500
