"""Rendering helpers for the CLI: rich consoles and tables, imported lazily.

rich is only imported when a command prints, so ``kiln --help`` stays quick.

On a terminal, tables fit its width. Into a pipe or a file they are as wide as
their content (rich would otherwise assume 80 columns and break words:
"classificatio n"), unless ``COLUMNS`` sets a width. Scripts should rather use a
list command's ``--output json`` or ``--output csv``: every column, full values.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

OUTPUT_FORMATS = ("table", "json", "csv")
PIPE_WIDTH = 10_000
"""The console width when stdout is not a terminal and ``COLUMNS`` is unset: no line
of a table is ever broken."""

F = TypeVar("F", bound=Callable[..., Any])


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def console() -> Console:
    """A console on stdout: the terminal's width, else ``COLUMNS``, else no limit."""
    from rich.console import Console

    wide = not _stdout_is_terminal() and not os.environ.get("COLUMNS")
    return Console(highlight=False, width=PIPE_WIDTH if wide else None)


def output_option(command: F) -> F:
    """The ``--output table|json|csv`` option of a list command (parameter ``output``)."""
    option = click.option(
        "--output",
        "output",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="table for people; json (a list of objects) or csv (a header row) for scripts, "
        "with every field in full.",
    )
    return option(command)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ";".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def emit_records(
    records: Sequence[Mapping[str, object]], fields: Sequence[str], output: str
) -> None:
    """Print ``records`` as JSON (a list of objects) or CSV (``fields`` as the header;
    None is an empty cell, a list or a mapping one ``a;b`` / ``k=v;k2=v2`` cell)."""
    if output == "json":
        rows = [{field: record.get(field) for field in fields} for record in records]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for record in records:
        writer.writerow([_cell(record.get(field)) for field in fields])
    click.echo(buffer.getvalue(), nl=False)


def esc(text: object) -> str:
    """``text`` with rich markup escaped, for names users chose."""
    from rich.markup import escape

    return escape(str(text))


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` UTC; ``-`` for None."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    """``1.2s``, ``3m04s``, ``2h05m``; ``-`` while the run has not ended."""
    if start_ms is None or end_ms is None:
        return "-"
    seconds = max(end_ms - start_ms, 0) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_value(value: float) -> str:
    """A metric value, short but exact enough to compare runs."""
    return f"{value:.6g}"


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wrap: bool = True,
) -> Table:
    """A rich table; the first column never wraps (it holds ids and keys).

    With ``wrap=False`` no cell wraps: a row stays one line and cells that do not
    fit are cut with an ellipsis.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    result = Table(
        title=None if title is None else esc(title),
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_header=any(columns),
        min_width=None if title is None else len(title),  # a title never wraps
    )
    for index, name in enumerate(columns):
        if index == 0:
            result.add_column(name, no_wrap=True, style="cyan")
        else:
            result.add_column(name, overflow="fold" if wrap else "ellipsis", no_wrap=not wrap)
    for row in rows:
        result.add_row(*(Text(cell) for cell in row))  # user values are never markup
    return result


def fitting_columns(
    columns: Sequence[str], rows: Sequence[Sequence[str]], width: int, required: int
) -> list[int]:
    """Indices of the columns to show so that a ``wrap=False`` table fits ``width``.

    The first ``required`` columns are always kept; the others are added in order
    while they fit (3 characters between columns, 1 at each edge).
    """
    sizes = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    keep = list(range(min(required, len(columns))))
    used = sum(sizes[i] for i in keep) + 3 * (len(keep) - 1) + 2
    for index in range(len(keep), len(columns)):
        if used + 3 + sizes[index] <= width:
            keep.append(index)
            used += 3 + sizes[index]
    return keep


__all__ = [
    "OUTPUT_FORMATS",
    "PIPE_WIDTH",
    "console",
    "emit_records",
    "esc",
    "fitting_columns",
    "format_duration",
    "format_time",
    "format_value",
    "output_option",
    "table",
]
