"""The MLmodel file: golden text, round trip, MLflow's own fields kept."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kiln.errors import InvalidInput, NotFound
from kiln.models.example import load_example, save_example
from kiln.models.mlmodel import ModelMetadata
from kiln.models.signature import infer_signature

GOLDEN = """\
artifact_path: model
flavors:
  python_function:
    data: model.pkl
    loader_module: mlflow.sklearn
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
is_signature_from_type_hint: false
kiln_version: 0.1.0
model_id: null
model_size_bytes: 1234
model_uuid: 0130c0d16bc14740ac11d265adabb5ad
run_id: 0927ac17b2954dc0b4d944e6834817fd
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "a", "required": true}, {"type": "long", "name":
    "b", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-23 14:26:34.682561'
"""


def _golden_metadata() -> ModelMetadata:
    import numpy as np

    return ModelMetadata(
        flavors={
            "python_function": {"data": "model.pkl", "loader_module": "mlflow.sklearn"},
            "sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"},
        },
        artifact_path="model",
        run_id="0927ac17b2954dc0b4d944e6834817fd",
        utc_time_created="2026-11-23 14:26:34.682561",
        model_uuid="0130c0d16bc14740ac11d265adabb5ad",
        signature=infer_signature(
            pd.DataFrame({"a": [1.0], "b": [1]}), np.array([0], dtype="int64")
        ),
        saved_input_example_info={
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        },
        model_size_bytes=1234,
        kiln_version="0.1.0",
    )


def test_mlmodel_golden_text() -> None:
    assert _golden_metadata().to_yaml() == GOLDEN


def test_mlmodel_round_trip_keeps_unknown_mlflow_fields(tmp_path: Path) -> None:
    text = GOLDEN + "mlflow_version: 3.17.2\nprompts: null\ndatabricks_runtime: '15.4'\n"
    (tmp_path / "MLmodel").write_text(text)
    loaded = ModelMetadata.load(tmp_path)
    assert loaded.mlflow_version == "3.17.2"
    assert loaded.extra == {"prompts": None, "databricks_runtime": "15.4"}
    assert loaded.run_id == "0927ac17b2954dc0b4d944e6834817fd"
    assert loaded.signature == _golden_metadata().signature
    loaded.save(tmp_path)
    assert ModelMetadata.load(tmp_path) == loaded


def test_optional_fields_are_left_out_like_mlflow() -> None:
    text = ModelMetadata(flavors={}, model_uuid="u", utc_time_created="t").to_yaml()
    assert "run_id" not in text
    assert "artifact_path" not in text
    assert "signature" not in text
    assert "mlflow_version" not in text


def test_missing_mlmodel_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no MLmodel"):
        ModelMetadata.load(tmp_path)


def test_mlmodel_without_flavors_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("run_id: x\n")
    with pytest.raises(InvalidInput, match="flavors"):
        ModelMetadata.load(tmp_path)


def test_dataframe_example_is_split_orient(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 0], "s": ["x", "y"]})
    info = save_example(tmp_path, frame)
    assert (tmp_path / "input_example.json").read_text() == (
        '{"columns": ["a", "b", "s"], "data": [[1.0, 1, "x"], [2.0, 0, "y"]]}'
    )
    serving = json.loads((tmp_path / "serving_input_example.json").read_text())
    assert serving == {
        "dataframe_split": {"columns": ["a", "b", "s"], "data": [[1.0, 1, "x"], [2.0, 0, "y"]]}
    }
    assert info["type"] == "dataframe"
    pd.testing.assert_frame_equal(load_example(tmp_path, info), frame, check_dtype=False)


def test_mlflow_written_example_reads_back(tmp_path: Path) -> None:
    (tmp_path / "input_example.json").write_text('{"columns": ["a"], "data": [[1.5]]}')
    info = {"artifact_path": "input_example.json", "pandas_orient": "split", "type": "dataframe"}
    assert load_example(tmp_path, info)["a"].tolist() == [1.5]
