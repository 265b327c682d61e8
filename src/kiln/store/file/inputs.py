"""Dataset inputs in the ``mlruns`` layout, exactly as MLflow's FileStore keeps them::

    <experiment>/datasets/<dataset_id>/meta.yaml   digest, name, profile, schema,
                                                   source, source_type
    <run>/inputs/<input_id>/meta.yaml              source_type: DATASET, source_id:
                                                   <dataset_id>, destination_type: RUN,
                                                   destination_id, tags: {key: value}

``dataset_id`` is ``md5(name + digest)`` and ``input_id`` ``md5(dataset_id +
run_id)`` (hex), so one dataset folder serves every run of the experiment that
logs the same name and digest, and a run links it once. MLflow writes the
dataset's id as ``destination_id`` (a quirk kept for byte-equal files); readers
ignore that field. Each meta.yaml is written atomically, dataset first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiln.entities import Dataset, DatasetInput, InputTag, RunInputs, normalized_inputs
from kiln.store.file import layout

DATASETS = "datasets"
INPUTS = "inputs"
_DATASET = "DATASET"
_RUN = "RUN"


def _md5(first: str, second: str) -> str:
    """``md5(first + second)`` in hex: how MLflow names these folders."""
    md5 = hashlib.md5(first.encode("utf-8"), usedforsecurity=False)
    md5.update(second.encode("utf-8"))
    return md5.hexdigest()


def dataset_id(name: str, digest: str) -> str:
    """MLflow's folder name for a dataset of an experiment."""
    return _md5(name, digest)


def input_id(source_id: str, run_id: str) -> str:
    """MLflow's folder name for the link of a dataset folder, or of a logged model,
    to a run."""
    return _md5(source_id, run_id)


def _dataset_meta(dataset: Dataset) -> dict[str, Any]:
    return {
        "digest": dataset.digest,
        "name": dataset.name,
        "profile": dataset.profile,
        "schema": dataset.schema,
        "source": dataset.source,
        "source_type": dataset.source_type,
    }


def write_inputs(run_dir: Path, run_id: str, items: Sequence[DatasetInput]) -> None:
    """Link validated, deduplicated inputs to the run in ``run_dir``.

    A dataset folder that exists keeps its meta.yaml; an input folder that exists
    keeps its tags.
    """
    experiment_dir = run_dir.parent
    for item in items:
        folder_id = dataset_id(item.dataset.name, item.dataset.digest)
        dataset_meta = experiment_dir / DATASETS / folder_id / layout.META
        if not dataset_meta.is_file():
            layout.write_atomic(dataset_meta, layout.dump_yaml(_dataset_meta(item.dataset)))
        input_meta = run_dir / INPUTS / input_id(folder_id, run_id) / layout.META
        if input_meta.is_file():
            continue
        meta = {
            "source_type": _DATASET,
            "source_id": folder_id,
            "destination_type": _RUN,
            "destination_id": folder_id,
            "tags": {tag.key: tag.value for tag in item.tags},
        }
        layout.write_atomic(input_meta, layout.dump_yaml(meta))


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def read_dataset(folder: Path) -> Dataset | None:
    """The dataset in ``folder``; None for a missing or malformed meta.yaml."""
    meta = layout.load_yaml(folder / layout.META)
    if meta is None:
        return None
    try:
        return Dataset(
            name=str(meta["name"]),
            digest=str(meta["digest"]),
            source_type=str(meta["source_type"]),
            source=str(meta["source"]),
            schema=_optional_str(meta.get("schema")),
            profile=_optional_str(meta.get("profile")),
        )
    except KeyError:
        return None


def read_inputs(run_dir: Path) -> RunInputs:
    """The run's dataset inputs; links to missing or malformed datasets are skipped
    (MLflow logs a warning and skips them too)."""
    parent = run_dir / INPUTS
    if not parent.is_dir():
        return RunInputs()
    datasets_dir = run_dir.parent / DATASETS
    found: list[DatasetInput] = []
    for child in parent.iterdir():
        meta = layout.load_yaml(child / layout.META)
        if meta is None or meta.get("source_type") != _DATASET:
            continue
        source_id = meta.get("source_id")
        if not isinstance(source_id, str) or not source_id:
            continue
        dataset = read_dataset(datasets_dir / source_id)
        if dataset is None:
            continue
        raw_tags = meta.get("tags") or {}
        tags = (
            tuple(InputTag(str(k), str(v)) for k, v in raw_tags.items())
            if isinstance(raw_tags, dict)
            else ()
        )
        found.append(DatasetInput(dataset, tags))
    return normalized_inputs(found)


__all__ = ["DATASETS", "INPUTS", "dataset_id", "input_id", "read_inputs", "write_inputs"]
