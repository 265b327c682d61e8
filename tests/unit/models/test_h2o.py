"""The H2O flavor: binary-model round trips in MLflow's layout, on one cluster per test module."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from kiln.errors import InvalidInput
from kiln.models import h2o as kiln_h2o
from kiln.models import h2o_cluster, pyfunc

pytestmark = pytest.mark.slow  # starting the Java cluster takes 6-7 s


@pytest.fixture(scope="module")
def h2o() -> Any:
    return h2o_cluster.ensure()


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    frame["colour"] = np.where(rng.random(150) > 0.5, "red", "white")
    frame["y"] = 2 * frame["a"] - frame["b"] + (frame["colour"] == "red") * 1.5
    return frame


@pytest.fixture(scope="module")
def gbm(h2o: Any, data: pd.DataFrame) -> Any:
    from h2o.estimators import H2OGradientBoostingEstimator

    model = H2OGradientBoostingEstimator(ntrees=8, max_depth=3, seed=1)
    model.train(x=["a", "b", "c", "colour"], y="y", training_frame=h2o.H2OFrame(data))
    return model


def _native(h2o: Any, model: Any, frame: pd.DataFrame) -> np.ndarray:
    predicted = model.predict(h2o.H2OFrame(frame, column_types={"colour": "enum"}))
    with warnings.catch_warnings():  # h2o: polars/pyarrow would convert faster
        warnings.filterwarnings("ignore", message="Converting H2O frame to pandas")
        values: np.ndarray = predicted.as_data_frame()["predict"].to_numpy()
    return values


def test_round_trip(tmp_path: Path, h2o: Any, gbm: Any, data: pd.DataFrame) -> None:
    features = data[["a", "b", "c", "colour"]]
    path = tmp_path / "model"
    kiln_h2o.save_model(gbm, path, input_example=features.head(3))
    settings = yaml.safe_load((path / "model.h2o" / "h2o.yaml").read_text())
    assert (path / "model.h2o" / settings["model_file"]).is_file()
    expected = _native(h2o, gbm, features)
    model = pyfunc.load_model(path)
    predicted = model.predict(features)
    assert list(predicted.columns) == ["predict"]
    np.testing.assert_allclose(predicted["predict"].to_numpy(), expected, rtol=1e-6)
    native = kiln_h2o.load_model(path)
    assert native.model_id == gbm.model_id
    signature = model.metadata.signature
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.to_list() == [
        {"type": "double", "name": "a", "required": True},
        {"type": "double", "name": "b", "required": True},
        {"type": "double", "name": "c", "required": True},
        {"type": "string", "name": "colour", "required": True},
    ]


def test_mlmodel_matches_mlflow_layout(tmp_path: Path, h2o: Any, gbm: Any) -> None:
    kiln_h2o.save_model(gbm, tmp_path / "m")
    flavors = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]
    assert flavors["h2o"] == {"code": None, "data": "model.h2o", "h2o_version": h2o.__version__}
    assert flavors["python_function"] == {
        "code": None,
        "data": "model.h2o",
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": "mlflow.h2o",
        "python_version": platform.python_version(),
    }
    pins = dict(
        line.split("==") for line in (tmp_path / "m" / "requirements.txt").read_text().split()
    )
    assert pins["h2o"] == h2o.__version__


def test_signature_enforced(tmp_path: Path, gbm: Any, data: pd.DataFrame) -> None:
    kiln_h2o.save_model(gbm, tmp_path / "m", input_example=data[["a", "b", "c", "colour"]][:2])
    model = pyfunc.load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match=r"missing inputs \['colour'\]"):
        model.predict(data[["a", "b", "c"]])
    with pytest.raises(InvalidInput, match="column a"):
        model.predict(data[["a", "b", "c", "colour"]].astype({"a": "str"}))


def test_folder_without_settings_is_refused(tmp_path: Path, gbm: Any) -> None:
    kiln_h2o.save_model(gbm, tmp_path / "m")
    (tmp_path / "m" / "model.h2o" / "h2o.yaml").unlink()
    with pytest.raises(InvalidInput, match=r"has no model.h2o/h2o.yaml"):
        kiln_h2o.load_model(tmp_path / "m")


def test_log_model_registers(tracking_uri: str, gbm: Any, data: pd.DataFrame) -> None:
    features = data[["a", "b", "c", "colour"]]
    info = kiln_h2o.log_model(
        gbm, "gbm", input_example=features.head(2), registered_model_name="h2o-gbm"
    )
    assert info.registered_model_version == 1
    predicted = pyfunc.load_model("models:/h2o-gbm/1").predict(features.head(5))
    assert predicted.shape == (5, 1)
    assert np.isfinite(predicted["predict"]).all()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_a_killed_process_leaves_no_jvm_behind() -> None:
    code = (
        "import os, signal\n"
        "from kiln.models import h2o_cluster\n"
        "h2o = h2o_cluster.ensure()\n"
        "print(h2o_cluster._jvm_pid(h2o), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"  # no atexit: only the watchdog can stop it
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    jvm = int(done.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 30
    while _alive(jvm) and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for the watchdog (it polls once a second), not ordering
    assert not _alive(jvm), f"the H2O JVM {jvm} outlived the process that started it"
