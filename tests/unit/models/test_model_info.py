"""``kiln.models.get_model_info``, ``set_signature`` and ``validate_schema`` against the
real mlflow's."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import kiln
from kiln.errors import InvalidInput, NotFound


def _fitted() -> tuple[LinearRegression, np.ndarray]:
    features = np.arange(8.0).reshape(4, 2)
    return LinearRegression().fit(features, features.sum(axis=1)), features


def test_a_saved_model_reads_as_in_mlflow(tmp_path: Path) -> None:
    model, features = _fitted()
    signature = kiln.models.infer_signature(features, model.predict(features))
    kiln.sklearn.save_model(model, tmp_path / "model", signature=signature)
    ours = kiln.models.get_model_info(str(tmp_path / "model"))
    theirs = mlflow.models.get_model_info(str(tmp_path / "model"))
    assert set(ours.flavors) == set(theirs.flavors)
    assert ours.signature is not None
    assert theirs.signature is not None
    assert ours.signature.to_dict() == theirs.signature.to_dict()
    assert (ours.model_uuid, ours.utc_time_created) == (theirs.model_uuid, theirs.utc_time_created)
    assert ours.model_uri == str(tmp_path / "model")  # mlflow says runs:/None/None here


def test_a_logged_model_names_its_run_and_id(tracking_uri: str) -> None:
    model, _ = _fitted()
    with kiln.start_run() as run:
        logged = kiln.sklearn.log_model(model, name="model")
    info = kiln.models.get_model_info(logged.model_uri)
    assert (info.run_id, info.model_id) == (run.info.run_id, logged.model_id)
    assert "sklearn" in info.flavors
    with pytest.raises(NotFound, match="m-00000000000000000000000000000000"):
        kiln.models.get_model_info("models:/m-00000000000000000000000000000000")


def test_validate_schema_accepts_and_refuses_what_mlflow_does() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    ours = kiln.models.infer_signature(frame).inputs
    theirs = mlflow.models.infer_signature(frame).inputs
    kiln.models.validate_schema(frame, ours)
    mlflow.models.validate_schema(frame, theirs)
    missing = frame[["a"]]
    with pytest.raises(mlflow.exceptions.MlflowException, match="b"):
        mlflow.models.validate_schema(missing, theirs)
    with pytest.raises(InvalidInput, match="b"):
        kiln.models.validate_schema(missing, ours)


def test_set_signature_on_a_folder_writes_what_mlflow_writes(tmp_path: Path) -> None:
    model, features = _fitted()
    kiln.sklearn.save_model(model, tmp_path / "ours")
    shutil.copytree(tmp_path / "ours", tmp_path / "theirs")
    frame = pd.DataFrame(features, columns=["x", "y"])
    kiln.models.set_signature(str(tmp_path / "ours"), kiln.models.infer_signature(frame))
    mlflow.models.set_signature(str(tmp_path / "theirs"), mlflow.models.infer_signature(frame))
    ours = kiln.models.get_model_info(str(tmp_path / "ours")).signature
    theirs = mlflow.models.get_model_info(str(tmp_path / "theirs")).signature
    assert ours is not None
    assert theirs is not None
    assert ours.to_dict() == theirs.to_dict()


def test_set_signature_on_logged_and_run_models(tracking_uri: str, tmp_path: Path) -> None:
    model, features = _fitted()
    signature = kiln.models.infer_signature(features, model.predict(features))
    kiln.sklearn.save_model(model, tmp_path / "saved")
    with kiln.start_run() as run:
        logged = kiln.sklearn.log_model(model, name="model")
        kiln.log_artifacts(str(tmp_path / "saved"), "plain")
    for uri in (logged.model_uri, f"runs:/{run.info.run_id}/plain"):
        kiln.models.set_signature(uri, signature)
        found = kiln.models.get_model_info(uri).signature
        assert found is not None
        assert found.to_dict() == signature.to_dict()
    kiln.register_model(logged.model_uri, "reg")
    with pytest.raises(InvalidInput, match="registered-model URIs"):
        kiln.models.set_signature("models:/reg/1", signature)
