"""Helpers for tests of Kiln's command line through click's ``CliRunner``."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result

# A test's way to run ``kiln ARGS...`` (``stdin=`` where the command reads it).
Invoke = Callable[..., Result]


def one_error_line(result: Result) -> str:
    """The one ``Error:`` line a failed command printed: bad input on the command
    line is one clear line, never a traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


__all__ = ["Invoke", "one_error_line"]
