"""kiln.keras.autolog against the real mlflow.keras.autolog: the same fits, the same names.

Each case fits the same tiny model once under MLflow's autolog (its own SQLite
store) and once under Kiln's, then compares param names, metric names with the
steps they were logged at, tag keys, run artifacts, dataset contexts and the
files of the logged model. MLflow 3 keeps the model in a LoggedModel; Kiln keeps
it where ``kiln.keras.log_model`` puts it, so the run artifacts are compared
without ``model/`` and the model's files are compared on their own. Git tags
and ``mlflow.log-model.history`` are left out: each side's ``start_run``
resolves the first from the process, and the second goes with a model logged
in the run (as MLflow 2 did).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import mlflow.keras

import kiln
import kiln.keras
import kiln.pyfunc
from kiln.models.resolve import download_model
from kiln.tracking import fluent

IGNORED_TAGS = ("mlflow.source.git.", "mlflow.log-model.history")
X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
Y = X.sum(axis=1)


@dataclass
class Logged:
    """What one run holds, by name; metrics as {name: steps}."""

    params: set[str]
    metrics: dict[str, list[int]]
    tags: set[str]
    artifacts: set[str]
    contexts: list[str]
    model_files: set[str]


def _model() -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def _files(list_artifacts: Any, path: str | None = None) -> set[str]:
    files: set[str] = set()
    for item in list_artifacts(path):
        files |= _files(list_artifacts, item.path) if item.is_dir else {item.path}
    return files


def _contexts(run: Any) -> list[str]:
    return sorted(
        tag.value
        for item in run.inputs.dataset_inputs
        for tag in item.tags
        if tag.key == "mlflow.data.context"
    )


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One SQLite store for the real mlflow (creating its tables takes seconds).

    mlflow's setters write MLFLOW_TRACKING_URI/MLFLOW_EXPERIMENT_ID, which Kiln
    reads too: both, and mlflow's globals, are put back afterwards.
    """
    from mlflow.tracking import _tracking_service
    from mlflow.tracking import fluent as mlflow_fluent

    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
            monkeypatch.delenv(name, raising=False)
        service = _tracking_service.utils
        monkeypatch.setattr(service, "_tracking_uri", service._tracking_uri)
        monkeypatch.setattr(mlflow_fluent, "_active_experiment_id", None)
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield folder


@pytest.fixture
def mlflow_store(
    mlflow_db: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """A fresh experiment of the real mlflow for this test, its artifacts in mlflow_db."""
    name = request.node.name
    experiment = mlflow.create_experiment(name, (mlflow_db / name).as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")  # mlflow keeps its own global; Kiln uses "0"
    yield MlflowClient()
    mlflow.keras.autolog(disable=True)
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def kiln_store(tracking_uri: str) -> Iterator[str]:
    yield tracking_uri
    kiln.keras.autolog(disable=True)


def _mlflow_run(client: MlflowClient) -> Logged:
    from mlflow.tracking import fluent as mlflow_fluent

    experiment = mlflow.get_experiment(mlflow_fluent._get_experiment_id())
    (run,) = client.search_runs([experiment.experiment_id])
    model_files: set[str] = set()
    for model in mlflow.search_logged_models([experiment.experiment_id], output_format="list"):
        folder = Path(urlparse(model.artifact_location).path)
        model_files |= {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    run_id = run.info.run_id
    return Logged(
        set(run.data.params),
        {k: [m.step for m in client.get_metric_history(run_id, k)] for k in run.data.metrics},
        {k for k in run.data.tags if not k.startswith(IGNORED_TAGS)},
        _files(lambda path: client.list_artifacts(run_id, path)),
        _contexts(run),
        model_files,
    )


def _kiln_model_uri(run_id: str, artifacts: set[str]) -> str:
    """Where kiln.keras.log_model put the model: in the run, or as a logged model."""
    if "model/MLmodel" in artifacts:
        return f"runs:/{run_id}/model"
    model = kiln.last_logged_model()  # type: ignore[attr-defined]
    return f"models:/{model.model_id}"


def _kiln_run(with_model: bool) -> tuple[str, Logged]:
    (run,) = fluent.search_runs(experiment_ids=["0"], output_format="list")
    run_id = run.info.run_id
    client = fluent._client()
    artifacts = _files(lambda path: client.list_artifacts(run_id, path))
    model_files: set[str] = set()
    if with_model:
        folder = download_model(_kiln_model_uri(run_id, artifacts))
        model_files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    return run_id, Logged(
        set(run.data.params),
        {k: [m.step for m in fluent.get_metric_history(run_id, k)] for k in run.data.metrics},
        {k for k in run.data.tags if not k.startswith(IGNORED_TAGS)},
        {path for path in artifacts if not path.startswith("model/")},
        _contexts(run),
        model_files,
    )


def _fit(**fit_kwargs: Any) -> keras.Model:
    model = _model()
    callbacks = fit_kwargs.pop("callbacks", lambda: [])()
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=callbacks, **fit_kwargs)
    return model


def _fit_both(
    mlflow_store: MlflowClient, options: dict[str, Any], **fit_kwargs: Any
) -> tuple[Logged, str, Logged, keras.Model]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.keras.autolog(**options)
        _fit(**fit_kwargs)
        mlflow.keras.autolog(disable=True)
    expected = _mlflow_run(mlflow_store)
    kiln.keras.autolog(**options)
    model = _fit(**fit_kwargs)
    kiln.keras.autolog(disable=True)
    run_id, got = _kiln_run(options.get("log_models", True))
    return expected, run_id, got, model


def _assert_same(got: Logged, expected: Logged) -> None:
    assert got.params == expected.params
    assert got.metrics == expected.metrics
    assert got.tags == expected.tags
    assert got.artifacts == expected.artifacts
    assert got.contexts == expected.contexts
    assert got.model_files == expected.model_files


def test_fit_logs_what_mlflow_logs(mlflow_store: MlflowClient, kiln_store: str) -> None:
    expected, run_id, got, model = _fit_both(mlflow_store, {})
    _assert_same(got, expected)
    assert {"batch_size", "epochs", "optimizer_name", "optimizer_learning_rate"} <= got.params
    assert got.metrics == {"loss": [0, 1, 2], "mae": [0, 1, 2]}
    assert got.artifacts == {"model_summary.txt"}
    assert got.contexts == ["train"]
    run = fluent.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "keras"
    assert run.data.params["batch_size"] == "16"
    assert run.data.params["optimizer_name"].startswith("adam")
    assert fluent.active_run() is None

    uri = _kiln_model_uri(run_id, _files(lambda p: fluent._client().list_artifacts(run_id, p)))
    expected_out = model.predict(X[:5], verbose=0)
    loaded = kiln.keras.load_model(uri)
    np.testing.assert_allclose(loaded.predict(X[:5], verbose=0), expected_out, rtol=1e-5)
    pyfunc = kiln.pyfunc.load_model(uri)
    np.testing.assert_allclose(pyfunc.predict(X[:5]), expected_out, rtol=1e-5)
    signature = pyfunc.metadata.signature
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.to_list() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_mlflow = mlflow.pyfunc.load_model(str(download_model(uri))).predict(X[:5])
    np.testing.assert_allclose(np.asarray(by_mlflow), expected_out, rtol=1e-5)


def test_validation_and_early_stopping_match_mlflow(
    mlflow_store: MlflowClient, kiln_store: str
) -> None:
    def stop_after_two() -> list[Any]:
        return [keras.callbacks.EarlyStopping(monitor="loss", min_delta=100.0, patience=1)]

    expected, _, got, _ = _fit_both(
        mlflow_store,
        {"log_models": False},
        validation_data=(X[:16], Y[:16]),
        callbacks=stop_after_two,
    )
    _assert_same(got, expected)
    assert got.metrics["loss"] == [0, 1]
    assert got.metrics["val_loss"] == [0, 1]
    assert got.metrics["validation_loss"] == [0, 0]  # MLflow logs these without a step
    assert got.contexts == ["eval", "train"]


def test_every_n_steps_matches_mlflow(mlflow_store: MlflowClient, kiln_store: str) -> None:
    options = {"log_every_epoch": False, "log_every_n_steps": 3, "log_models": False}
    expected, _, got, _ = _fit_both(mlflow_store, options)
    _assert_same(got, expected)
    assert got.metrics["loss"] == [3, 6, 9, 12]  # 4 batches x 3 epochs
    assert got.model_files == set()


def test_fit_in_a_user_run_logs_there_and_leaves_it_open(kiln_store: str) -> None:
    kiln.keras.autolog(log_models=False, log_datasets=False)
    callbacks: list[Any] = []
    with kiln.start_run() as run:
        _model().fit(X, Y, epochs=2, verbose=0, callbacks=callbacks)
        assert fluent.active_run() is not None
    assert callbacks == []  # the user's list is left as it was
    logged = fluent.get_run(run.info.run_id)
    assert set(logged.data.metrics) == {"loss", "mae"}
    assert logged.data.params["batch_size"] == "None"  # MLflow logs fit's default too
    assert "mlflow.autologging" not in logged.data.tags
    assert len(fluent.search_runs(experiment_ids=["0"], output_format="list")) == 1


def test_exclusive_leaves_a_user_run_alone(kiln_store: str) -> None:
    kiln.keras.autolog(exclusive=True, log_models=False)
    with kiln.start_run() as run:
        _model().fit(X, Y, epochs=1, verbose=0)
    assert fluent.get_run(run.info.run_id).data.metrics == {}


def test_failed_fit_ends_its_run_failed(kiln_store: str) -> None:
    kiln.keras.autolog(log_models=False)
    with pytest.raises(ValueError, match="Invalid dtype"):
        _model().fit(X, np.array(["a"] * 64), epochs=1, verbose=0)
    (run,) = fluent.search_runs(experiment_ids=["0"], output_format="list")
    assert run.info.status == "FAILED"
    assert fluent.active_run() is None


def test_disable_restores_fit(kiln_store: str) -> None:
    original = keras.Model.fit
    kiln.keras.autolog()
    assert keras.Model.fit is not original
    kiln.keras.autolog(disable=True)
    assert keras.Model.fit is original
    _model().fit(X, Y, epochs=1, verbose=0)
    assert fluent.search_runs(experiment_ids=["0"], output_format="list") == []


def test_kiln_autolog_turns_on_keras(kiln_store: str) -> None:
    try:
        assert "keras" in kiln.autolog(log_models=False)
        _model().fit(X, Y, epochs=1, verbose=0)
    finally:
        kiln.autolog(disable=True)
    (run,) = fluent.search_runs(experiment_ids=["0"], output_format="list")
    assert run.data.tags["mlflow.autologging"] == "keras"
    assert set(run.data.metrics) == {"loss", "mae"}


def test_callback_by_hand(kiln_store: str) -> None:
    with kiln.start_run() as run:
        callback = kiln.keras.MlflowCallback()
        _model().fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    logged = fluent.get_run(run.info.run_id)
    assert set(logged.data.metrics) == {"loss", "mae"}
    assert "optimizer_learning_rate" in logged.data.params
    assert kiln.keras.MLflowCallback is kiln.keras.MlflowCallback


def test_exported_model_serves(kiln_store: str) -> None:
    kiln.keras.autolog(save_exported_model=True, log_datasets=False)
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)
    (run,) = fluent.search_runs(experiment_ids=["0"], output_format="list")
    run_id = run.info.run_id
    uri = _kiln_model_uri(run_id, _files(lambda p: fluent._client().list_artifacts(run_id, p)))
    folder = download_model(uri)
    assert (folder / "data" / "model" / "saved_model.pb").is_file()
    predicted = kiln.pyfunc.load_model(uri).predict(X[:3])
    np.testing.assert_allclose(np.asarray(predicted), model.predict(X[:3], verbose=0), rtol=1e-5)


def test_bad_arguments_are_refused(kiln_store: str) -> None:
    with pytest.raises(Exception, match="`log_every_n_steps` must be None"):
        kiln.keras.autolog(log_every_n_steps=5)
    with pytest.raises(Exception, match="`log_every_n_steps` must be specified"):
        kiln.keras.autolog(log_every_epoch=False)
    with pytest.raises(Exception, match="`log_every_n_steps` must be None"):
        kiln.keras.MlflowCallback(log_every_n_steps=2)


def test_importing_kiln_keras_does_not_import_keras() -> None:
    import subprocess

    code = (
        "import sys, kiln.keras; kiln.keras.autolog; "
        "assert 'keras' not in sys.modules, 'keras imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_batch_size_of_a_tf_dataset_and_of_a_generator(kiln_store: str) -> None:
    import tensorflow as tf

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        while True:
            for start in range(0, 64, 16):
                yield X[start : start + 16], Y[start : start + 16]

    kiln.keras.autolog(log_models=False)
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras: shuffle is ignored for these
        with kiln.start_run() as on_dataset:
            _model().fit(dataset, epochs=1, verbose=0)
        with kiln.start_run() as on_generator:
            history = _model().fit(batches(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2  # the peeked batch went back to the fit
    logged = fluent.get_run(on_dataset.info.run_id)
    assert logged.data.params["batch_size"] == "8"
    assert _contexts(logged) == ["train"]
    logged = fluent.get_run(on_generator.info.run_id)
    assert logged.data.params["batch_size"] == "16"
    assert logged.data.params["steps_per_epoch"] == "4"
    assert _contexts(logged) == []  # a generator is not a dataset MLflow logs
