"""The Keras flavor: ``.keras`` round trips in MLflow's layout, tensor signatures, pyfunc inputs."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from kiln.errors import InvalidInput
from kiln.models import pyfunc
from kiln.models.signature import infer_signature

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras

from kiln.models import keras as kiln_keras

FEATURES = ["features"] * 13


@pytest.fixture(scope="module")
def regressor() -> keras.Model:
    """13 inputs -> 1 output, trained for a few steps (seeded)."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((13,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 13))
    model.fit(x, x.sum(axis=1), epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(6, 13))


def _expected(model: keras.Model, x: np.ndarray) -> np.ndarray:
    out: np.ndarray = model.predict(x, verbose=0)
    return out


def test_round_trip_with_duplicate_column_names(
    tmp_path: Path, regressor: keras.Model, rows: np.ndarray
) -> None:
    example = pd.DataFrame(rows[:2], columns=FEATURES)
    path = tmp_path / "model"
    kiln_keras.save_model(regressor, path, input_example=example)
    assert sorted(p.name for p in (path / "data").iterdir()) == ["keras_module.txt", "model.keras"]
    native = kiln_keras.load_model(path)
    np.testing.assert_allclose(native.predict(rows, verbose=0), _expected(regressor, rows), 1e-6)
    model = pyfunc.load_model(path)
    signature = model.metadata.signature
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.to_list() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 13]}}
    ]
    predicted = model.predict(pd.DataFrame(rows, columns=FEATURES))
    assert isinstance(predicted, np.ndarray)
    np.testing.assert_allclose(predicted, _expected(regressor, rows), rtol=1e-5)
    np.testing.assert_allclose(model.predict(rows), _expected(regressor, rows), rtol=1e-5)
    assert model.input_example.shape == (2, 13)


def test_mlmodel_matches_mlflow_layout(tmp_path: Path, regressor: keras.Model) -> None:
    kiln_keras.save_model(regressor, tmp_path / "m")
    flavors = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]
    assert flavors["keras"] == {
        "data": "data",
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "save_exported_model": False,
    }
    assert flavors["python_function"] == {
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": "mlflow.keras",
        "python_version": platform.python_version(),
    }
    requirements = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in requirements)
    assert pins["keras"] == keras.__version__
    assert {"numpy", "pandas"} <= set(pins)


def test_signature_enforced(tmp_path: Path, regressor: keras.Model, rows: np.ndarray) -> None:
    kiln_keras.save_model(regressor, tmp_path / "m", input_example=rows[:2])
    model = pyfunc.load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match=r"expected \[-1, 13\], got \[6, 12\]"):
        model.predict(rows[:, :12])
    with pytest.raises(InvalidInput, match="dtype of the input does not match"):
        model.predict(rows.astype(np.complex128))


def test_column_signatures_are_refused(
    tmp_path: Path, regressor: keras.Model, rows: np.ndarray
) -> None:
    frame = pd.DataFrame(rows, columns=[f"f{i}" for i in range(13)])
    with pytest.raises(InvalidInput, match="must be tensors"):
        kiln_keras.save_model(
            regressor, tmp_path / "m", signature=infer_signature(frame, rows[:, 0])
        )
    assert not (tmp_path / "m").exists()


def test_large_batches_go_through_predict(
    tmp_path: Path, regressor: keras.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    kiln_keras.save_model(regressor, tmp_path / "m")
    model = pyfunc.load_model(tmp_path / "m")
    x = np.random.default_rng(9).normal(size=(40, 13))
    direct = model.predict(x)
    monkeypatch.setattr(kiln_keras, "DIRECT_CALL_ROWS", 10)
    np.testing.assert_allclose(model.predict(x), direct, rtol=1e-5)
    with pytest.raises(InvalidInput, match="not str"):
        model.predict("13 numbers")


def test_log_model_registers(tracking_uri: str, regressor: keras.Model, rows: np.ndarray) -> None:
    info = kiln_keras.log_model(
        regressor, "net", input_example=rows[:2], registered_model_name="keras-net"
    )
    assert info.registered_model_version == 1
    model = pyfunc.load_model("models:/keras-net/1")
    np.testing.assert_allclose(model.predict(rows), _expected(regressor, rows), rtol=1e-5)
