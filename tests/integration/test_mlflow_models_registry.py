"""The real ``mlflow`` 3 client logs, registers and loads models through ``kiln server``.

One server subprocess (SQLite backend, proxied artifacts) for the module. Models
are saved with ``serialization_format="cloudpickle"`` (MLflow 3.17 defaults to
skops, which is not installed) and loaded with
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``, which MLflow 3.17 requires to load
any sklearn model, skops included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from kiln.testing.server_process import kiln_server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn import datasets as sklearn_datasets  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

# cloudpickle: see the module docstring; pip_requirements given so MLflow does not spend
# half a minute inferring them in a subprocess.
SAVE_ARGS: dict[str, Any] = {
    "serialization_format": "cloudpickle",
    "pip_requirements": ["scikit-learn", "cloudpickle"],
}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kiln_server_process(tmp_path_factory.mktemp("kiln-models")) as url:
        yield url


@pytest.fixture
def client(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server_url)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server_url)
    try:
        yield MlflowClient(tracking_uri=server_url)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def wine() -> tuple[Any, Any]:
    data = sklearn_datasets.load_wine()
    return data.data, data.target


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _log(model: Any, X: Any, registered: str | None) -> tuple[str, Any]:
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=registered, input_example=X[:5], **SAVE_ARGS
        )
    return run.info.run_id, info


def test_log_register_alias_and_load(
    client: MlflowClient, server_url: str, wine: tuple[Any, Any]
) -> None:
    X, y = wine
    mlflow.set_experiment(_unique("wine"))
    name = _unique("wine")
    first = LogisticRegression(max_iter=5000).fit(X, y)
    run_id, info = _log(first, X, name)
    assert str(info.registered_model_version) == "1"
    assert info.model_id.startswith("m-")

    logged = client.get_logged_model(info.model_id)
    assert (logged.name, logged.source_run_id, str(logged.status)) == ("model", run_id, "READY")
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
    names = {a.path for a in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "model.pkl", "input_example.json"} <= names

    client.set_registered_model_alias(name, "champion", "1")
    expected = first.predict(X)
    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(by_alias.predict(X), expected)
    by_version = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(by_version.predict(X), expected)
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(by_run.predict(X), expected)
    by_id = mlflow.sklearn.load_model(f"models:/{info.model_id}")
    np.testing.assert_array_equal(by_id.predict(X), expected)

    mv = client.get_model_version(name, "1")
    assert (mv.run_id, mv.source) == (run_id, f"models:/{info.model_id}")
    # MLflow's ModelVersion.from_proto drops model_id; the wire answer carries it.
    raw = httpx.get(
        f"{server_url}/api/2.0/mlflow/model-versions/get", params={"name": name, "version": "1"}
    ).json()
    assert raw["model_version"]["model_id"] == info.model_id
    assert client.get_model_version_download_uri(name, "1") == logged.artifact_location


def test_registry_versions_tags_stages_and_search(
    client: MlflowClient, wine: tuple[Any, Any]
) -> None:
    X, y = wine
    mlflow.set_experiment(_unique("wine"))
    name = _unique("wine")
    first = LogisticRegression(max_iter=5000).fit(X, y)
    second = DecisionTreeClassifier(random_state=0, max_depth=2).fit(X, y)
    _log(first, X, name)
    run_2, info_2 = _log(second, X, name)
    assert str(info_2.registered_model_version) == "2"

    client.update_registered_model(name, description="wine classifiers")
    client.set_registered_model_tag(name, "team", "cellar")
    client.update_model_version(name, "2", description="a shallow tree")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.set_registered_model_alias(name, "challenger", "2")

    model = client.get_registered_model(name)
    assert (model.description, model.tags) == ("wine classifiers", {"team": "cellar"})
    assert model.aliases == {"challenger": "2"}
    mv2 = client.get_model_version_by_alias(name, "challenger")
    assert (mv2.version, mv2.run_id, mv2.description, mv2.tags) == (
        "2",
        run_2,
        "a shallow tree",
        {"validated": "yes"},
    )

    found = client.search_registered_models(filter_string=f"name = '{name}'")
    assert [m.name for m in found] == [name]
    versions = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in versions] == ["1", "2"]
    assert [v.run_id for v in client.search_model_versions(f"run_id = '{run_2}'")] == [run_2]

    with pytest.warns(FutureWarning):
        staged = client.transition_model_version_stage(name, "2", "Production")
    assert staged.current_stage == "Production"
    with pytest.warns(FutureWarning):
        latest = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in latest] == ["2"]

    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(f"models:/{name}/Production").predict(X), second.predict(X)
    )
    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(f"models:/{name}@challenger").predict(X), second.predict(X)
    )
    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(f"models:/{name}/1").predict(X), first.predict(X)
    )

    client.delete_registered_model_alias(name, "challenger")
    with pytest.raises(MlflowException, match="alias"):
        client.get_model_version_by_alias(name, "challenger")


def test_logged_model_api_round_trip(client: MlflowClient, server_url: str) -> None:
    experiment_id = mlflow.set_experiment(_unique("lm")).experiment_id
    with mlflow.start_run() as run:
        model = mlflow.create_external_model(name="agent", params={"lr": "0.1"}, tags={"k": "v"})
    assert model.source_run_id == run.info.run_id
    client.set_logged_model_tags(model.model_id, {"stage": "dev", "k": "w"})
    client.delete_logged_model_tag(model.model_id, "stage")
    got = client.get_logged_model(model.model_id)
    assert (got.tags.get("k"), "stage" in got.tags, got.params) == ("w", False, {"lr": "0.1"})
    assert str(got.status) == "READY"

    other = mlflow.initialize_logged_model(name="draft", experiment_id=experiment_id)
    assert str(other.status) == "PENDING"
    page = client.search_logged_models([experiment_id], filter_string="params.lr = '0.1'")
    assert [m.model_id for m in page] == [model.model_id]
    ordered = client.search_logged_models(
        [experiment_id], order_by=[{"field_name": "name", "ascending": True}], max_results=1
    )
    assert [m.name for m in ordered] == ["agent"]
    rest = client.search_logged_models(
        [experiment_id],
        order_by=[{"field_name": "name", "ascending": True}],
        max_results=1,
        page_token=ordered.token,
    )
    assert [m.name for m in rest] == ["draft"]
    assert rest.token is None

    client.delete_logged_model(other.model_id)
    with pytest.raises(MlflowException, match="not found"):
        client.get_logged_model(other.model_id)
    answer = httpx.get(
        f"{server_url}/api/2.0/mlflow/logged-models/{other.model_id}",
        params={"allow_deleted": "true"},
    )
    assert answer.json()["model"]["info"]["model_id"] == other.model_id


def test_logged_model_errors_are_mlflow_errors(client: MlflowClient) -> None:
    experiment_id = mlflow.set_experiment(_unique("lm")).experiment_id
    with pytest.raises(MlflowException, match="not found"):
        client.get_logged_model("m-" + "0" * 32)
    with pytest.raises(MlflowException, match="Invalid model name"):
        client.create_logged_model(experiment_id, name="a/b")
    with pytest.raises(MlflowException, match="invalid attribute"):
        client.search_logged_models([experiment_id], filter_string="attributes.nope = 'x'")


def test_files_route_serves_a_logged_model_file(
    client: MlflowClient, server_url: str, wine: tuple[Any, Any], tmp_path: Path
) -> None:
    X, y = wine
    mlflow.set_experiment(_unique("wine"))
    _, info = _log(LogisticRegression(max_iter=5000).fit(X, y), X, None)
    base = f"{server_url}/ajax-api/2.0/mlflow/logged-models/{info.model_id}/artifacts"
    mlmodel = httpx.get(f"{base}/files", params={"artifact_file_path": "MLmodel"})
    assert mlmodel.status_code == 200
    assert f"model_id: {info.model_id}" in mlmodel.text
    listing = httpx.get(f"{base}/directories").json()
    assert "MLmodel" in {f["path"] for f in listing["files"]}
    escape = httpx.get(f"{base}/files", params={"artifact_file_path": "../../x"})
    assert escape.status_code == 400
