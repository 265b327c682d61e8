"""Models cross between Kiln and the real mlflow package, both ways.

MLflow-written folders load in Kiln in a fresh interpreter that must never
import ``mlflow``; Kiln-written folders load with ``mlflow.pyfunc.load_model``
and predict the same values. Each side runs in its own subprocess so neither
package leaks into the other's ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kiln.models import lightgbm as kiln_lightgbm
from kiln.models import onnx as kiln_onnx
from kiln.models import pyfunc
from kiln.models import sklearn as kiln_sklearn
from kiln.models import xgboost as kiln_xgboost

# Each test starts two interpreters that import mlflow or xgboost/lightgbm/onnx: seconds on an
# idle machine, minutes on a loaded one.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

DATA = """
import numpy as np, pandas as pd
rng = np.random.default_rng(3)
X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
y = (X["a"] + X["b"] > 0).astype("int64")
"""


def _run(code: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=420,
        env={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", **(env or {})},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


WRITE_WITH_MLFLOW = (
    DATA
    + """
import json, mlflow
import lightgbm as lgb, xgboost as xgb
from sklearn.linear_model import LogisticRegression, LinearRegression
from skl2onnx import to_onnx
from mlflow.models import infer_signature
models = {}
sk = LogisticRegression().fit(X, y)
mlflow.sklearn.save_model(sk, "sk_skops", signature=infer_signature(X, sk.predict(X)),
                          input_example=X.head(2))
mlflow.sklearn.save_model(sk, "sk_cloudpickle", serialization_format="cloudpickle")
mlflow.xgboost.save_model(xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y), "xgb_clf")
mlflow.xgboost.save_model(xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), 3), "xgb_booster")
mlflow.lightgbm.save_model(
    lgb.train({"num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}, lgb.Dataset(X, label=y), 3),
    "lgb_booster")
reg = LinearRegression().fit(X, y.astype("float64"))
mlflow.onnx.save_model(to_onnx(reg, X.to_numpy(dtype="float32")[:1]), "onnx")


class Scaled(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["a"] * (params or {}).get("k", 2.0)


mlflow.pyfunc.save_model("py", python_model=Scaled(), input_example=X.head(2))
out = {}
for name in ["sk_skops", "sk_cloudpickle", "xgb_clf", "xgb_booster", "lgb_booster", "onnx", "py"]:
    pred = mlflow.pyfunc.load_model(name).predict(X)
    out[name] = np.asarray(pred, dtype="float64").reshape(-1).tolist()
print(json.dumps(out))
"""
)

LOAD_WITH_KILN = (
    DATA
    + """
import json, sys
from kiln.models import pyfunc
out = {}
for name in ["sk_skops", "sk_cloudpickle", "xgb_clf", "xgb_booster", "lgb_booster", "onnx"]:
    model = pyfunc.load_model(name)
    out[name] = np.asarray(model.predict(X), dtype="float64").reshape(-1).tolist()
out["signature"] = pyfunc.load_model("sk_skops").metadata.signature.inputs.input_names()
out["example_rows"] = len(pyfunc.load_model("sk_skops").input_example)
out["mlflow_imported"] = sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow."))
out["sqlalchemy_imported"] = "sqlalchemy" in sys.modules
# Last: MLflow's own python_model pickle refers to mlflow.pyfunc.PythonModel, so it imports mlflow.
model = pyfunc.load_model("py")
out["py"] = np.asarray(model.predict(X), dtype="float64").reshape(-1).tolist()
out["py_signature"] = model.metadata.signature.inputs.input_names()
print(json.dumps(out))
"""
)


def test_mlflow_written_models_load_in_kiln_without_mlflow(tmp_path: Path) -> None:
    expected = _run(WRITE_WITH_MLFLOW, tmp_path)
    got = _run(LOAD_WITH_KILN, tmp_path)
    assert got.pop("mlflow_imported") == []
    assert got.pop("sqlalchemy_imported") is False  # a scoring server loading local models
    assert got.pop("signature") == ["a", "b", "c"]
    assert got.pop("example_rows") == 2
    assert got.pop("py_signature") == ["a", "b", "c"]
    assert got.keys() == expected.keys()
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-5, err_msg=name)


CUSTOM_MODULE = """
from kiln.models.pyfunc import PythonModel


class Affine(PythonModel):
    def load_context(self, context):
        with open(context.artifacts["offset"]) as stream:
            self.offset = float(stream.read())

    def predict(self, context, model_input, params=None):
        return model_input["a"] * 2 + self.offset
"""


def _save_kiln_models(folder: Path, frame: pd.DataFrame, target: pd.Series) -> dict[str, Any]:
    import lightgbm as lgb
    import xgboost as xgb
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression, LogisticRegression

    kiln_sklearn.save_model(
        LogisticRegression().fit(frame, target), folder / "sk", input_example=frame.head(2)
    )
    kiln_sklearn.save_model(
        LogisticRegression().fit(frame, target), folder / "sk_skops", serialization_format="skops"
    )
    kiln_xgboost.save_model(
        xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(frame, target), folder / "xgb"
    )
    kiln_lightgbm.save_model(
        lgb.LGBMClassifier(n_estimators=3, num_leaves=4, min_child_samples=5, verbose=-1).fit(
            frame, target
        ),
        folder / "lgb",
    )
    regression = LinearRegression().fit(frame, target.astype("float64"))
    kiln_onnx.save_model(to_onnx(regression, frame.to_numpy(dtype=np.float32)[:1]), folder / "onnx")
    module = folder / "affine_model.py"
    module.write_text(CUSTOM_MODULE)
    offset = folder / "offset.txt"
    offset.write_text("0.5")
    sys.path.insert(0, str(folder))
    try:
        from affine_model import Affine  # type: ignore[import-not-found]

        pyfunc.save_model(
            folder / "py",
            python_model=Affine(),
            artifacts={"offset": str(offset)},
            code_paths=[module],
            input_example=frame.head(2),
        )
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("affine_model", None)
    return {
        name: np.asarray(pyfunc.load_model(folder / name).predict(frame), dtype="float64")
        .reshape(-1)
        .tolist()
        for name in ("sk", "sk_skops", "xgb", "lgb", "onnx", "py")
    }


LOAD_WITH_MLFLOW = (
    DATA
    + """
import json, mlflow
out = {}
for name in ["sk", "sk_skops", "xgb", "lgb", "onnx", "py"]:
    pred = mlflow.pyfunc.load_model(name).predict(X)
    out[name] = np.asarray(pred, dtype="float64").reshape(-1).tolist()
model = mlflow.models.Model.load("sk")
out["sk_signature"] = model.signature.inputs.input_names()
print(json.dumps(out))
"""
)


def test_kiln_written_models_load_in_mlflow(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    target = (frame["a"] + frame["b"] > 0).astype("int64")
    expected = _save_kiln_models(tmp_path, frame, target)
    got = _run(LOAD_WITH_MLFLOW, tmp_path)
    assert got.pop("sk_signature") == ["a", "b", "c"]
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-5, err_msg=name)


WRITE_BY_VALUE = """
import json
import pandas as pd
from kiln.models import pyfunc


class Triple(pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["a"] * 3


pyfunc.save_model("py", python_model=Triple())
print(json.dumps(pyfunc.load_model("py").predict(pd.DataFrame({"a": [1.0, 2.0]})).tolist()))
"""

LOAD_WITHOUT_KILN = """
import json, sys
sys.modules["kiln"] = None  # any import of kiln now fails
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model("py")
print(json.dumps(list(model.predict(pd.DataFrame({"a": [1.0, 2.0]})))))
"""


def test_python_model_pickle_does_not_need_kiln_to_load(tmp_path: Path) -> None:
    assert _run(WRITE_BY_VALUE, tmp_path) == [3.0, 6.0]
    assert _run(LOAD_WITHOUT_KILN, tmp_path) == [3.0, 6.0]
