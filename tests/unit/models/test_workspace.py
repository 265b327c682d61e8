"""Models act in the workspace KILN_WORKSPACE names, as the runs they come from do.

Registering (``log_model(registered_model_name=...)``) and loading (``models:/``,
``runs:/`` falling back to a logged model, ``models:/m-<id>``) once used the
``default`` workspace's registry and logged models while the run went to the
settings' workspace; one SQLite file holds both tenants here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import NotFound
from kiln.models import pyfunc
from kiln.models import sklearn as kiln_sklearn
from kiln.store.open import open_logged_model_store, open_registry_store

TEAM = "team-b"


@pytest.fixture
def fitted(frame: pd.DataFrame, target: np.ndarray) -> object:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=2, random_state=0).fit(frame, target)


def test_registering_and_loading_act_in_kiln_workspace(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, fitted: object, frame: pd.DataFrame
) -> None:
    monkeypatch.setenv("KILN_WORKSPACE", TEAM)
    with kiln.start_run() as run:
        info = kiln_sklearn.log_model(fitted, "clf", registered_model_name="trees")
    assert info.registered_model_version == 1
    version = open_registry_store(tracking_uri, workspace=TEAM).get_model_version("trees", 1)
    assert version.run_id == run.info.run_id
    with pytest.raises(NotFound, match="trees"):
        open_registry_store(tracking_uri, workspace="default").get_registered_model("trees")

    model = kiln_sklearn.load_model("models:/trees/1")
    assert model.predict(frame).shape == (len(frame),)

    monkeypatch.setenv("KILN_WORKSPACE", "default")
    with pytest.raises(NotFound, match="trees"):
        pyfunc.load_model("models:/trees/1")


def test_logged_models_are_found_in_kiln_workspace(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fitted: object
) -> None:
    monkeypatch.setenv("KILN_WORKSPACE", TEAM)
    with kiln.start_run() as run:
        pass
    store = open_logged_model_store(tracking_uri, workspace=TEAM)
    logged = store.create_logged_model(
        run.info.experiment_id, str(tmp_path / "root"), name="model", source_run_id=run.info.run_id
    )
    kiln_sklearn.save_model(fitted, Path(logged.artifact_location))

    by_run = pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert by_run.path == Path(logged.artifact_location)
    by_id = pyfunc.load_model(f"models:/{logged.model_id}")
    assert by_id.path == Path(logged.artifact_location)

    monkeypatch.setenv("KILN_WORKSPACE", "default")
    with pytest.raises(NotFound, match=logged.model_id):
        pyfunc.load_model(f"models:/{logged.model_id}")
