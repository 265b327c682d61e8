"""The adult example encodes categories exactly as the reference scoring request expects."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

from kiln.examples.catalog import CHECKOUT_DIR


def _adult_train() -> ModuleType:
    spec = importlib.util.spec_from_file_location("adult_train", CHECKOUT_DIR / "adult/train.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_first_test_row_encodes_to_the_reference_request() -> None:
    adult = _adult_train()
    frame = adult.load()
    assert len(frame) == 48_842
    assert frame["split"].value_counts().to_dict() == {"train": 32_561, "test": 16_281}
    encoded = adult.encode(frame, adult.vocabularies(frame))
    reference = json.loads((CHECKOUT_DIR / "adult/requests/reference.json").read_bytes())
    first_test_row = frame.index[frame["split"] == "test"][0]
    assert list(encoded.columns) == reference["columns"]
    assert encoded.loc[first_test_row].tolist() == reference["data"][0]
    # Only the one Holand-Netherlands training row has a category outside the test split.
    assert len(frame) - len(encoded) == 1
