"""Each flavor's ``get_default_pip_requirements``/``get_default_conda_env`` (MLflow's names and
parameters) say what Kiln writes into a saved model's requirements.txt and conda.yaml."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from sklearn.linear_model import LinearRegression

import kiln

FLAVORS = ("pyfunc", "sklearn", "xgboost", "lightgbm", "pytorch", "keras", "onnx", "h2o")


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("name", ["get_default_pip_requirements", "get_default_conda_env"])
def test_parameters_match_mlflow(flavor: str, name: str) -> None:
    ours = inspect.signature(getattr(getattr(kiln, flavor), name)).parameters
    theirs = inspect.signature(getattr(importlib.import_module(f"mlflow.{flavor}"), name))
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.parameters.values()
    ]


def test_sklearn_defaults_are_what_a_saved_model_carries(tmp_path: Path) -> None:
    model = LinearRegression().fit(np.arange(6.0).reshape(3, 2), np.arange(3.0))
    kiln.sklearn.save_model(model, tmp_path / "model", serialization_format="cloudpickle")
    written = (tmp_path / "model" / "requirements.txt").read_text().splitlines()
    assert written == kiln.sklearn.get_default_pip_requirements(include_cloudpickle=True)
    conda = yaml.safe_load((tmp_path / "model" / "conda.yaml").read_text())
    assert conda == kiln.sklearn.get_default_conda_env(include_cloudpickle=True)
    theirs = mlflow.sklearn.get_default_conda_env()
    assert (conda["name"], conda["channels"]) == (theirs["name"], theirs["channels"])


def test_constants_are_mlflows() -> None:
    for name in ("FLAVOR_NAME", "MAIN", "CODE", "DATA", "ENV", "PY_VERSION"):
        assert getattr(kiln.pyfunc, name) == getattr(mlflow.pyfunc, name)
    assert kiln.pyfunc.load_pyfunc is kiln.pyfunc.load_model
    assert kiln.sklearn.SUPPORTED_SERIALIZATION_FORMATS == (
        mlflow.sklearn.SUPPORTED_SERIALIZATION_FORMATS
    )
    assert kiln.onnx.ONNX_EXECUTION_PROVIDERS == mlflow.onnx.ONNX_EXECUTION_PROVIDERS
