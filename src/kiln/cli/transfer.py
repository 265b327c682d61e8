"""``kiln import`` and ``kiln export``: copy history between tracking stores.

Thin wrappers over ``kiln.store.transfer.copy_history`` (imported lazily) that add a
progress display and a summary table. Both directions are the same operation;
the two names only choose which side defaults to the current tracking URI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click

from kiln.cli.render import console, table
from kiln.cli.state import CliState, pass_state
from kiln.errors import NotFound

if TYPE_CHECKING:
    from kiln.store.transfer import TransferReport, TransferStep


def _check_source_exists(uri: str) -> None:
    """A mistyped mlruns path must not silently read as an empty store."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:
        path = Path(parsed.path if scheme == "file" else uri).expanduser()
        if not path.exists():
            raise NotFound(f"the source {uri!r} does not exist")
    elif scheme == "sqlite" and ":///" in uri:
        path = Path(uri.split("///", 1)[-1]).expanduser()
        if not path.exists():
            raise NotFound(f"the source database {str(path)!r} does not exist")


def _copy(source_uri: str, dest_uri: str, experiment_ids: tuple[str, ...], artifacts: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from kiln.store.transfer import copy_history
    from kiln.tracking.client import KilnClient

    _check_source_exists(source_uri)
    source = KilnClient.from_uri(source_uri).store
    dest = KilnClient.from_uri(dest_uri).store
    counts = {"experiment": 0, "run": 0, "run_skipped": 0, "artifacts": 0}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task("Copying history", total=None)

        def on_step(step: TransferStep) -> None:
            counts[step.kind] += 1
            progress.update(
                task,
                description=(
                    f"experiments {counts['experiment']}, runs {counts['run']} copied / "
                    f"{counts['run_skipped']} already there"
                ),
            )

        report = copy_history(
            source,
            dest,
            experiment_ids=list(experiment_ids) or None,
            copy_artifacts=artifacts,
            progress=on_step,
        )
        progress.update(task, total=1, completed=1)
    _print_report(source_uri, dest_uri, report)


def _print_report(source_uri: str, dest_uri: str, report: TransferReport) -> None:
    rows = [
        ("from", source_uri),
        ("to", dest_uri),
        ("experiments created", str(report.experiments_created)),
        ("experiments merged", str(report.experiments_merged)),
        ("runs copied", str(report.runs_copied)),
        ("runs already there", str(report.runs_skipped)),
        ("params", str(report.params)),
        ("tags", str(report.tags)),
        ("metric points", str(report.metric_points)),
        ("artifact files", str(report.artifact_files)),
        ("artifact bytes", str(report.artifact_bytes)),
        ("run ids kept", "yes" if report.ids_kept else "no (see tag kiln.importedFrom)"),
    ]
    console().print(table("Copied", ("What", "Count"), rows))


_OPTIONS = [
    click.option(
        "--experiment-id",
        "experiment_ids",
        multiple=True,
        metavar="ID",
        help="Copy only this source experiment (repeatable; default: all, deleted included).",
    ),
    click.option(
        "--artifacts/--no-artifacts", default=True, show_default=True, help="Copy artifact files."
    ),
]


@click.command(
    "import",
    epilog="""\b
Examples:
  kiln import ./mlruns
  kiln import sqlite:///old/mlflow.db --to sqlite:///team.db
  kiln import ./mlruns --experiment-id 3 --no-artifacts
""",
)
@click.argument("source", metavar="SRC")
@click.option(
    "--to", "dest", metavar="URI", help="Destination store (default: the current tracking URI)."
)
@_OPTIONS[0]
@_OPTIONS[1]
@pass_state
def import_cmd(
    state: CliState,
    source: str,
    dest: str | None,
    experiment_ids: tuple[str, ...],
    artifacts: bool,
) -> None:
    """Copy the history in SRC (an MLflow mlruns folder or any store URI) into a store.

    Copying again is safe: runs already present are skipped.
    """
    _copy(source, dest or state.resolved_uri(), experiment_ids, artifacts)


@click.command(
    "export",
    epilog="""\b
Examples:
  kiln export --to ./mlruns
  kiln export sqlite:///team.db --to file:///backup/mlruns
""",
)
@click.argument("source", metavar="[URI]", required=False)
@click.option(
    "--to",
    "dest",
    metavar="DST",
    required=True,
    help="Destination: an mlruns folder (MLflow's UI can open it) or any store URI.",
)
@_OPTIONS[0]
@_OPTIONS[1]
@pass_state
def export_cmd(
    state: CliState,
    source: str | None,
    dest: str,
    experiment_ids: tuple[str, ...],
    artifacts: bool,
) -> None:
    """Copy the history of URI (default: the current tracking URI) to DST."""
    _copy(source or state.resolved_uri(), dest, experiment_ids, artifacts)


__all__ = ["export_cmd", "import_cmd"]
