"""What a version page shows of a model's files (kiln.models.summary), from real folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import kiln.sklearn
from kiln.errors import NotFound
from kiln.models.mlmodel import ModelMetadata
from kiln.models.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature
from kiln.models.summary import Reader, summarize


def _reader(folder: Path) -> Reader:
    def read(path: str) -> bytes:
        target = folder / path
        if not target.is_file():
            raise NotFound(f"no {path}")
        return target.read_bytes()

    return read


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": np.arange(8.0), "city": list("abcdefgh")})


def test_a_saved_model_gives_its_signature_first_example_rows_and_request(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    model = LinearRegression().fit(frame[["age"]], np.arange(8.0))
    signature = infer_signature(frame, np.zeros(8))  # the model saw age only: say both
    kiln.sklearn.save_model(model, str(tmp_path / "m"), input_example=frame, signature=signature)
    summary = summarize(_reader(tmp_path / "m"), max_rows=3)
    assert summary.problem is None
    assert "sklearn" in summary.flavors
    assert [(r.name, r.type, r.detail) for r in summary.inputs] == [
        ("age", "double", "required"),
        ("city", "string", "required"),
    ]
    assert summary.outputs
    assert summary.outputs[0].type.startswith("tensor")
    assert summary.example_columns == ("age", "city")
    assert summary.example_rows == (("0.0", "a"), ("1.0", "b"), ("2.0", "c"))
    assert summary.example_total == 8
    assert summary.request_from_example
    assert json.loads(summary.request) == {
        "dataframe_split": {
            "columns": ["age", "city"],
            "data": [[0.0, "a"], [1.0, "b"], [2.0, "c"]],
        }
    }


def test_an_array_example_is_sent_as_inputs(tmp_path: Path) -> None:
    x = np.arange(12.0).reshape(6, 2)
    kiln.sklearn.save_model(
        LinearRegression().fit(x, np.arange(6.0)), str(tmp_path / "m"), input_example=x
    )
    summary = summarize(_reader(tmp_path / "m"), max_rows=2)
    assert summary.example_columns == ()
    assert summary.example_rows == (("0.0", "1.0"), ("2.0", "3.0"))
    assert json.loads(summary.request) == {"inputs": [[0.0, 1.0], [2.0, 3.0]]}


def _metadata_only(folder: Path, signature: ModelSignature | None, **extra: object) -> Path:
    folder.mkdir()
    metadata = ModelMetadata(flavors={"python_function": {}}, signature=signature)
    text = metadata.to_yaml()
    if extra:
        text += "".join(f"{k}: {json.dumps(v)}\n" for k, v in extra.items())
    (folder / "MLmodel").write_text(text)
    return folder


def test_without_an_example_the_request_is_a_typed_placeholder_row(tmp_path: Path) -> None:
    inputs = Schema((ColSpec("long", "n"), ColSpec("string", "s"), ColSpec("boolean", "b")))
    summary = summarize(_reader(_metadata_only(tmp_path / "m", ModelSignature(inputs))))
    assert summary.problem is None
    assert not summary.request_from_example
    assert json.loads(summary.request) == {
        "dataframe_split": {"columns": ["n", "s", "b"], "data": [[0, "", False]]}
    }
    tensor = ModelSignature(Schema((TensorSpec("float32", (-1, 3)),)))
    again = summarize(_reader(_metadata_only(tmp_path / "t", tensor)))
    assert json.loads(again.request) == {"inputs": [[0.0, 0.0, 0.0]]}
    assert again.inputs[0].detail == "shape (-1, 3)"


def test_broken_or_missing_files_are_a_problem_never_an_exception(tmp_path: Path) -> None:
    missing = summarize(_reader(tmp_path))
    assert missing.problem is not None
    assert "cannot read MLmodel" in missing.problem
    assert json.loads(missing.request) == {"dataframe_split": {"columns": ["x"], "data": [[0.0]]}}
    (tmp_path / "MLmodel").write_text("flavors: [unclosed")
    assert "cannot read MLmodel" in (summarize(_reader(tmp_path)).problem or "")
    climbing = _metadata_only(
        tmp_path / "c", None, saved_input_example_info={"artifact_path": "../../etc/passwd"}
    )
    summary = summarize(_reader(climbing))
    assert summary.problem is not None
    assert summary.problem.startswith("input example:")
    assert summary.example_rows == ()
