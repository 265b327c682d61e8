"""The error edge: one table from KilnError classes to exit codes and hints."""

from __future__ import annotations

import pytest

import kiln.demo.session
import kiln.examples.pipeline
from kiln.cli.errors import ERROR_TABLE, lookup
from kiln.errors import (
    AlreadyExists,
    CheckFailed,
    Conflict,
    InvalidInput,
    InvalidUri,
    KilnError,
    NotFound,
    StoreUnavailable,
)
from kiln.projects.envtypes import EnvironmentBuildFailed, EnvironmentUnavailable
from kiln.projects.source import SourceUnavailable


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("x"), 2),
        (InvalidUri("x"), 2),
        (NotFound("x"), 3),
        (AlreadyExists("x"), 4),
        (Conflict("x"), 4),
        (StoreUnavailable("x"), 6),
        (SourceUnavailable("x"), 7),
        (EnvironmentUnavailable("x"), 7),
        (EnvironmentBuildFailed("x"), 7),
        (CheckFailed("x"), 1),
        (kiln.examples.pipeline.ExampleFailed("x"), 1),
        (kiln.demo.session.DemoFailed("x"), 1),
        (KilnError("x"), 1),
    ],
)
def test_exit_codes(error: KilnError, code: int) -> None:
    assert lookup(error).exit_code == code


def test_every_error_class_has_a_row_and_subclasses_come_first() -> None:
    classes = [row.error for row in ERROR_TABLE]
    assert classes[-1] is KilnError
    for index, cls in enumerate(classes):
        for later in classes[index + 1 :]:
            assert not issubclass(later, cls) or later is cls, f"{later} is shadowed by {cls}"
    assert {cls.__name__ for cls in KilnError.__subclasses__()} <= {c.__name__ for c in classes}
    assert all(row.hint.endswith(".") for row in ERROR_TABLE)
