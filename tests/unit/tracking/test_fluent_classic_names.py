"""MLflow's classic names that ``import kiln as mlflow`` scripts call, beyond the first set
(test_fluent_mlflow_names.py): experiment/run restore, log_inputs, tables, streams,
images with key/step, the registry URI and searches, ``run``, ``MlflowClient``'s
asynchronous logging, and MLflow's dataset digests. Where the real mlflow can do the
same, the test runs it on its own store and compares.
"""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

import mlflow as real_mlflow
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import kiln as mlflow
from kiln.entities import LifecycleStage
from kiln.errors import InvalidInput, KilnError, NotFound
from kiln.testing.projects import FAILING_PROJECT, write_files
from kiln.tracking import fluent
from kiln.tracking.async_logging import RunOperations

NAMES = (
    "delete_experiment_tag",
    "restore_experiment",
    "restore_run",
    "log_inputs",
    "load_table",
    "log_stream",
    "flush_artifact_async_logging",
    "get_registry_uri",
    "set_registry_uri",
    "is_tracking_uri_set",
    "search_registered_models",
    "search_model_versions",
    "set_model_version_tag",
    "log_image",
    "run",
)
CLIENT_METHODS = ("log_image", "log_table", "load_table", "log_stream", "log_metric", "set_tag")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.mark.parametrize("name", NAMES)
def test_parameters_match_mlflow(name: str) -> None:
    ours = inspect.signature(getattr(mlflow, name)).parameters
    theirs = inspect.signature(getattr(real_mlflow, name)).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]


@pytest.mark.parametrize("name", CLIENT_METHODS)
def test_client_parameters_match_mlflow(name: str) -> None:
    ours = inspect.signature(getattr(mlflow.MlflowClient, name)).parameters
    theirs = inspect.signature(getattr(real_mlflow.MlflowClient, name)).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]


def test_experiment_tag_delete_and_restore(sqlite_uri: str) -> None:
    experiment = mlflow.set_experiment("wine")
    mlflow.set_experiment_tag("stage", "dev")
    mlflow.delete_experiment_tag("stage")
    assert "stage" not in mlflow.get_experiment(experiment.experiment_id).tags
    with mlflow.start_run() as run:
        pass
    mlflow.delete_experiment(experiment.experiment_id)
    mlflow.restore_experiment(experiment.experiment_id)
    restored = mlflow.get_experiment(experiment.experiment_id)
    assert restored.lifecycle_stage is LifecycleStage.ACTIVE
    assert mlflow.get_run(run.info.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE
    mlflow.delete_run(run.info.run_id)
    mlflow.restore_run(run.info.run_id)
    assert mlflow.get_run(run.info.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE


def test_log_inputs_pairs_datasets_contexts_and_tags(sqlite_uri: str) -> None:
    frame = mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), name="train")
    arrays = mlflow.data.from_numpy(np.arange(6).reshape(3, 2), name="test")
    with mlflow.start_run() as run:
        mlflow.log_inputs([frame, arrays], ["training", None], [None, {"split": "b"}])
    inputs = {i.dataset.name: i for i in mlflow.get_run(run.info.run_id).inputs.dataset_inputs}
    assert inputs["train"].dataset.digest == frame.digest
    assert {(t.key, t.value) for t in inputs["train"].tags} == {("mlflow.data.context", "training")}
    assert {(t.key, t.value) for t in inputs["test"].tags} == {("split", "b")}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"datasets": [1], "contexts": []}, "same length"),
        ({"models": ["m-1"]}, "only supported by Databricks"),
    ],
)
def test_log_inputs_refuses(sqlite_uri: str, kwargs: dict[str, object], message: str) -> None:
    with mlflow.start_run(), pytest.raises(InvalidInput, match=message):
        mlflow.log_inputs(**kwargs)  # type: ignore[arg-type]


def test_load_table_joins_runs_with_extra_columns(sqlite_uri: str) -> None:
    runs = []
    for score in (0.5, 0.9):
        with mlflow.start_run() as run:
            mlflow.log_param("alpha", score)
            mlflow.log_table({"question": ["q"], "score": [score]}, "eval.json")
        runs.append(run.info.run_id)
    with mlflow.start_run():
        mlflow.log_table({"other": [1]}, "other.json")
    table = mlflow.load_table("eval.json", extra_columns=["run_id", "params.alpha"])
    assert sorted(table["score"]) == [0.5, 0.9]
    assert set(table["run_id"]) == set(runs)
    assert dict(zip(table["run_id"], table["params.alpha"], strict=True))[runs[0]] == "0.5"
    only = mlflow.load_table("eval.json", run_ids=[runs[1]])
    assert only.to_dict("list") == {"question": ["q"], "score": [0.9]}
    with pytest.raises(NotFound, match=r"has the table 'missing\.json'"):
        mlflow.load_table("missing.json")


def test_log_stream_and_flush(sqlite_uri: str) -> None:
    with mlflow.start_run() as run:
        mlflow.log_stream(io.BytesIO(b"\x00binary\xff"), "blobs/data.bin")
        mlflow.flush_artifact_async_logging()
    path = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/blobs/data.bin")
    assert Path(path).read_bytes() == b"\x00binary\xff"


def _image_names(paths: list[str]) -> list[str]:
    """Artifact names with the uuid and timestamp made generic, sorted."""
    return sorted(re.sub(_UUID, "<uuid>", p) for p in paths)


def _described(path: Path) -> tuple[str, str | None, tuple[int, int]]:
    with Image.open(path) as image:
        return path.suffix, image.format, image.size


def test_log_image_key_step_writes_mlflows_layout(sqlite_uri: str, tmp_path: Path) -> None:
    pixels = np.zeros((300, 600, 3), dtype=np.uint8)
    theirs = real_mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = theirs.create_experiment("images", (tmp_path / "mlruns").as_uri())
    their_run = theirs.create_run(experiment).info.run_id
    theirs.log_image(their_run, pixels, key="val/loss curve", step=3, timestamp=123)
    with mlflow.start_run() as run:
        mlflow.log_image(pixels, key="val/loss curve", step=3, timestamp=123)
        mlflow.log_image(mlflow.Image(pixels).resize((10, 20)), key="small")
    ours = fluent._client()
    our_files = [f.path for f in ours.list_artifacts(run.info.run_id, "images")]
    expected = [f.path for f in theirs.list_artifacts(their_run, "images")]
    assert _image_names([p for p in our_files if "val" in p]) == _image_names(expected)
    assert any(
        re.fullmatch(rf"images/small\+step\+0\+timestamp\+\d+\+{_UUID}.png", p) for p in our_files
    )
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["mlflow.loggedImages"] == theirs.get_run(their_run).data.tags["mlflow.loggedImages"]
    folder = Path(mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/images"))
    sizes = {_described(p) for p in folder.iterdir() if p.name.startswith("val")}
    assert sizes == {(".png", "PNG", (600, 300)), (".webp", "WEBP", (256, 128))}


def test_kiln_image_is_mlflows_image(tmp_path: Path) -> None:
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    ours, theirs = mlflow.Image(pixels), real_mlflow.Image(pixels)
    assert ours.size == theirs.size
    assert ours.resize((3, 2)).to_array().shape == theirs.resize((3, 2)).to_array().shape
    assert ours.to_list() == [(0, 0, 0)] * 24
    ours.save(tmp_path / "x.png")
    assert mlflow.Image(str(tmp_path / "x.png")).size == (6, 4)
    with pytest.raises(InvalidInput, match="not a dict"):
        mlflow.Image({})


def test_log_image_refuses_a_bad_key(sqlite_uri: str) -> None:
    with mlflow.start_run(), pytest.raises(InvalidInput, match="may only contain"):
        mlflow.log_image(np.zeros((2, 2)), key="a:b")


def test_registry_uri_and_searches(sqlite_uri: str, tmp_path: Path) -> None:
    assert mlflow.is_tracking_uri_set()
    assert mlflow.get_registry_uri() == sqlite_uri
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    mlflow.set_registry_uri(registry)
    assert mlflow.get_registry_uri() == registry == mlflow.MlflowClient().registry_uri
    with mlflow.start_run() as run:
        mlflow.log_text("x", "model/MLmodel")
    for name in ("alpha", "beta"):
        mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    mlflow.register_model(f"runs:/{run.info.run_id}/model", "alpha")
    assert [m.name for m in mlflow.search_registered_models(order_by=["name DESC"])] == [
        "beta",
        "alpha",
    ]
    assert len(mlflow.search_registered_models(max_results=1)) == 1
    versions = mlflow.search_model_versions(filter_string="name = 'alpha'")
    assert sorted(v.version for v in versions) == [1, 2]
    assert (Path(mlflow.artifacts.download_artifacts("models:/alpha/2")) / "MLmodel").is_file()
    mlflow.set_model_version_tag("alpha", "2", "stage", "prod")
    assert mlflow.MlflowClient().get_model_version("alpha", 2).tags == {"stage": "prod"}
    # the registry is the set one, not the tracking store's
    assert mlflow.MlflowClient(registry_uri=sqlite_uri).search_registered_models().items == []


def test_is_tracking_uri_set_reads_code_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KILN_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    fluent.reset_state()
    assert not mlflow.is_tracking_uri_set()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x.db")
    assert mlflow.is_tracking_uri_set()
    assert mlflow.config.is_tracking_uri_set()
    assert mlflow.tracking.get_tracking_uri() == "sqlite:///x.db"


def test_mlflow_client_logs_asynchronously(sqlite_uri: str) -> None:
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id
    operations = [
        client.log_metric(run_id, "loss", 1.0 / step, step=step, synchronous=False)
        for step in range(1, 51)
    ]
    assert all(isinstance(op, RunOperations) for op in operations)
    assert isinstance(client.set_tag(run_id, "phase", "train", synchronous=False), RunOperations)
    assert isinstance(client.log_param(run_id, "lr", 0.1, synchronous=False), RunOperations)
    assert client.log_param(run_id, "epochs", 3) == 3
    operations[-1].wait()
    mlflow.flush_async_logging()
    run = client.get_run(run_id)
    assert len(client.get_metric_history(run_id, "loss")) == 50
    assert (run.data.tags["phase"], run.data.params["lr"]) == ("train", "0.1")
    assert client.log_metric(run_id, "sync", 1.0) is None


def test_mlflow_client_tables_images_streams(sqlite_uri: str) -> None:
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.log_table(run_id, {"a": [1, 2]}, "t.json")
    assert client.load_table("0", "t.json", extra_columns=["run_id"]).to_dict("list") == {
        "a": [1, 2],
        "run_id": [run_id, run_id],
    }
    client.log_image(run_id, np.ones((2, 2)), "one.png")
    client.log_stream(run_id, io.BytesIO(b"abc"), "s.txt")
    assert {f.path for f in client.list_artifacts(run_id)} == {"t.json", "one.png", "s.txt"}


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]}),
        pd.DataFrame({"lists": [[1], [2]], "mixed": ["x", 1], "n": [1, 2]}),
        pd.DataFrame({"a": np.arange(12_000), "s": ["v"] * 11_999 + [None]}),
    ],
)
def test_pandas_digest_is_mlflows(frame: pd.DataFrame) -> None:
    assert mlflow.data.from_pandas(frame).digest == real_mlflow.data.from_pandas(frame).digest


@pytest.mark.parametrize(
    ("features", "targets"),
    [
        (np.arange(12).reshape(4, 3), None),
        (np.arange(12.0).reshape(4, 3), np.arange(4)),
        ({"y": np.ones(3), "x": np.arange(6).reshape(3, 2)}, {"t": np.zeros(3)}),
        (np.arange(30_000), None),
        (np.array([{"a": 1}], dtype=object), None),
    ],
)
def test_numpy_digest_is_mlflows(features: object, targets: object) -> None:
    ours = mlflow.data.from_numpy(features, targets=targets)  # type: ignore[arg-type]
    assert ours.digest == real_mlflow.data.from_numpy(features, targets=targets).digest


def test_model_version_number_is_an_int_as_in_mlflow(sqlite_uri: str, tmp_path: Path) -> None:
    theirs = real_mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    theirs.create_registered_model("m")
    their_version = theirs.create_model_version("m", str(tmp_path)).version
    with mlflow.start_run() as run:
        mlflow.log_text("x", "model/MLmodel")
    our_version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "m").version
    assert (type(our_version), our_version) == (type(their_version), their_version) == (int, 1)


def test_run_runs_a_project_and_answers_a_submitted_run(sqlite_uri: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_files(
        project,
        {
            "MLproject": "name: p\nentry_points:\n  main:\n    parameters:\n"
            "      n: {type: int, default: 1}\n    command: 'python -c \"print({n})\"'\n",
        },
    )
    submitted = mlflow.run(str(project), parameters={"n": 2}, experiment_name="projects")
    assert (submitted.wait(), submitted.get_status()) == (True, "FINISHED")
    run = mlflow.get_run(submitted.run_id)
    assert (run.info.status, run.data.params["n"]) == ("FINISHED", "2")
    assert isinstance(submitted, mlflow.projects.SubmittedRun)
    failing = tmp_path / "failing"
    write_files(failing, FAILING_PROJECT)
    with pytest.raises(KilnError, match=r"Run \(ID '[0-9a-f]+'\) failed"):
        mlflow.run(str(failing))
    with pytest.raises(InvalidInput, match="synchronous=False, backend='databricks'"):
        mlflow.run(str(project), synchronous=False, backend="databricks")
