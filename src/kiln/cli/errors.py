"""Kiln errors at the CLI edge: one line, a hint, and the class's exit code.

A ``KilnError`` never reaches the user as a traceback: ``report`` prints one red
``Error: <message>`` line and one hint line on stderr, and the command exits with
the error class's ``exit_code`` (``kiln.errors`` holds every code). The hint is
the CLI's own: the first row of ``HINTS`` the error is an instance of (subclasses
come before their bases).
"""

from __future__ import annotations

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
    NotFound,
    Overloaded,
    PermissionDenied,
    PredictionFailed,
    RequirementsMissing,
    SourceUnavailable,
    StoreUnavailable,
    Unauthenticated,
)

DEBUG_ENV = "KILN_DEBUG"
"""Set (to anything) to let an unexpected exception's traceback through the CLI edge."""

UNEXPECTED_EXIT_CODE = 70  # EX_SOFTWARE: an internal error, not the user's input

MODEL_HINT = (
    "List registered models with `kiln models list`, a model's versions and aliases with "
    "`kiln models versions NAME`, a run's artifacts with `kiln runs artifacts RUN_ID`."
)


@dataclass(frozen=True, slots=True)
class Hint:
    """What the CLI tells the user to do about an ``error`` (and its subclasses)."""

    error: type[KilnError]
    text: str


HINTS: tuple[Hint, ...] = (
    Hint(
        InvalidUri,
        "Use a URI such as sqlite:///path/kiln.db, postgresql://host/db, file:///path/mlruns "
        "or memory://; see `kiln --help`.",
    ),
    Hint(InvalidInput, "Check the arguments; `kiln <command> --help` shows examples."),
    Hint(
        NotFound,
        "Check the name, id or path; `kiln experiments list`, `kiln runs list --experiment-id "
        "ID` and `kiln models list` show what exists.",
    ),
    Hint(AlreadyExists, "Choose another name, or use the existing one."),
    Hint(
        Conflict,
        "The stored state does not allow this change; inspect it with `kiln runs show RUN_ID`.",
    ),
    Hint(PermissionDenied, "Ask an administrator of the workspace for access."),
    Hint(Unauthenticated, "Provide credentials for the tracking server and try again."),
    Hint(
        DriverMissing,
        "Install the extra the message names into the Python that runs `kiln`.",
    ),
    Hint(
        StoreUnavailable,
        "Check that the tracking store is reachable (`--tracking-uri`, KILN_TRACKING_URI).",
    ),
    Hint(Overloaded, "The scoring server is busy with other large requests; try again shortly."),
    Hint(
        PredictionFailed,
        "The model raised on this input; check the input against the model's signature.",
    ),
    Hint(
        SourceUnavailable,
        "Check the project path or git URL, `#subdir` and `--version` (a commit or branch that "
        "exists); `git log` in the repository lists them.",
    ),
    Hint(
        EnvironmentUnavailable,
        "Try `--env-manager local` to run in the current environment, or `--env-manager uv` "
        "with a python_env.yaml that lists only PyPI packages.",
    ),
    Hint(
        RequirementsMissing,
        "Install what the message names into the Python that runs `kiln`, or leave those "
        "examples out of --only.",
    ),
    Hint(
        CheckFailed,
        "The message names the step that failed; the output above it shows what happened.",
    ),
    Hint(KilnError, "Run the command again with `--help`, or report the problem."),
)


def hint_for(error: KilnError) -> str:
    """The text of the first row of ``HINTS`` whose class ``error`` is an instance of."""
    return next(row.text for row in HINTS if isinstance(error, row.error))


def report(error: KilnError, hint: str | None = None) -> int:
    """Print the error and its hint (``HINTS``', unless ``hint`` is given) on stderr;
    return the error class's exit code."""
    _print(str(error.message), hint or hint_for(error))
    return error.exit_code


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
    "HINTS",
    "MODEL_HINT",
    "UNEXPECTED_EXIT_CODE",
    "Hint",
    "hint_for",
    "report",
    "report_unexpected",
]
