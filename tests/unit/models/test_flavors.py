"""Round trips of each flavor on small generated data: save, load natively, load as pyfunc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from kiln.errors import InvalidInput
from kiln.models import lightgbm as kiln_lightgbm
from kiln.models import onnx as kiln_onnx
from kiln.models import pyfunc
from kiln.models import sklearn as kiln_sklearn
from kiln.models import xgboost as kiln_xgboost
from kiln.models.mlmodel import ModelMetadata


@pytest.mark.parametrize("serialization_format", ["cloudpickle", "pickle", "skops"])
def test_sklearn_round_trip(
    tmp_path: Path, frame: pd.DataFrame, target: np.ndarray, serialization_format: str
) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(frame, target)
    path = tmp_path / "model"
    kiln_sklearn.save_model(
        model, path, serialization_format=serialization_format, input_example=frame.head(3)
    )
    expected = model.predict(frame)
    np.testing.assert_array_equal(kiln_sklearn.load_model(path).predict(frame), expected)
    loaded = pyfunc.load_model(path)
    np.testing.assert_array_equal(loaded.predict(frame), expected)
    flavor = loaded.metadata.flavors["sklearn"]
    assert flavor["serialization_format"] == serialization_format
    assert flavor["pickled_model"] == (
        "model.skops" if serialization_format == "skops" else "model.pkl"
    )
    signature = loaded.metadata.signature
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.input_names() == ["a", "b", "c"]


def test_sklearn_predict_proba_as_pyfunc(
    tmp_path: Path, frame: pd.DataFrame, target: np.ndarray
) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(frame, target)
    kiln_sklearn.save_model(model, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    np.testing.assert_allclose(
        pyfunc.load_model(tmp_path / "m").predict(frame), model.predict_proba(frame)
    )


def test_sklearn_refuses_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Unrecognized serialization format"):
        kiln_sklearn.save_model(object(), tmp_path / "m", serialization_format="joblib")


def test_sklearn_requirements_pin_the_framework(tmp_path: Path, frame: pd.DataFrame) -> None:
    from sklearn.dummy import DummyClassifier

    kiln_sklearn.save_model(DummyClassifier().fit(frame, [0] * len(frame)), tmp_path / "m")
    requirements = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    names = {line.split("==")[0] for line in requirements}
    assert {"scikit-learn", "cloudpickle", "numpy", "pandas"} <= names
    assert not any(name.startswith(("kiln", "mlflow")) for name in names)
    python_env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]


@pytest.mark.parametrize("kind", ["booster", "classifier"])
def test_xgboost_round_trip(
    tmp_path: Path, frame: pd.DataFrame, target: np.ndarray, kind: str
) -> None:
    import xgboost as xgb

    if kind == "booster":
        model = xgb.train({"max_depth": 2}, xgb.DMatrix(frame, label=target), num_boost_round=3)
        expected = model.predict(xgb.DMatrix(frame))
    else:
        model = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(frame, target)
        expected = model.predict(frame)
    path = tmp_path / "model"
    kiln_xgboost.save_model(model, path)
    assert (path / "model.ubj").is_file()
    native = kiln_xgboost.load_model(path)
    assert type(native) is type(model)
    np.testing.assert_allclose(pyfunc.load_model(path).predict(frame), expected)
    flavor = ModelMetadata.load(path).flavors["xgboost"]
    assert flavor["model_format"] == "ubj"
    assert flavor["model_class"] == f"{type(model).__module__}.{type(model).__name__}"


def test_xgboost_refuses_a_class_outside_xgboost(tmp_path: Path) -> None:
    ModelMetadata(
        flavors={
            "python_function": {"loader_module": "mlflow.xgboost", "data": "model.ubj"},
            "xgboost": {"data": "model.ubj", "model_class": "os.system"},
        }
    ).save(tmp_path)
    with pytest.raises(InvalidInput, match="not a xgboost class"):
        pyfunc.load_model(tmp_path)


@pytest.mark.parametrize("kind", ["booster", "classifier"])
def test_lightgbm_round_trip(
    tmp_path: Path, frame: pd.DataFrame, target: np.ndarray, kind: str
) -> None:
    import lightgbm as lgb

    params = {"n_estimators": 3, "num_leaves": 4, "min_child_samples": 5, "verbose": -1}
    if kind == "booster":
        model = lgb.train(
            {"num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1},
            lgb.Dataset(frame, label=target),
            num_boost_round=3,
        )
    else:
        model = lgb.LGBMClassifier(**params).fit(frame, target)
    path = tmp_path / "model"
    kiln_lightgbm.save_model(model, path)
    assert (path / ("model.lgb" if kind == "booster" else "model.pkl")).is_file()
    np.testing.assert_allclose(
        pyfunc.load_model(path).predict(frame), kiln_lightgbm.load_model(path).predict(frame)
    )
    np.testing.assert_allclose(pyfunc.load_model(path).predict(frame), model.predict(frame))


def test_onnx_round_trip(tmp_path: Path, frame: pd.DataFrame, target: np.ndarray) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    regression = LinearRegression().fit(frame, target.astype("float64"))
    onnx_model = to_onnx(regression, frame.to_numpy(dtype=np.float32)[:1])
    path = tmp_path / "model"
    kiln_onnx.save_model(onnx_model, path)
    assert kiln_onnx.load_model(path).graph.name == onnx_model.graph.name
    loaded = pyfunc.load_model(path)
    out = loaded.predict(frame)
    assert isinstance(out, pd.DataFrame)
    np.testing.assert_allclose(out.iloc[:, 0], regression.predict(frame), rtol=1e-4, atol=1e-4)
    as_dict = loaded.predict(frame.to_numpy())
    np.testing.assert_allclose(
        next(iter(as_dict.values())).reshape(-1), regression.predict(frame), rtol=1e-4, atol=1e-4
    )
