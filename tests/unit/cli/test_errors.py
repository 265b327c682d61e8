"""The CLI error edge: one table from KilnError classes to exit codes and hints."""

from __future__ import annotations

import pytest

from kiln.cli.errors import ERROR_TABLE, NO_ROLE_HINT, WORKSPACE_HINT, lookup, report
from kiln.errors import (
    AlreadyExists,
    BadInput,
    CheckFailed,
    Conflict,
    DemoFailed,
    DriverMissing,
    EnvironmentBuildFailed,
    EnvironmentUnavailable,
    ExampleFailed,
    InvalidInput,
    InvalidUri,
    KilnError,
    NotFound,
    Overloaded,
    PredictionFailed,
    SourceUnavailable,
    StoreUnavailable,
)


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
        (ExampleFailed("x"), 1),
        (DemoFailed("x"), 1),
        (BadInput("x"), 2),
        (DriverMissing("x"), 6),
        (Overloaded("x"), 6),
        (PredictionFailed("x"), 1),
        (KilnError("x"), 1),
    ],
)
def test_report_exits_with_the_table_code(
    error: KilnError, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(error) == code
    assert capsys.readouterr().err.startswith("Error: x\nHint: ")


def test_the_most_specific_hint_wins_and_a_given_hint_replaces_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "Install the extra" in lookup(DriverMissing("x")).hint
    assert "reachable" in lookup(StoreUnavailable("x")).hint
    assert "busy" in lookup(Overloaded("x")).hint
    assert "signature" in lookup(PredictionFailed("x")).hint
    assert report(NotFound("gone"), hint="Look elsewhere.") == 3
    assert capsys.readouterr().err == "Error: gone\nHint: Look elsewhere.\n"


def test_a_workspace_not_found_hints_at_roles_not_at_listing_experiments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a server with auth answers this for a workspace the user has no role in
    assert report(NotFound("workspace 'team-b' not found")) == 3
    assert capsys.readouterr().err == (
        f"Error: workspace 'team-b' not found\nHint: {WORKSPACE_HINT}\n"
    )
    report(NotFound("workspace 'team-b' not found"), hint="Look elsewhere.")
    assert capsys.readouterr().err.endswith(f"Hint: {WORKSPACE_HINT}\n")
    assert report(NotFound("experiment 'workspace' not found")) == 3
    assert "kiln experiments list" in capsys.readouterr().err


def test_no_role_anywhere_hints_at_asking_an_admin(capsys: pytest.CaptureFixture[str]) -> None:
    message = (
        "user 'carol' has no role in any workspace; ask an administrator for one "
        "(kiln admin grant carol WORKSPACE ROLE)"
    )
    assert report(NotFound(message)) == 3
    assert capsys.readouterr().err == f"Error: {message}\nHint: {NO_ROLE_HINT}\n"
    report(NotFound("user 'carol' not found"))
    assert NO_ROLE_HINT not in capsys.readouterr().err


def test_every_error_class_has_a_row_and_subclasses_come_first() -> None:
    classes = [row.error for row in ERROR_TABLE]
    assert classes[-1] is KilnError
    for index, cls in enumerate(classes):
        for later in classes[index + 1 :]:
            assert not issubclass(later, cls) or later is cls, f"{later} is shadowed by {cls}"
    assert {cls.__name__ for cls in KilnError.__subclasses__()} <= {c.__name__ for c in classes}
    assert all(row.hint.endswith(".") for row in ERROR_TABLE)
