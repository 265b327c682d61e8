"""``kiln server --backend-store-uri file://...`` keeps the registry and logged models on disk.

A real server (two workers) over an mlruns folder: the official client logs and
registers a model, logs model metrics and sets an alias; after a restart every
one of them is still there, and ``mlflow`` itself reads the same folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.testing.server import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn import datasets as sklearn_datasets  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

SAVE_ARGS: dict[str, Any] = {
    "serialization_format": "cloudpickle",
    "pip_requirements": ["scikit-learn", "cloudpickle"],
}


@pytest.fixture
def tracking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    previous = mlflow.get_tracking_uri()
    try:
        yield
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def _seen(client: MlflowClient, model_id: str) -> dict[str, Any]:
    registered = client.get_registered_model("wine")
    version = client.get_model_version_by_alias("wine", "champion")
    logged = client.get_logged_model(model_id)
    return {
        "tags": registered.tags,
        "aliases": registered.aliases,
        "version": (str(version.version), version.source, version.tags),
        "metrics": sorted((m.key, m.value, m.dataset_name) for m in logged.metrics),
        "model": (logged.name, logged.params),
    }


def test_registry_and_logged_models_survive_a_restart_and_mlflow_reads_them(
    tmp_path: Path, tracking: None
) -> None:
    mlruns = tmp_path / "mlruns"
    server = ServerProcess(mlruns.as_uri(), tmp_path / "server", workers=2)
    server.start()
    try:
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment("file-backend")
        X, y = sklearn_datasets.load_wine(return_X_y=True)
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                DecisionTreeClassifier(max_depth=3).fit(X, y),
                name="model",
                registered_model_name="wine",
                params={"max_depth": "3"},
                **SAVE_ARGS,
            )
            mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, model_id=info.model_id)
        client = MlflowClient(server.url)
        client.set_registered_model_tag("wine", "team", "a")
        client.set_model_version_tag("wine", "1", "checked", "yes")
        client.set_registered_model_alias("wine", "champion", "1")
        before = _seen(client, info.model_id)
    finally:
        server.stop()
    assert before["metrics"] == [("acc", 0.9, None), ("f1", 0.8, None)]
    assert before["aliases"] == {"champion": "1"}

    server.start()
    try:
        after = _seen(MlflowClient(server.url), info.model_id)
    finally:
        server.stop()
    assert after == before

    theirs = _seen(MlflowClient(tracking_uri=mlruns.as_uri()), info.model_id)
    assert theirs == before
