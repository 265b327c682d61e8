"""MLflow 3's logged-model flow under the real mlflow and under ``import kiln as mlflow``.

The demo (``log_model`` with params -> a model id; ``log_metrics`` with that id and an
eval dataset; ``search_logged_models`` with a metric filter and an order; load
``models:/m-<id>``; register from it) runs once per side on its own SQLite store, and
the tests compare what each returns: fields, types and URI shapes. The other tests
run Kiln alone: every store, the active model, the client methods, failures.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import mlflow as real_mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import kiln
from kiln.entities.logged_model import LoggedModelStatus
from kiln.errors import InvalidInput, NotFound
from kiln.tracking import fluent

X = np.random.default_rng(3).normal(size=(40, 3))
Y = (X[:, 0] > 0).astype("int64")
CONTEXT_TAGS = {"mlflow.user", "mlflow.source.name", "mlflow.source.type"}


@pytest.fixture
def real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The real mlflow on its own SQLite store; its globals and env vars put back after."""
    from mlflow.tracking import _tracking_service
    from mlflow.tracking import fluent as mlflow_fluent

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    service = _tracking_service.utils
    monkeypatch.setattr(service, "_tracking_uri", service._tracking_uri)
    monkeypatch.setattr(mlflow_fluent, "_active_experiment_id", None)
    real_mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = real_mlflow.create_experiment("demo", (tmp_path / "mlruns").as_uri())
    real_mlflow.set_experiment(experiment_id=experiment)
    yield real_mlflow
    while real_mlflow.active_run() is not None:
        real_mlflow.end_run()
    real_mlflow.clear_active_model()


def _demo(mlflow: Any) -> dict[str, Any]:
    """MLflow 3's logged-model walkthrough, written once for both modules."""
    eval_data = mlflow.data.from_numpy(X, targets=Y, name="eval")
    infos = {}
    for name, c, accuracy in (("weak", 0.01, 0.6), ("strong", 1.0, 0.9)):
        model = LogisticRegression(C=c).fit(X, Y)
        with mlflow.start_run() as run:
            mlflow.log_param("solver", "lbfgs")
            info = mlflow.sklearn.log_model(
                model, name=name, params={"C": c}, registered_model_name=f"demo-{name}"
            )
            mlflow.log_metrics({"accuracy": accuracy}, model_id=info.model_id, dataset=eval_data)
            mlflow.log_metric("f1", accuracy - 0.1, model_id=info.model_id, dataset=eval_data)
        infos[name] = (info, run.info.run_id, run.info.experiment_id)
    by_metric = mlflow.search_logged_models(
        filter_string="metrics.accuracy > 0.5",
        order_by=[{"field_name": "metrics.accuracy", "ascending": False}],
        output_format="list",
    )
    frame = mlflow.search_logged_models(filter_string="metrics.accuracy > 0.8")
    by_param = mlflow.search_logged_models(filter_string="params.C = '0.01'", output_format="list")
    strong, run_id, _ = infos["strong"]
    version = mlflow.register_model(strong.model_uri, "demo-again")
    return {
        "infos": infos,
        "ordered": [m.name for m in by_metric],
        "frame": frame,
        "by_param": [m.name for m in by_param],
        "strong": mlflow.get_logged_model(strong.model_id),
        "weak": mlflow.get_logged_model(infos["weak"][0].model_id),
        "predicted": mlflow.pyfunc.load_model(strong.model_uri).predict(X[:5]),
        "by_run": mlflow.sklearn.load_model(f"runs:/{run_id}/strong").predict(X[:5]),
        "version": version,
        "run_files": [f.path for f in mlflow.MlflowClient().list_artifacts(run_id)],
        "last": mlflow.last_logged_model().name,
    }


def _info_shape(info: Any, run_id: str) -> dict[str, Any]:
    model_id = info.model_id
    return {
        "id": (type(model_id), model_id[:2], len(model_id)),
        "uri": info.model_uri == f"models:/{model_id}",
        "location": info.artifact_path.endswith(f"/models/{model_id}/artifacts"),
        "version": (type(info.registered_model_version), info.registered_model_version),
        "run": info.run_id == run_id,
        "uuid": info.model_uuid == model_id,
        "name": info.name,
        "params": info.params,
    }


def _model_shape(model: Any, run_id: str, experiment_id: str) -> dict[str, Any]:
    return {
        "status": str(getattr(model.status, "value", model.status)),
        "source": model.source_run_id == run_id,
        "experiment": model.experiment_id == experiment_id,
        "type": model.model_type,
        "params": model.params,
        "tags": {k for k in model.tags if not k.startswith("mlflow.source.git")},
        "location": model.artifact_location.endswith(f"/models/{model.model_id}/artifacts"),
        "uri": model.model_uri == f"models:/{model.model_id}",
        "metrics": sorted(
            (m.key, m.value, m.step, m.dataset_name, m.dataset_digest, m.run_id == run_id)
            for m in model.metrics
        ),
    }


@pytest.fixture
def both(real: ModuleType, tracking_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    expected = _demo(real)
    got = _demo(kiln)
    return expected, got


def test_log_model_returns_what_mlflow_returns(both: tuple[dict[str, Any], ...]) -> None:
    expected, got = both
    for name in ("weak", "strong"):
        want_info, want_run, want_experiment = expected["infos"][name]
        got_info, got_run, got_experiment = got["infos"][name]
        assert _info_shape(got_info, got_run) == _info_shape(want_info, want_run)
        assert _model_shape(got[name], got_run, got_experiment) == _model_shape(
            expected[name], want_run, want_experiment
        )
    strong = _model_shape(got["strong"], got["infos"]["strong"][1], "0")
    assert strong["status"] == "READY"
    assert strong["params"] == {"C": "1.0", "solver": "lbfgs"}  # the run's params too
    assert strong["tags"] == CONTEXT_TAGS | {"mlflow.modelVersions"}
    assert [m[:4] for m in strong["metrics"]] == [
        ("accuracy", 0.9, 0, "eval"),
        ("f1", 0.8, 0, "eval"),
    ]
    assert got["run_files"] == expected["run_files"] == []
    assert got["last"] == expected["last"] == "strong"


def test_search_load_and_register_as_mlflow(both: tuple[dict[str, Any], ...]) -> None:
    expected, got = both
    assert got["ordered"] == expected["ordered"] == ["strong", "weak"]
    assert got["by_param"] == expected["by_param"] == ["weak"]
    frame, want = got["frame"], expected["frame"]
    assert list(frame.columns) == list(want.columns)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        c: str(t) for c, t in want.dtypes.items()
    }
    assert list(frame["name"]) == list(want["name"]) == ["strong"]
    assert list(frame["status"]) == list(want["status"]) == ["READY"]
    np.testing.assert_array_equal(got["predicted"], expected["predicted"])
    np.testing.assert_array_equal(got["by_run"], expected["by_run"])
    strong_id = got["infos"]["strong"][0].model_id
    version = got["version"]
    want_version = expected["version"]
    assert (version.source, version.run_id) == (
        f"models:/{strong_id}",
        got["infos"]["strong"][1],
    )
    assert want_version.source == f"models:/{expected['infos']['strong'][0].model_id}"
    assert version.version == want_version.version == 1
    tags = kiln.get_logged_model(strong_id).tags["mlflow.modelVersions"]
    assert tags == '[{"name": "demo-strong", "version": 1}, {"name": "demo-again", "version": 1}]'


@pytest.mark.parametrize("scheme", ["sqlite", "file", "memory"])
def test_every_store_keeps_logged_models(
    scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = {
        "sqlite": f"sqlite:///{tmp_path / 'k.db'}",
        "file": str(tmp_path / "mlruns"),
        "memory": "memory://",
    }[scheme]
    monkeypatch.setenv("KILN_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    fluent.reset_state()
    fluent.set_tracking_uri(uri)
    try:
        model = LogisticRegression().fit(X, Y)
        with kiln.start_run() as run:
            info = kiln.sklearn.log_model(model, name="clf", params={"C": 1})
            kiln.log_metric("acc", 0.5, model_id=info.model_id)
        logged = kiln.get_logged_model(info.model_id)
        assert (logged.status, logged.source_run_id) == (LoggedModelStatus.READY, run.info.run_id)
        assert logged.params == {"C": "1"}
        assert [(m.key, m.value) for m in logged.metrics] == [("acc", 0.5)]
        assert (Path(urlparse(logged.artifact_location).path) / "MLmodel").is_file()
        expected = model.predict(X[:3])
        got = kiln.pyfunc.load_model(info.model_uri).predict(X[:3])
        np.testing.assert_array_equal(got, expected)
        if scheme != "memory":  # a memory:// URI opened again is a new, empty store
            by_run = kiln.sklearn.load_model(f"runs:/{run.info.run_id}/clf")
            np.testing.assert_array_equal(by_run.predict(X[:3]), expected)
    finally:
        fluent.reset_state()


def test_artifact_path_is_deprecated(tracking_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), kiln.start_run():
        info = kiln.sklearn.log_model(LogisticRegression().fit(X, Y), artifact_path="old")
    assert "`artifact_path` is deprecated. Please use `name` instead." in caplog.text
    assert (info.name, kiln.get_logged_model(str(info.model_id)).name) == ("old", "old")


def test_a_failed_save_leaves_a_failed_model(tracking_uri: str) -> None:
    with kiln.start_run(), pytest.raises(InvalidInput, match="serialization format"):
        kiln.sklearn.log_model(LogisticRegression(), name="bad", serialization_format="json")
    last = kiln.last_logged_model()
    assert last is not None
    assert (last.name, last.status) == ("bad", LoggedModelStatus.FAILED)


def test_initialize_then_log_into_it(tracking_uri: str) -> None:
    with kiln.start_run() as run:
        pending = kiln.initialize_logged_model(name="later", model_type="agent", params={"k": 1})
        assert pending.status is LoggedModelStatus.PENDING
        assert pending.source_run_id == run.info.run_id
        info = kiln.sklearn.log_model(
            LogisticRegression().fit(X, Y), name="later", model_id=pending.model_id, step=3
        )
    assert info.model_id == pending.model_id
    model = kiln.get_logged_model(pending.model_id)
    assert (model.status, model.model_type) == (LoggedModelStatus.READY, "agent")
    outputs = kiln.MlflowClient()._logged_models().get_outputs(run.info.run_id)
    assert [(o.model_id, o.step) for o in outputs] == [(pending.model_id, 3)]


def test_tags_params_and_external_models(tracking_uri: str) -> None:
    external = kiln.create_external_model(name="agent", tags={"team": "a"}, params={"p": "1"})
    assert external.status is LoggedModelStatus.READY
    assert external.tags["mlflow.model.isExternal"] == "true"
    assert (Path(external.artifact_location) / "MLmodel").is_file()
    kiln.set_logged_model_tags(external.model_id, {"stage": 2})
    kiln.delete_logged_model_tag(external.model_id, "team")
    kiln.log_model_params({"q": "2"}, model_id=external.model_id)
    model = kiln.get_logged_model(external.model_id)
    assert (model.tags["stage"], "team" in model.tags) == ("2", False)
    assert model.params == {"p": "1", "q": "2"}
    with pytest.raises(NotFound, match="team"):
        kiln.delete_logged_model_tag(external.model_id, "team")
    failed = kiln.finalize_logged_model(kiln.initialize_logged_model().model_id, "FAILED")
    assert failed.status is LoggedModelStatus.FAILED
    with pytest.raises(InvalidInput, match="output format"):
        kiln.search_logged_models(output_format="json")  # type: ignore[arg-type]


def test_the_active_model_receives_metrics(tracking_uri: str) -> None:
    assert kiln.get_active_model_id() is None
    with kiln.set_active_model(name="chat") as active:
        assert kiln.get_active_model_id() == active.model_id
        assert active.tags["mlflow.model.isExternal"] == "true"
        with kiln.start_run():
            kiln.log_metric("latency", 1.5)
        kiln.log_model_params({"temperature": "0.2"})
    assert kiln.get_active_model_id() is None
    model = kiln.get_logged_model(active.model_id)
    assert [(m.key, m.value) for m in model.metrics] == [("latency", 1.5)]
    assert model.params == {"temperature": "0.2"}
    again = kiln.set_active_model(name="chat")  # the newest model of that name
    assert again.model_id == active.model_id
    kiln.clear_active_model()
    assert kiln.get_active_model_id() is None
    with pytest.raises(InvalidInput, match="Either name or model_id"):
        kiln.set_active_model()
    with pytest.raises(InvalidInput, match="active model"):
        kiln.log_model_params({"x": "1"})


def test_run_metrics_follow_the_model_logged_at_their_step(tracking_uri: str) -> None:
    with kiln.start_run():
        kiln.log_metric("before", 1.0)
        info = kiln.sklearn.log_model(LogisticRegression().fit(X, Y), name="m")
        kiln.log_metric("after", 2.0)
        kiln.log_metric("later_step", 3.0, step=1)
    metrics = kiln.get_logged_model(str(info.model_id)).metrics
    assert sorted((m.key, m.value) for m in metrics) == [("after", 2.0), ("before", 1.0)]


def test_mlflow_client_methods(tracking_uri: str) -> None:
    client = kiln.MlflowClient()
    run = client.create_run("0")
    run_id = run.info.run_id
    model = client.create_logged_model("0", name="m", source_run_id=run_id, params={"a": "1"})
    assert (model.status, model.tags) == (LoggedModelStatus.PENDING, {})
    client.log_model_params(model.model_id, {"b": "2"})
    client.set_logged_model_tags(model.model_id, {"t": "v"})
    client.delete_logged_model_tag(model.model_id, "t")
    client.log_metric(run_id, "acc", 0.7, model_id=model.model_id, dataset_name="d")
    other = client.create_logged_model("0", name="other")
    client.log_inputs(run_id, models=[real_mlflow.entities.LoggedModelInput(other.model_id)])
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert (ready.status, ready.params) == (LoggedModelStatus.READY, {"a": "1", "b": "2"})
    assert [(m.key, m.dataset_name, m.run_id) for m in ready.metrics] == [("acc", "d", run_id)]
    assert client.get_run(run_id).data.metrics == {"acc": 0.7}
    store = client._logged_models()
    assert store.get_model_inputs(run_id) == sorted([model.model_id, other.model_id])
    page = client.search_logged_models(["0"], filter_string="name = 'm'", max_results=1)
    assert [m.model_id for m in page.to_list()] == [model.model_id]
    assert client.get_logged_model(model.model_id).name == "m"
    client.delete_logged_model(other.model_id)
    with pytest.raises(NotFound, match=other.model_id):
        client.get_logged_model(other.model_id)


def test_outputs_and_model_files(tracking_uri: str, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hi")
    with kiln.start_run() as run, contextlib.closing(kiln.MlflowClient()) as client:
        model = kiln.initialize_logged_model(name="files")
        kiln.log_outputs([real_mlflow.entities.LoggedModelOutput(model.model_id, step=2)])
        client.log_model_artifact(model.model_id, str(note), "docs")
        names = [f.path for f in client.list_logged_model_artifacts(model.model_id)]
        inside = [f.path for f in client.list_logged_model_artifacts(model.model_id, "docs")]
        kiln.log_metric("at_two", 1.0, step=2)
        with pytest.raises(InvalidInput, match="no such file"):
            client.log_model_artifact(model.model_id, str(tmp_path / "missing"))
        outputs = client._logged_models().get_outputs(run.info.run_id)
    assert (names, inside) == (["docs"], ["docs/note.txt"])
    assert [(o.model_id, o.step) for o in outputs] == [(model.model_id, 2)]
    assert [m.key for m in kiln.get_logged_model(model.model_id).metrics] == ["at_two"]


def test_search_frame_is_empty_with_no_models(tracking_uri: str) -> None:
    assert isinstance(kiln.search_logged_models(), pd.DataFrame)
    assert kiln.search_logged_models(output_format="list") == []
