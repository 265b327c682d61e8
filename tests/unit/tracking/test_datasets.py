"""``kiln.log_input`` and ``dataset_from``: digests, MLflow's schema and profile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.entities import DATASET_CONTEXT_TAG, Dataset, DatasetInput, InputTag
from kiln.errors import InvalidInput
from kiln.tracking.client import KilnClient
from kiln.tracking.datasets import dataset_from


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1, 2, 3],
            "b": [0.5, 1.5, np.nan],
            "s": ["x", "y", "z"],
            "f": [True, False, True],
            "i32": np.array([1, 2, 3], dtype="int32"),
            "dt": pd.to_datetime(["2020-01-01"] * 3),
        }
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # mlflow's hints on integer columns
def test_frame_dataset_has_mlflows_schema_and_profile() -> None:
    from mlflow import data as mlflow_data

    frame = _frame()
    ours = dataset_from(frame, name="wine", source="/tmp/wine.csv")
    entity = mlflow_data.from_pandas(frame, source="/tmp/wine.csv", name="wine")._to_mlflow_entity()
    assert json.loads(ours.schema or "") == json.loads(entity.schema)
    assert json.loads(ours.profile or "") == json.loads(entity.profile)
    assert (ours.name, ours.source_type) == ("wine", entity.source_type)
    assert json.loads(ours.source) == json.loads(entity.source)
    assert len(ours.digest) == len(entity.digest) == 8


def test_digest_follows_the_values() -> None:
    frame = _frame()
    assert dataset_from(frame).digest == dataset_from(frame.copy()).digest
    changed = frame.copy()
    changed.loc[0, "a"] = 99
    assert dataset_from(changed).digest != dataset_from(frame).digest
    renamed = frame.rename(columns={"a": "z"})
    assert dataset_from(renamed).digest != dataset_from(frame).digest


def test_frame_without_source_is_code() -> None:
    dataset = dataset_from(_frame())
    assert (dataset.name, dataset.source_type, dataset.source) == ("dataset", "code", "{}")


def test_mixed_object_column_has_no_schema() -> None:
    assert dataset_from(pd.DataFrame({"m": [1, "x"]})).schema is None


def test_csv_file_dataset(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    _frame().drop(columns=["dt"]).to_csv(path, index=False)
    dataset = dataset_from(path)
    assert dataset.name == "train"
    assert dataset.source_type == "local"
    assert json.loads(dataset.source) == {"uri": str(path.resolve())}
    assert json.loads(dataset.profile or "") == {"num_rows": 3, "num_elements": 15}
    assert [c["name"] for c in json.loads(dataset.schema or "")["mlflow_colspec"]] == [
        "a", "b", "s", "f", "i32",
    ]  # fmt: skip
    path.write_text(path.read_text() + "4,1.0,w,False,4\n")
    assert dataset_from(path).digest != dataset.digest


def test_other_files_and_uris(tmp_path: Path) -> None:
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x00\x01")
    dataset = dataset_from(path, name="raw", source="s3://bucket/notes.bin")
    assert (dataset.name, dataset.source_type, dataset.schema, dataset.profile) == (
        "raw", "s3", None, None,
    )  # fmt: skip
    assert dataset_from(_frame(), source="https://x/y.csv").source_type == "http"


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a file"):
        dataset_from(tmp_path)
    with pytest.raises(InvalidInput, match="cannot log a list"):
        dataset_from([1, 2])


def test_kiln_dataset_is_kept() -> None:
    dataset = Dataset("d", "abc", "local", "{}")
    assert dataset_from(dataset) is dataset


def test_fluent_log_input(tracking: KilnClient) -> None:
    frame = _frame()
    with kiln.start_run() as run:
        kiln.log_input(frame, context="training", tags={"split": "a"})
        kiln.log_input(Dataset("eval", "e1", "local", "{}"))
    (second, first) = kiln.get_run(run.info.run_id).inputs.dataset_inputs  # by name
    assert first == DatasetInput(Dataset("eval", "e1", "local", "{}"), ())
    assert second.dataset == dataset_from(frame)
    assert second.tags == (InputTag(DATASET_CONTEXT_TAG, "training"), InputTag("split", "a"))
    assert second.context == "training"
    found = kiln.search_runs(filter_string="datasets.context = 'training'", output_format="list")
    assert isinstance(found, list)
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_client_log_input_returns_what_it_sent(client: KilnClient) -> None:
    run = client.create_run("0")
    sent = client.log_input(run.info.run_id, Dataset("d", "1", "local", "{}"), context="eval")
    assert client.get_run(run.info.run_id).inputs.dataset_inputs == (sent,)
