"""The public surface other packages (kiln.serving, the CLI) build on."""

from __future__ import annotations

from kiln.models import h2o, keras, lightgbm, onnx, pyfunc, pytorch, signature, sklearn, xgboost
from kiln.models.loaders import PYFUNC_LOADERS


def test_pyfunc_api() -> None:
    assert sorted(pyfunc.__all__) == [
        "CODE",
        "DATA",
        "ENV",
        "FLAVOR_NAME",
        "MAIN",
        "PY_VERSION",
        "PyFuncModel",
        "PythonModel",
        "PythonModelContext",
        "get_default_conda_env",
        "get_default_pip_requirements",
        "load_model",
        "load_pyfunc",
        "log_model",
        "save_model",
    ]


def test_signature_api() -> None:
    assert {"ModelSignature", "Schema", "ColSpec", "TensorSpec", "infer_signature"} <= set(
        signature.__all__
    )


def test_every_flavor_has_the_same_verbs() -> None:
    for module in (sklearn, xgboost, lightgbm, onnx, keras, pytorch, h2o):
        assert {"save_model", "log_model", "load_model", "load_predictor"} <= set(module.__all__)


def test_every_mlflow_loader_has_a_kiln_module() -> None:
    assert sorted(k for k in PYFUNC_LOADERS if k.startswith("mlflow.")) == [
        "mlflow.h2o",
        "mlflow.keras",
        "mlflow.lightgbm",
        "mlflow.onnx",
        "mlflow.pyfunc.model",
        "mlflow.pytorch",
        "mlflow.sklearn",
        "mlflow.xgboost",
    ]
