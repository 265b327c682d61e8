"""Recorded dataset digests against the data as it is now (the check before reproducing)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kiln.entities import Dataset, DatasetInput
from kiln.projects.data_versions import check_input, check_inputs
from kiln.tracking.datasets import dataset_from


def _recorded(path: Path) -> DatasetInput:
    return DatasetInput(dataset_from(path))


def test_unchanged_file_is_same(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n", encoding="utf-8")
    (check,) = check_inputs([_recorded(data)])
    assert check.verdict == "same"
    assert check.current_digest == check.recorded_digest
    assert not check.blocks


def test_changed_file_blocks_with_both_digests(tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"one")
    item = _recorded(data)
    data.write_bytes(b"two")
    (check,) = check_inputs([item])
    assert check.verdict == "changed"
    assert check.blocks
    assert check.current_digest == dataset_from(data).digest != item.dataset.digest
    assert check.path == data.resolve()


def test_missing_file_blocks(tmp_path: Path) -> None:
    data = tmp_path / "gone.txt"
    data.write_text("soon gone", encoding="utf-8")
    item = _recorded(data)
    data.unlink()
    (check,) = check_inputs([item])
    assert check.verdict == "missing"
    assert check.blocks


def test_frame_logged_with_the_file_as_source_is_same(tmp_path: Path) -> None:
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2.5\n3,4.5\n", encoding="utf-8")
    frame = pd.read_csv(data)
    item = DatasetInput(dataset_from(frame, name="table", source=data))
    (check,) = check_inputs([item])
    assert check.verdict == "same"


def test_non_local_sources_are_not_checked() -> None:
    frame = DatasetInput(Dataset("frame", "abcd1234", "code", "{}"))
    remote = DatasetInput(Dataset("s3", "abcd1234", "s3", '{"uri": "s3://b/k.csv"}'))
    checks = check_inputs([frame, remote])
    assert [c.verdict for c in checks] == ["unchecked", "unchecked"]
    assert not any(c.blocks for c in checks)


def test_file_in_the_repository_is_checked_in_the_checkout(tmp_path: Path) -> None:
    original = tmp_path / "repo"
    checkout = tmp_path / "checkout"
    (original / "data").mkdir(parents=True)
    (checkout / "data").mkdir(parents=True)
    (original / "data" / "train.csv").write_text("x\n1\n", encoding="utf-8")
    item = _recorded(original / "data" / "train.csv")
    # The original folder moved on; the checkout of the recorded commit did not.
    (original / "data" / "train.csv").write_text("x\n2\n", encoding="utf-8")
    (checkout / "data" / "train.csv").write_text("x\n1\n", encoding="utf-8")
    check = check_input(item, original_repos=[original.resolve()], checkout=checkout)
    assert check.verdict == "same"
    assert check.path == checkout / "data" / "train.csv"


def test_file_from_a_temporary_clone_maps_into_the_checkout(tmp_path: Path) -> None:
    clone = tmp_path / "kiln-project-abc123" / "repo"
    clone.mkdir(parents=True)
    (clone / "data.txt").write_text("v1", encoding="utf-8")
    item = _recorded(clone / "data.txt")
    (clone / "data.txt").unlink()  # the clone was deleted after the run
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "data.txt").write_text("v2", encoding="utf-8")
    check = check_input(item, original_repos=[], checkout=checkout)
    assert check.verdict == "changed"
    (checkout / "data.txt").unlink()
    made_by_run = check_input(item, original_repos=[], checkout=checkout)
    assert made_by_run.verdict == "unchecked"
    assert "not in the checkout" in made_by_run.note
