"""Fixtures: in-test models (``scoring_fakes``) and clients over their scoring apps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from scoring_fakes import RecordingModel, SumModel, client_for


@pytest.fixture
def recording() -> RecordingModel:
    return RecordingModel()


@pytest.fixture
def client(recording: RecordingModel) -> Iterator[Any]:
    with client_for(recording) as test_client:
        yield test_client


@pytest.fixture
def sum_model() -> SumModel:
    return SumModel()


@pytest.fixture
def sum_client(sum_model: SumModel) -> Iterator[Any]:
    with client_for(sum_model, version="3") as test_client:
        yield test_client
