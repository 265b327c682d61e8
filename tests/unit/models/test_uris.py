"""Loading models from every kind of URI: paths, file://, runs:/, models:/ (versions,
aliases, stages, logged models) and s3://."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import InvalidInput, NotFound
from kiln.models import pyfunc
from kiln.models import sklearn as kiln_sklearn
from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_artifact_store, open_logged_model_store, open_registry_store
from kiln.tracking.client import KilnClient


@pytest.fixture
def fitted(frame: pd.DataFrame, target: np.ndarray) -> object:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=2, random_state=0).fit(frame, target)


def test_local_path_and_file_uri(tmp_path: Path, fitted: object, frame: pd.DataFrame) -> None:
    kiln_sklearn.save_model(fitted, tmp_path / "m")
    expected = pyfunc.load_model(tmp_path / "m").predict(frame)
    np.testing.assert_array_equal(
        pyfunc.load_model(f"file://{tmp_path / 'm'}").predict(frame), expected
    )


def test_registry_aliases_and_stages(
    tracking_uri: str, fitted: object, frame: pd.DataFrame
) -> None:
    with kiln.start_run():
        info = kiln_sklearn.log_model(fitted, "clf", registered_model_name="trees")
        info2 = kiln_sklearn.log_model(fitted, "clf2", registered_model_name="trees")
    assert (info.registered_model_version, info2.registered_model_version) == (1, 2)
    service = RegistryService(
        open_registry_store(tracking_uri, workspace="default"), artifact_options=ArtifactOptions()
    )
    service.set_registered_model_alias("trees", "champion", 1)
    service.transition_model_version_stage("trees", 2, "Production")
    # MLflow 3: each version's source is its logged model, whose id the MLmodel names.
    assert pyfunc.load_model("models:/trees@champion").metadata.model_id == info.model_id
    assert pyfunc.load_model("models:/trees/Production").metadata.model_id == info2.model_id
    assert pyfunc.load_model("models:/trees/latest").metadata.model_id == info2.model_id
    assert info.model_id != info2.model_id
    assert kiln_sklearn.load_model("models:/trees/1").predict(frame).shape == (len(frame),)
    with pytest.raises(NotFound, match="Staging"):
        pyfunc.load_model("models:/trees/Staging")


def test_logged_model_uri(tracking_uri: str, tmp_path: Path, fitted: object) -> None:
    client = KilnClient.from_uri(tracking_uri)
    experiment_id = client.create_experiment("logged")
    store = open_logged_model_store(tracking_uri, workspace="default")
    logged = store.create_logged_model(experiment_id, str(tmp_path / "root"), name="tree")
    kiln_sklearn.save_model(fitted, Path(logged.artifact_location))
    model = pyfunc.load_model(f"models:/{logged.model_id}")
    assert model.metadata.flavors["sklearn"]["serialization_format"] == "cloudpickle"


def test_runs_uri_downloads_to_dst_path(
    tracking_uri: str, tmp_path: Path, fitted: object, frame: pd.DataFrame
) -> None:
    with kiln.start_run() as run:
        kiln_sklearn.log_model(fitted, "model", input_example=frame.head(2))
    dst = tmp_path / "copy"
    model = pyfunc.load_model(f"runs:/{run.info.run_id}/model", dst_path=dst)
    assert model.path == dst / "model"  # like MLflow: the artifact folder lands inside dst_path
    assert (dst / "model" / "MLmodel").is_file()
    assert model.metadata.run_id == run.info.run_id
    assert model.input_example.shape == (2, 3)


def test_bad_uris(tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="Not a proper models:/ URI"):
        pyfunc.load_model("models:/")
    with pytest.raises(NotFound, match="name=nobody"):
        pyfunc.load_model("models:/nobody/1")


@pytest.mark.integration
def test_s3_uri(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path, fitted: object, frame: pd.DataFrame
) -> None:
    kiln_sklearn.save_model(fitted, tmp_path / "m")
    options = ArtifactOptions(s3_endpoint_url=s3_endpoint)
    store = open_artifact_store(f"{s3_bucket_uri}/models", options=options)
    store.log_artifacts(str(tmp_path / "m"), "tree")
    shutil.rmtree(tmp_path / "m")
    model = pyfunc.load_model(f"{s3_bucket_uri}/models/tree", dst_path=tmp_path / "dl")
    assert model.predict(frame).shape == (len(frame),)


def test_missing_framework_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiln.models.mlmodel import ModelMetadata

    ModelMetadata(
        flavors={"python_function": {"loader_module": "mlflow.lightgbm", "data": "model.lgb"}}
    ).save(tmp_path)
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(ModuleNotFoundError, match=r"kiln-mlops\[lightgbm\]"):
        pyfunc.load_model(tmp_path)


def test_runs_uri_finds_the_runs_logged_model_like_mlflow_3(
    tracking_uri: str, tmp_path: Path, fitted: object
) -> None:
    with kiln.start_run() as run:
        pass
    store = open_logged_model_store(tracking_uri, workspace="default")
    logged = store.create_logged_model(
        run.info.experiment_id, str(tmp_path / "root"), name="model", source_run_id=run.info.run_id
    )
    store.create_logged_model(run.info.experiment_id, str(tmp_path / "other"), name="model")
    kiln_sklearn.save_model(fitted, Path(logged.artifact_location))
    model = pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.path == Path(logged.artifact_location)
