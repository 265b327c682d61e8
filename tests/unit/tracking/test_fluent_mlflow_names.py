"""MLflow's fluent names that Kiln added for ``import kiln as mlflow`` scripts.

Each test is written as an MLflow script on a tmp sqlite store; the last test pins
every name's parameters to the real mlflow's.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import mlflow as real_mlflow
import numpy as np
import pandas as pd
import pytest

import kiln as mlflow
from kiln.entities import LifecycleStage
from kiln.errors import InvalidInput

NAMES = (
    "create_experiment",
    "delete_experiment",
    "get_experiment",
    "search_experiments",
    "set_experiment_tag",
    "set_experiment_tags",
    "delete_run",
    "delete_tag",
    "get_artifact_uri",
    "get_parent_run",
    "last_active_run",
    "log_image",
    "log_table",
    "register_model",
)


def test_experiments(sqlite_uri: str) -> None:
    experiment_id = mlflow.create_experiment("wine", tags={"team": "ml"})
    experiment = mlflow.get_experiment(experiment_id)
    assert (experiment.name, experiment.tags["team"]) == ("wine", "ml")
    mlflow.create_experiment("beer")
    found = mlflow.search_experiments(filter_string="name = 'wine'")
    assert [e.experiment_id for e in found] == [experiment_id]
    assert len(mlflow.search_experiments(max_results=2)) == 2
    assert {e.name for e in mlflow.search_experiments()} == {"Default", "wine", "beer"}
    mlflow.set_experiment("wine")
    mlflow.set_experiment_tag("stage", "dev")
    mlflow.set_experiment_tags({"owner": "ana", "priority": 1})
    tags = mlflow.get_experiment(experiment_id).tags
    assert (tags["stage"], tags["owner"], tags["priority"]) == ("dev", "ana", "1")
    mlflow.delete_experiment(experiment_id)
    deleted = mlflow.search_experiments(view_type=real_mlflow.entities.ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["wine"]


def test_create_experiment_refuses_a_trace_location(sqlite_uri: str) -> None:
    with pytest.raises(InvalidInput, match="trace_location"):
        mlflow.create_experiment("x", trace_location="catalog.schema")


def test_run_functions(sqlite_uri: str) -> None:
    with mlflow.start_run() as parent:
        assert mlflow.get_artifact_uri() == parent.info.artifact_uri
        assert mlflow.get_artifact_uri("model") == f"{parent.info.artifact_uri}/model"
        mlflow.set_tag("temp", "1")
        mlflow.delete_tag("temp")
        last = mlflow.last_active_run()
        assert last is not None
        assert last.info.run_id == parent.info.run_id
        with mlflow.start_run(nested=True) as child:
            pass
    assert "temp" not in mlflow.get_run(parent.info.run_id).data.tags
    found = mlflow.get_parent_run(child.info.run_id)
    assert found is not None
    assert found.info.run_id == parent.info.run_id
    assert mlflow.get_parent_run(parent.info.run_id) is None
    ended = mlflow.last_active_run()
    assert ended is not None
    assert (ended.info.run_id, ended.info.status) == (parent.info.run_id, "FINISHED")
    mlflow.delete_run(child.info.run_id)
    assert mlflow.get_run(child.info.run_id).info.lifecycle_stage is LifecycleStage.DELETED


def test_log_table_writes_mlflows_layout_and_appends(sqlite_uri: str, tmp_path: Path) -> None:
    table = {"inputs": ["a", "b"], "score": [0.5, 0.75]}
    with mlflow.start_run() as run:
        mlflow.log_table(table, "eval/results.json")
        mlflow.log_table(pd.DataFrame(table), "eval/results.json")
        mlflow.log_table({"inputs": "c", "score": 1.0}, "one.parquet")
    run_id = run.info.run_id
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="eval/results.json")
    written = json.loads(Path(path).read_text())
    assert written["columns"] == ["inputs", "score"]
    assert written["data"] == [["a", 0.5], ["b", 0.75], ["a", 0.5], ["b", 0.75]]
    one = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/one.parquet", dst_path=str(tmp_path))
    assert pd.read_parquet(one).to_dict("list") == {"inputs": ["c"], "score": [1.0]}
    listed = json.loads(mlflow.get_run(run_id).data.tags["mlflow.loggedArtifacts"])
    assert listed == [
        {"path": "eval/results.json", "type": "table"},
        {"path": "one.parquet", "type": "table"},
    ]


def test_log_table_refuses_other_extensions(sqlite_uri: str) -> None:
    with pytest.raises(InvalidInput, match=r"must end in \.json or \.parquet"):
        mlflow.log_table({"a": [1]}, "table.csv")


def test_log_image_saves_arrays_and_pil_images(sqlite_uri: str) -> None:
    from PIL import Image

    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    pixels[0, 0] = (255, 0, 0)
    with mlflow.start_run() as run:
        mlflow.log_image(pixels, "images/red.png")
        mlflow.log_image(np.full((2, 2), 0.5), "gray.png")
        mlflow.log_image(Image.new("RGB", (3, 3), "blue"), artifact_file="blue.jpg")
    uri = run.info.artifact_uri
    red = mlflow.artifacts.load_image(f"{uri}/images/red.png")
    assert (red.format, red.size, red.getpixel((0, 0))) == ("PNG", (6, 4), (255, 0, 0))
    assert mlflow.artifacts.load_image(f"{uri}/gray.png").getpixel((1, 1)) == 127
    assert mlflow.artifacts.load_image(f"{uri}/blue.jpg").format == "JPEG"


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((2, 2)), {"artifact_file": "x.png", "step": 1}, "not both"),
        (np.zeros((2, 2)), {}, "exactly one of artifact_file"),
        (np.full((2, 2), 2.0), {"artifact_file": "x.png"}, r"within \[0, 1\]"),
        (np.zeros((2, 2, 5)), {"artifact_file": "x.png"}, "cannot log an image of shape"),
        ([[0, 1]], {"artifact_file": "x.png"}, "not a list"),
    ],
)
def test_log_image_refuses(
    sqlite_uri: str, image: object, kwargs: dict[str, object], message: str
) -> None:
    with mlflow.start_run(), pytest.raises(InvalidInput, match=message):
        mlflow.log_image(image, **kwargs)  # type: ignore[arg-type]


class _AddOne(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
    def predict(self, context: object, model_input: pd.DataFrame) -> pd.DataFrame:
        return model_input + 1


def test_register_model(sqlite_uri: str, tmp_path: Path) -> None:
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(name="model", python_model=_AddOne())
    source = f"runs:/{run.info.run_id}/model"
    version = mlflow.register_model(source, "adder", tags={"stage": "dev"})
    assert (version.name, version.version, version.run_id) == ("adder", 1, run.info.run_id)
    assert version.tags == {"stage": "dev"}
    assert mlflow.register_model(source, "adder").version == 2
    registered = Path(mlflow.artifacts.download_artifacts("models:/adder/1"))
    assert (registered / "MLmodel").is_file()
    folder = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp_path)))
    assert (folder, (folder / "MLmodel").is_file()) == (tmp_path / "model", True)
    model = mlflow.pyfunc.load_model("models:/adder/2")
    assert model.predict(pd.DataFrame({"a": [1.0]}))["a"].tolist() == [2.0]
    with pytest.raises(InvalidInput, match="env_pack"):
        mlflow.register_model(source, "adder", env_pack="databricks_model_serving")


@pytest.mark.parametrize("name", NAMES)
def test_parameters_match_mlflow(name: str) -> None:
    ours = inspect.signature(getattr(mlflow, name)).parameters
    theirs = inspect.signature(getattr(real_mlflow, name)).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]
    assert name in mlflow.__all__
