"""``mlflow.log_input`` through a real ``kiln server`` subprocess (SQLite backend).

The real MLflow client logs ``mlflow.data.from_pandas`` datasets and reads them
back with ``get_run`` and ``search_runs``; Kiln's own client writes to the same
server and MLflow reads what it wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow import data as mlflow_data

from kiln.entities import Dataset, DatasetInput, InputTag
from kiln.store.rest.tracking import open_rest_store
from kiln.testing.server_process import kiln_server_process
from kiln.tracking.client import KilnClient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::UserWarning"),  # mlflow's hints on integer columns
]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kiln_server_process(tmp_path_factory.mktemp("kiln-datasets")) as url:
        yield url


@pytest.fixture
def experiment_id(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server_url)
    try:
        yield mlflow.create_experiment(f"datasets-{uuid.uuid4().hex[:8]}")
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"alcohol": [12.5, 13.1, 11.9], "quality": [5, 6, 5]})


def _entity(dataset_input: Any) -> dict[str, Any]:
    return dict(dataset_input.dataset.to_dictionary())


def test_log_input_round_trips_through_kiln(experiment_id: str) -> None:
    dataset = mlflow_data.from_pandas(_frame(), source="/data/wine.csv", name="wine")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="training", tags={"split": "a"})
        mlflow.log_input(dataset, context="ignored: already linked")
    (stored,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert _entity(stored) == dataset._to_mlflow_entity().to_dictionary()
    assert {t.key: t.value for t in stored.tags} == {
        "mlflow.data.context": "training",
        "split": "a",
    }


def test_datasets_are_shared_by_runs_and_searchable(experiment_id: str) -> None:
    train = mlflow_data.from_pandas(_frame(), source="/data/wine.csv", name="wine")
    test = mlflow_data.from_pandas(_frame().head(1), source="/data/wine.csv", name="wine")
    with mlflow.start_run(experiment_id=experiment_id, run_name="first"):
        mlflow.log_input(train, context="training")
    with mlflow.start_run(experiment_id=experiment_id, run_name="second"):
        mlflow.log_input(train, context="training")
        mlflow.log_input(test, context="eval")
    found = mlflow.search_runs(
        [experiment_id], filter_string="datasets.context = 'eval'", output_format="list"
    )
    assert [r.info.run_name for r in found] == ["second"]
    found = mlflow.search_runs(
        [experiment_id],
        filter_string=f"datasets.digest = '{train.digest}'",
        order_by=["attributes.run_name"],
        output_format="list",
    )
    assert [r.info.run_name for r in found] == ["first", "second"]
    assert [len(r.inputs.dataset_inputs) for r in found] == [1, 2]


def test_mlflow_reads_what_kiln_logged(server_url: str, experiment_id: str) -> None:
    store = open_rest_store(server_url, workspace="default")
    try:
        run = store.create_run(experiment_id, run_name="kiln")
        dataset = Dataset("raw", "0badc0de", "s3", '{"uri": "s3://b/raw.parquet"}')
        store.log_inputs(run.run_id, [DatasetInput(dataset, (InputTag("a", "1"),))])
    finally:
        store.close()
    (stored,) = mlflow.get_run(run.run_id).inputs.dataset_inputs
    assert _entity(stored) == {
        "name": "raw",
        "digest": "0badc0de",
        "source_type": "s3",
        "source": '{"uri": "s3://b/raw.parquet"}',
        "schema": None,
        "profile": None,
    }
    assert [(t.key, t.value) for t in stored.tags] == [("a", "1")]


def test_kiln_client_log_input_to_the_server(server_url: str, experiment_id: str) -> None:
    store = open_rest_store(server_url, workspace="default")
    try:
        client = KilnClient(store)
        run = client.create_run(experiment_id)
        client.log_input(run.info.run_id, _frame(), context="training")
    finally:
        store.close()
    (stored,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    expected = mlflow_data.from_pandas(_frame())._to_mlflow_entity()
    assert (stored.dataset.schema, stored.dataset.profile) == (expected.schema, expected.profile)
    assert [(t.key, t.value) for t in stored.tags] == [("mlflow.data.context", "training")]
