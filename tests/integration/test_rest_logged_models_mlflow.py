"""Kiln's REST logged-model store against MLflow's own server (``.venv/bin/mlflow server``).

The contract suite runs against Kiln's server (tests/unit/store/rest); this checks
that the requests are MLflow's too: the real server, one per module, answers them
and its answers read back into the same entities.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiln.entities import LifecycleStage
from kiln.entities.logged_model import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from kiln.errors import InvalidInput, NotFound
from kiln.store.open import open_logged_model_store
from kiln.store.rest.logged_models import RestLoggedModelStore
from kiln.store.rest.tracking import RestTrackingStore, open_rest_store
from kiln.testing.server_process import mlflow_server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server_process(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture
def tracking(mlflow_url: str) -> Iterator[RestTrackingStore]:
    store = open_rest_store(mlflow_url, workspace="default")
    yield store
    store.close()


@pytest.fixture
def models(mlflow_url: str) -> Iterator[RestLoggedModelStore]:
    store = open_logged_model_store(mlflow_url, workspace="default")
    assert isinstance(store, RestLoggedModelStore)
    yield store
    store.close()


def test_logged_models_round_trip_through_mlflows_server(
    tracking: RestTrackingStore, models: RestLoggedModelStore
) -> None:
    experiment_id = tracking.create_experiment("kiln-logged-models")
    run = tracking.create_run(experiment_id, user_id="u", start_time=1000)

    model = models.create_logged_model(
        experiment_id,
        "ignored:/the-server-places-it",
        name="clf",
        source_run_id=run.run_id,
        tags={"team": "a"},
        params={"lr": "0.1"},
        model_type="sklearn",
    )
    assert model.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{model.model_id}/artifacts"
    )
    assert (model.status, model.source_run_id, model.model_type) == (
        LoggedModelStatus.PENDING,
        run.run_id,
        "sklearn",
    )
    assert models.get_logged_model(model.model_id) == model
    other = models.create_logged_model(experiment_id, "", name="other", params={"lr": "0.2"})

    def names(filter_string: str | None = None) -> list[str]:
        return [m.name for m in models.search_logged_models([experiment_id], filter_string)]

    assert names() == ["other", "clf"]
    assert names("params.lr = '0.1'") == ["clf"]
    by_name = models.search_logged_models([experiment_id], order_by=[{"field_name": "name"}])
    assert [m.name for m in by_name] == ["clf", "other"]
    first = models.search_logged_models([experiment_id], max_results=1)
    assert first.next_page_token is not None
    rest = models.search_logged_models(
        [experiment_id], max_results=1, page_token=first.next_page_token
    )
    assert [m.name for m in [*first, *rest]] == ["other", "clf"]

    models.set_logged_model_tags(model.model_id, {"stage": "dev", "gone soon": "x"})
    models.delete_logged_model_tag(model.model_id, "gone soon")
    assert models.get_logged_model(model.model_id).tags == {"team": "a", "stage": "dev"}
    with pytest.raises(NotFound, match="No tag with key 'gone soon'"):
        models.delete_logged_model_tag(model.model_id, "gone soon")
    assert names("tags.stage = 'dev'") == ["clf"]

    models.log_logged_model_params(model.model_id, {"depth": "3"})
    ready = models.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status is LoggedModelStatus.READY
    assert ready.params == {"lr": "0.1", "depth": "3"}
    assert names("name LIKE 'cl%'") == ["clf"]

    acc = LoggedModelMetric("acc", 0.9, 5, 1, run.run_id, "train", "d1")
    models.log_logged_model_metrics(model.model_id, [acc])
    assert models.get_logged_model(model.model_id).metrics == (acc,)
    assert names("metrics.acc > 0.5") == ["clf"]
    assert tracking.get_run(run.run_id).data.metrics == {"acc": 0.9}

    models.log_outputs(run.run_id, [LoggedModelOutput(model.model_id, 2)])
    assert models.get_outputs(run.run_id) == [LoggedModelOutput(model.model_id, 2)]
    models.log_model_inputs(run.run_id, [other.model_id, other.model_id])
    assert models.get_model_inputs(run.run_id) == [other.model_id]

    models.delete_logged_model(other.model_id)
    with pytest.raises(NotFound, match=other.model_id):
        models.get_logged_model(other.model_id)
    deleted = models.get_logged_model(other.model_id, allow_deleted=True)
    assert (deleted.name, deleted.lifecycle_stage) == ("other", LifecycleStage.DELETED)
    assert names() == ["clf"]


def test_mlflows_errors_come_back_as_kilns(
    tracking: RestTrackingStore, models: RestLoggedModelStore
) -> None:
    missing = "m-" + "0" * 32
    with pytest.raises(NotFound, match=missing):
        models.get_logged_model(missing)
    with pytest.raises(NotFound, match=missing):
        models.finalize_logged_model(missing, LoggedModelStatus.READY)
    with pytest.raises(NotFound, match="424242"):
        models.create_logged_model("424242", "")
    experiment_id = tracking.create_experiment("kiln-logged-model-errors")
    with pytest.raises(InvalidInput, match="Invalid model name"):
        models.create_logged_model(experiment_id, "", name="a/b")
    with pytest.raises(InvalidInput, match="names no run"):
        models.log_logged_model_metrics(missing, [LoggedModelMetric("acc", 1.0, 1)])
