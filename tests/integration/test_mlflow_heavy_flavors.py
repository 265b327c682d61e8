"""Keras, PyTorch and H2O models between Kiln, the real mlflow package and the scoring server.

MLflow-written folders (``mlflow.keras``/``mlflow.pytorch``/``mlflow.h2o``) load in
Kiln in a fresh interpreter that must never import ``mlflow``; Kiln-written folders
load with ``mlflow.pyfunc.load_model``. Both predict the same values. Then a Keras
model answers the reference request of 13 columns all named "features" through the
scoring app, and a ``kiln models serve`` process answers V2 tensor requests for a
PyTorch model.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from kiln.models import pyfunc
from kiln.serving import create_scoring_app
from kiln.testing.server import asgi_client, free_port

# Each test starts interpreters that import TensorFlow, torch and an H2O cluster.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}
FEATURES_REQUEST = (  # reference/serving-requests.md, verbatim
    '{"columns":["features", "features", "features", "features", "features", "features", '
    '"features", "features", "features", "features", "features","features","features"],'
    '"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66,0.45,0.55]]}'
)

DATA = """
import numpy as np, pandas as pd
rng = np.random.default_rng(3)
X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
y = 2 * X["a"] - X["b"]
X13 = rng.normal(size=(8, 13))
"""


def _run(code: str, cwd: Path) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **ENV},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # the JSON line, not what h2o prints when the process exits
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


WRITE_WITH_MLFLOW = (
    DATA
    + """
import json, mlflow, keras, torch, h2o
from h2o.estimators import H2OGradientBoostingEstimator

# given requirements: MLflow would otherwise load each model again in a subprocess to infer them
REQ = ["numpy"]

keras.utils.set_random_seed(1)
net = keras.Sequential([keras.Input((13,)), keras.layers.Dense(4), keras.layers.Dense(1)])
mlflow.keras.save_model(net, "keras", pip_requirements=REQ)
torch.manual_seed(0)
seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
x32 = X.to_numpy(dtype="float32")
mlflow.pytorch.save_model(seq, "torch_pt2", input_example=x32[:4], pip_requirements=REQ)
mlflow.pytorch.save_model(
    seq, "torch_pickle", serialization_format="pickle", pip_requirements=REQ
)
from kiln.models.h2o_cluster import _free_port_pair, solo_flatfile
port = _free_port_pair()
with solo_flatfile(port) as solo:  # not joined by another test's JVM (see h2o_cluster)
    h2o.init(port=port, verbose=False, **solo)
h2o.no_progress()
gbm = H2OGradientBoostingEstimator(ntrees=5, max_depth=2, seed=1)
gbm.train(x=["a", "b", "c"], y="y", training_frame=h2o.H2OFrame(X.assign(y=y)))
mlflow.h2o.save_model(gbm, "h2o", input_example=X.head(2), pip_requirements=REQ)
out = {
    "keras": mlflow.pyfunc.load_model("keras").predict(X13),
    "torch_pt2": mlflow.pyfunc.load_model("torch_pt2").predict(x32),
    "torch_pickle": mlflow.pyfunc.load_model("torch_pickle").predict(X),
    "h2o": mlflow.pyfunc.load_model("h2o").predict(X),
}
print(json.dumps({k: np.asarray(v, dtype="float64").reshape(-1).tolist() for k, v in out.items()}))
"""
)

LOAD_WITH_KILN = (
    DATA
    + """
import json, sys
from kiln.models import pyfunc
x32 = X.to_numpy(dtype="float32")
inputs = {"keras": X13, "torch_pt2": x32, "torch_pickle": X, "h2o": X}
out = {}
for name, data in inputs.items():
    predicted = pyfunc.load_model(name).predict(data)
    out[name] = np.asarray(predicted, dtype="float64").reshape(-1).tolist()
out["h2o_signature"] = pyfunc.load_model("h2o").metadata.signature.inputs.input_names()
out["mlflow_imported"] = sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow."))
print(json.dumps(out))
"""
)


def test_mlflow_written_models_load_in_kiln_without_mlflow(tmp_path: Path) -> None:
    expected = _run(WRITE_WITH_MLFLOW, tmp_path)
    got = _run(LOAD_WITH_KILN, tmp_path)
    assert got.pop("mlflow_imported") == []
    assert got.pop("h2o_signature") == ["a", "b", "c"]
    assert got.keys() == expected.keys()
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-5, err_msg=name)


LOAD_WITH_MLFLOW = (
    DATA
    + """
import json, mlflow
x32 = X.to_numpy(dtype="float32")
inputs = {"keras": X13, "torch_pt2": x32, "torch_pickle": X, "h2o": X}
out = {}
for name, data in inputs.items():
    predicted = mlflow.pyfunc.load_model(name).predict(data)
    out[name] = np.asarray(predicted, dtype="float64").reshape(-1).tolist()
print(json.dumps(out))
"""
)


def _data() -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    namespace: dict[str, Any] = {}
    exec(DATA, namespace)  # the same seeded data the subprocesses build
    return namespace["X"], namespace["y"], namespace["X13"]


def test_kiln_written_models_load_in_mlflow(tmp_path: Path) -> None:
    import keras
    import torch
    from h2o.estimators import H2OGradientBoostingEstimator

    from kiln.models import h2o as kiln_h2o
    from kiln.models import h2o_cluster
    from kiln.models import keras as kiln_keras
    from kiln.models import pytorch as kiln_pytorch

    frame, target, x13 = _data()
    x32 = frame.to_numpy(dtype="float32")
    keras.utils.set_random_seed(1)
    net = keras.Sequential([keras.Input((13,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    kiln_keras.save_model(net, tmp_path / "keras", input_example=x13[:2])
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    kiln_pytorch.save_model(seq, tmp_path / "torch_pt2", input_example=x32[:4])
    kiln_pytorch.save_model(seq, tmp_path / "torch_pickle", input_example=frame.head(2))
    h2o = h2o_cluster.ensure()
    gbm = H2OGradientBoostingEstimator(ntrees=5, max_depth=2, seed=1)
    gbm.train(x=["a", "b", "c"], y="y", training_frame=h2o.H2OFrame(frame.assign(y=target)))
    kiln_h2o.save_model(gbm, tmp_path / "h2o", input_example=frame.head(2))
    inputs = {"keras": x13, "torch_pt2": x32, "torch_pickle": frame, "h2o": frame}
    expected = {
        name: np.asarray(pyfunc.load_model(tmp_path / name).predict(data), dtype="float64")
        .reshape(-1)
        .tolist()
        for name, data in inputs.items()
    }
    got = _run(LOAD_WITH_MLFLOW, tmp_path)
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-5, err_msg=name)


def test_keras_model_answers_the_reference_features_request(tmp_path: Path) -> None:
    import keras

    from kiln.models import keras as kiln_keras

    keras.utils.set_random_seed(2)
    net = keras.Sequential([keras.Input((13,)), keras.layers.Dense(1)])
    example = pd.DataFrame(np.ones((2, 13)), columns=["features"] * 13)
    kiln_keras.save_model(net, tmp_path / "keras", input_example=example)
    model = pyfunc.load_model(tmp_path / "keras")
    row = np.asarray(json.loads(FEATURES_REQUEST)["data"], dtype="float64")
    expected = net.predict(row, verbose=0).reshape(-1).tolist()
    with asgi_client(create_scoring_app(model, name="keras")) as client:
        response = client.post(
            "/invocations",
            content=FEATURES_REQUEST,
            headers={"Content-Type": "application/json; format=pandas-split"},
        )
        assert response.status_code == 200, response.text
        assert np.asarray(response.json()).reshape(-1).tolist() == pytest.approx(expected)
        split = {"dataframe_split": json.loads(FEATURES_REQUEST)}
        response = client.post("/invocations", json=split)
        assert response.status_code == 200, response.text
        assert np.asarray(response.json()["predictions"]).reshape(-1).tolist() == (
            pytest.approx(expected)
        )


@contextlib.contextmanager
def _kiln_serve(model: Path, home: Path) -> Iterator[str]:
    """A real ``kiln models serve`` process; yields its URL once ``/ping`` answers."""
    port = free_port()
    log = home / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env["KILN_HOME"] = str(home)
    command = [sys.executable, "-m", "kiln.cli.main", "models", "serve", "-m", str(model)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kiln models serve exited:\n{log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"kiln models serve did not start:\n{log.read_text()}")
            time.sleep(0.2)  # readiness polling of a child process
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_pytorch_model_served_with_v2_tensors(tmp_path: Path) -> None:
    import torch

    from kiln.models import pytorch as kiln_pytorch

    torch.manual_seed(4)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    x = np.random.default_rng(4).normal(size=(5, 3)).astype(np.float32)
    path = tmp_path / "shapes"
    kiln_pytorch.save_model(seq, path, input_example=x[:3])
    with torch.no_grad():
        expected = seq(torch.tensor(x)).numpy()
    with _kiln_serve(path, tmp_path) as url:
        meta = httpx.get(f"{url}/v2/models/shapes", timeout=30).json()
        assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 3]}]
        body = {
            "id": "req-7",
            "inputs": [
                {"name": "x", "shape": [5, 3], "datatype": "FP32", "data": x.ravel().tolist()}
            ],
        }
        response = httpx.post(f"{url}/v2/models/shapes/infer", json=body, timeout=60)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["id"] == "req-7"
        assert answer["model_name"] == "shapes"
        (output,) = answer["outputs"]
        assert output["shape"] == [5, 2]
        assert output["datatype"] == "FP32"
        np.testing.assert_allclose(output["data"], expected.ravel(), rtol=1e-6)
        response = httpx.post(f"{url}/invocations", json={"inputs": x[:2].tolist()}, timeout=60)
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json()["predictions"], expected[:2], rtol=1e-6)
        bad = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}]}
        response = httpx.post(f"{url}/v2/models/shapes/infer", json=bad, timeout=60)
        assert response.status_code == 400
        assert "expected [-1, 3], got [1, 4]" in response.text
