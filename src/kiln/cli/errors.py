"""The one table from Kiln errors to exit codes and hints, applied at the CLI edge.

A ``KilnError`` never reaches the user as a traceback: ``report`` prints one red
``Error: <message>`` line and one hint line on stderr, and the command exits with
the code the table gives for the error's class (the first matching row wins, so
subclasses come before their bases). The classes carry only MLflow's
``error_code`` (``kiln.errors``); their HTTP status is ``kiln.http_status``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiln.errors import (
    AlreadyExists,
    CheckFailed,
    Conflict,
    DriverMissing,
    EnvironmentUnavailable,
    InvalidInput,
    InvalidUri,
    KilnError,
    ModelValidationFailed,
    NotFound,
    Overloaded,
    PermissionDenied,
    PredictionFailed,
    RequirementsMissing,
    SourceUnavailable,
    StoreUnavailable,
    TooManyRequests,
    Unauthenticated,
)

DEBUG_ENV = "KILN_DEBUG"
"""Set (to anything) to let an unexpected exception's traceback through the CLI edge."""

UNEXPECTED_EXIT_CODE = 70  # EX_SOFTWARE: an internal error, not the user's input

MODEL_HINT = (
    "List registered models with `kiln models list`, a model's versions and aliases with "
    "`kiln models versions NAME`, a run's artifacts with `kiln runs artifacts RUN_ID`."
)

# a server with auth answers 404 "workspace 'x' not found" both for a workspace that does
# not exist and for one the user has no role in (it never says which exist)
WORKSPACE_HINT = (
    "You have no role in that workspace, or it does not exist: name one of yours with "
    "MLFLOW_WORKSPACE, or ask an admin for a role (`kiln admin grant USER WORKSPACE ROLE`)."
)
_WORKSPACE_NOT_FOUND = re.compile(r"^workspace '[^']*' not found")
# ... and this when the request named no workspace and the user has a role in none
NO_ROLE_HINT = (
    "Only an administrator can give you a role (`kiln admin grant USER WORKSPACE ROLE`); "
    "once you have one, run the command again."
)
_NO_ROLE = re.compile(r"^user '[^']*' has no role in any workspace")


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """What the CLI answers for an ``error`` (and its subclasses): the exit code, and
    the hint that tells the user what to do."""

    error: type[KilnError]
    exit_code: int
    hint: str


ERROR_TABLE: tuple[ErrorRow, ...] = (
    ErrorRow(
        InvalidUri,
        2,
        "Use a URI such as sqlite:///path/kiln.db, postgresql://host/db, file:///path/mlruns "
        "or memory://; see `kiln --help`.",
    ),
    ErrorRow(InvalidInput, 2, "Check the arguments; `kiln <command> --help` shows examples."),
    ErrorRow(
        NotFound,
        3,
        "Check the name, id or path; `kiln experiments list`, `kiln runs list --experiment-id "
        "ID` and `kiln models list` show what exists.",
    ),
    ErrorRow(AlreadyExists, 4, "Choose another name, or use the existing one."),
    ErrorRow(
        Conflict,
        4,
        "The stored state does not allow this change; inspect it with `kiln runs show RUN_ID`.",
    ),
    ErrorRow(PermissionDenied, 5, "Ask an administrator of the workspace for access."),
    ErrorRow(
        Unauthenticated,
        5,
        "Log in with `kiln login SERVER_URL`, or set MLFLOW_TRACKING_TOKEN (or "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD).",
    ),
    ErrorRow(
        TooManyRequests,
        5,
        "Too many failed logins for this user; wait a few minutes, then try again with the "
        "right password.",
    ),
    ErrorRow(
        DriverMissing,
        6,
        "Install the extra the message names into the Python that runs `kiln`.",
    ),
    ErrorRow(
        StoreUnavailable,
        6,
        "Check that the tracking store is reachable (`--tracking-uri`, KILN_TRACKING_URI).",
    ),
    ErrorRow(
        Overloaded, 6, "The scoring server is busy with other large requests; try again shortly."
    ),
    ErrorRow(
        PredictionFailed,
        1,
        "The model raised on this input; check the input against the model's signature.",
    ),
    ErrorRow(
        ModelValidationFailed,
        1,
        "The candidate model missed the thresholds the message lists; improve it or revisit "
        "the thresholds.",
    ),
    ErrorRow(
        SourceUnavailable,
        7,
        "Check the project path or git URL, `#subdir` and `--version` (a commit or branch that "
        "exists); `git log` in the repository lists them.",
    ),
    ErrorRow(
        EnvironmentUnavailable,
        7,
        "Try `--env-manager local` to run in the current environment, or `--env-manager uv` "
        "with a python_env.yaml that lists only PyPI packages.",
    ),
    ErrorRow(
        RequirementsMissing,
        1,
        "Install what the message names into the Python that runs `kiln`, or leave those "
        "examples out of --only.",
    ),
    ErrorRow(
        CheckFailed,
        1,
        "The message names the step that failed; the output above it shows what happened.",
    ),
    ErrorRow(KilnError, 1, "Run the command again with `--help`, or report the problem."),
)


def lookup(error: KilnError) -> ErrorRow:
    """The first row of ``ERROR_TABLE`` whose class ``error`` is an instance of (the
    last row is ``KilnError``'s, so there always is one)."""
    return next(row for row in ERROR_TABLE if isinstance(error, row.error))


def report(error: KilnError, hint: str | None = None) -> int:
    """Print the error and its hint (the table's, unless ``hint`` is given; a missing
    workspace always gets ``WORKSPACE_HINT``) on stderr; return the table's exit code."""
    row = lookup(error)
    if isinstance(error, NotFound) and _WORKSPACE_NOT_FOUND.match(str(error.message)):
        hint = WORKSPACE_HINT  # over a command's own NotFound hint (models: MODEL_HINT)
    elif isinstance(error, NotFound) and _NO_ROLE.match(str(error.message)):
        hint = NO_ROLE_HINT
    _print(str(error.message), hint or row.hint)
    return row.exit_code


def report_unexpected(error: Exception) -> int:
    """Report an exception that is not a ``KilnError`` in one line; return the exit code.

    An ``OSError`` (a file that cannot be written, a full disk) is the user's to fix and
    says so; anything else is a bug in Kiln, and ``KILN_DEBUG=1`` shows its traceback.
    """
    if isinstance(error, OSError):
        _print(str(error), "Check the path, its permissions and the free space.")
        return 1
    _print(
        f"unexpected {type(error).__name__}: {error}",
        f"This is a bug in Kiln: run again with {DEBUG_ENV}=1 for the traceback and report it.",
    )
    return UNEXPECTED_EXIT_CODE


def _print(message: str, hint: str) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, soft_wrap=True, highlight=False)
    one_line = " ".join(message.split())  # one line, whatever the message holds
    console.print(Text(f"Error: {one_line}", style="bold red"))
    console.print(Text(f"Hint: {hint}", style="yellow"))


__all__ = [
    "DEBUG_ENV",
    "ERROR_TABLE",
    "MODEL_HINT",
    "NO_ROLE_HINT",
    "UNEXPECTED_EXIT_CODE",
    "WORKSPACE_HINT",
    "ErrorRow",
    "lookup",
    "report",
    "report_unexpected",
]
