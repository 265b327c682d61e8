"""``kiln.data``, ``kiln.artifacts`` and ``kiln.models``' signature names, used as MLflow's.

Each test is a small MLflow script with ``import kiln as mlflow``; the datasets'
schema, profile and source are compared with what the real mlflow computes.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import mlflow as real_mlflow
import numpy as np
import pandas as pd
import pytest

import kiln as mlflow
import kiln.artifacts
import kiln.data
from kiln.errors import InvalidInput, InvalidUri

FRAME = pd.DataFrame({"alcohol": [9.4, 9.8, 10.1], "ph": [3, 3, 4], "quality": [5, 6, 6]})


def _same_as_mlflow(kiln_dataset: object, mlflow_dataset: object) -> None:
    ours = kiln_dataset._to_mlflow_entity()  # type: ignore[attr-defined]
    theirs = mlflow_dataset._to_mlflow_entity()  # type: ignore[attr-defined]
    for field in ("name", "schema", "profile", "source_type", "source"):
        assert getattr(ours, field) == getattr(theirs, field), field


def test_from_pandas_is_logged_as_mlflow_describes_it(sqlite_uri: str) -> None:
    dataset = mlflow.data.from_pandas(FRAME, targets="quality", name="wine")
    _same_as_mlflow(dataset, real_mlflow.data.from_pandas(FRAME, targets="quality", name="wine"))
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    (used,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert (used.dataset.name, used.dataset.digest) == ("wine", dataset.digest)
    assert [(t.key, t.value) for t in used.tags] == [("mlflow.data.context", "training")]
    assert dataset.df is FRAME
    assert dataset.targets == "quality"


def test_from_pandas_with_a_path_source(tmp_path: Path) -> None:
    source = str(tmp_path / "wine.csv")
    ours = kiln.data.from_pandas(FRAME, source=source, digest="abc")
    _same_as_mlflow(ours, real_mlflow.data.from_pandas(FRAME, source=source))
    assert ours.digest == "abc"


def test_from_pandas_refuses_a_missing_target_column() -> None:
    with pytest.raises(InvalidInput, match="targets column 'label' is not a column"):
        kiln.data.from_pandas(FRAME, targets="label")


@pytest.mark.parametrize(
    "features",
    [np.arange(12.0).reshape(4, 3), {"x": np.zeros((4, 2), dtype=np.float32)}],
    ids=["array", "dict"],
)
def test_from_numpy_matches_mlflow(sqlite_uri: str, features: object) -> None:
    targets = np.array([0, 1, 0, 1])
    dataset = mlflow.data.from_numpy(features, targets=targets)
    _same_as_mlflow(dataset, real_mlflow.data.from_numpy(features, targets=targets))
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="eval")
    (used,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert used.dataset.digest == dataset.digest
    other = kiln.data.from_numpy(features, targets=targets[::-1].copy())
    assert other.digest != dataset.digest


def test_from_numpy_refuses_lists() -> None:
    with pytest.raises(InvalidInput, match="features as a numpy array"):
        kiln.data.from_numpy([1, 2, 3])  # type: ignore[arg-type]


def test_download_and_list_artifacts(sqlite_uri: str, tmp_path: Path) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"alpha": 0.5}, "notes/params.json")
    run_id = run.info.run_id
    by_run = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes")
    assert sorted(p.name for p in Path(by_run).iterdir()) == ["hello.txt", "params.json"]
    by_uri = mlflow.artifacts.download_artifacts(
        f"runs:/{run_id}/notes/hello.txt", dst_path=str(tmp_path / "dst")
    )
    assert Path(by_uri) == tmp_path / "dst" / "hello.txt"
    assert Path(by_uri).read_text() == "hello"
    listed = mlflow.artifacts.list_artifacts(run_id=run_id, artifact_path="notes")
    assert [f.path for f in listed] == ["notes/hello.txt", "notes/params.json"]
    assert [f.path for f in kiln.artifacts.list_artifacts(f"runs:/{run_id}")] == ["notes"]
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello"
    assert mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/notes/params.json") == {
        "alpha": 0.5
    }
    with pytest.raises(InvalidInput, match="is not valid JSON"):
        kiln.artifacts.load_dict(f"runs:/{run_id}/notes/hello.txt")


def test_local_artifacts_are_used_in_place_or_copied(tmp_path: Path) -> None:
    source = tmp_path / "data.txt"
    source.write_text("x")
    assert kiln.artifacts.download_artifacts(str(source)) == str(source.resolve())
    copied = kiln.artifacts.download_artifacts(source.as_uri(), dst_path=str(tmp_path / "out"))
    assert Path(copied).read_text() == "x"
    assert Path(copied).parent == tmp_path / "out"


def test_download_artifacts_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        kiln.artifacts.download_artifacts("runs:/abc/x", run_id="abc")
    with pytest.raises(InvalidInput, match="pass artifact_uri or run_id"):
        kiln.artifacts.download_artifacts()
    with pytest.raises(InvalidUri, match="cannot list 'models:/m/1'"):
        kiln.artifacts.list_artifacts("models:/m/1")


def test_signature_names_at_mlflows_models_path() -> None:
    from kiln.models import ModelSignature, infer_signature
    from kiln.models.signature import ModelSignature as Impl

    signature = infer_signature(FRAME[["alcohol"]], FRAME["quality"])
    assert isinstance(signature, ModelSignature)
    assert ModelSignature is Impl
    assert mlflow.models.infer_signature is infer_signature


@pytest.mark.parametrize(
    "name",
    [
        "artifacts.download_artifacts",
        "artifacts.list_artifacts",
        "artifacts.load_text",
        "artifacts.load_dict",
        "artifacts.load_image",
        "data.from_pandas",
        "data.from_numpy",
        "models.infer_signature",
    ],
)
def test_parameter_names_match_mlflow(name: str) -> None:
    module, attr = name.split(".")
    ours = getattr(getattr(mlflow, module), attr)
    theirs = getattr(getattr(real_mlflow, module), attr)
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters)
