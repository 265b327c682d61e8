"""``kiln datasets``: which runs used which version of the data (lineage).

A version is a dataset's ``(name, digest)``, as ``kiln.log_input`` records it.
``list`` gives every version with the runs that used it; ``show NAME`` gives one
dataset's versions over time and, run by run, which version each one read.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from kiln.cli.render import console, emit_records, esc, format_time, output_option, table
from kiln.cli.state import CliState, pass_state
from kiln.errors import NotFound
from kiln.tracking.lineage import (
    DatasetUse,
    DatasetVersion,
    dataset_versions,
    row_count,
    schema_columns,
    source_uri,
)

_MAX_RUNS_LISTED = 5
_MAX_SCHEMA_COLUMNS = 4
_FIELDS = ("name", "digest", "source", "rows", "schema", "last_used", "runs")


@click.group(
    epilog="""\b
Examples:
  kiln datasets list
  kiln datasets list --experiment-name churn
  kiln datasets show train --digest 3f2a9c1b
"""
)
def datasets() -> None:
    """Datasets the runs used, by version (digest), and which runs used each."""


def _experiment_ids(
    state: CliState, experiment_id: str | None, name: str | None
) -> list[str] | None:
    """The experiments to search: the one named, or None for all active ones."""
    chosen = state.chosen_experiment(experiment_id, name)
    if chosen is None:
        return None
    if experiment_id:  # an id as given: make sure it exists
        chosen = state.client().get_experiment(chosen).experiment_id
    return [chosen]


def _schema_summary(version: DatasetVersion) -> str:
    columns = schema_columns(version.dataset)
    if not columns:
        return "-"
    shown = ", ".join(f"{name}:{kind}" for name, kind in columns[:_MAX_SCHEMA_COLUMNS])
    more = len(columns) - _MAX_SCHEMA_COLUMNS
    return f"{shown}, +{more} more" if more > 0 else shown


def _rows(version: DatasetVersion) -> str:
    rows = row_count(version.dataset)
    return "-" if rows is None else str(rows)


def _use_line(use: DatasetUse) -> str:
    return f"{use.run_id} ({use.context})" if use.context else use.run_id


def _runs_cell(version: DatasetVersion) -> str:
    newest = list(reversed(version.uses))
    lines = [_use_line(use) for use in newest[:_MAX_RUNS_LISTED]]
    if len(newest) > _MAX_RUNS_LISTED:
        lines.append(f"+{len(newest) - _MAX_RUNS_LISTED} more")
    return "\n".join(lines)


def _where(experiment_ids: Sequence[str] | None) -> str:
    return "any experiment" if experiment_ids is None else f"experiment {experiment_ids[0]}"


@datasets.command(
    "list",
    epilog="""\b
Examples:
  kiln datasets list
  kiln datasets list --experiment-name churn
  kiln datasets list --output json
""",
)
@click.option("--experiment-id", metavar="ID", help="Only runs of this experiment.")
@click.option("--experiment-name", metavar="NAME", help="Only runs of this experiment.")
@output_option
@pass_state
def list_datasets(
    state: CliState, experiment_id: str | None, experiment_name: str | None, output: str
) -> None:
    """List every dataset version (name + digest) with the runs that used it, newest first."""
    ids = _experiment_ids(state, experiment_id, experiment_name)
    versions = dataset_versions(state.client(), ids)
    if output != "table":
        records = [
            {
                "name": v.dataset.name,
                "digest": v.dataset.digest,
                "source": source_uri(v.dataset),
                "rows": row_count(v.dataset),
                "schema": dict(schema_columns(v.dataset)),
                "last_used": v.last_used,
                "runs": [use.run_id for use in reversed(v.uses)],
            }
            for v in versions
        ]
        emit_records(records, _FIELDS, output)
        return
    out = console()
    if not versions:
        out.print(
            f"No run of {_where(ids)} logged a dataset; record one with "
            'kiln.log_input(df_or_path, context="training").'
        )
        return
    rows = [
        (
            v.dataset.name,
            v.dataset.digest,
            source_uri(v.dataset),
            _rows(v),
            _schema_summary(v),
            format_time(v.last_used),
            _runs_cell(v),
        )
        for v in versions
    ]
    columns = ("Name", "Digest", "Source", "Rows", "Schema", "Last used (UTC)", "Runs (context)")
    out.print(table(f"Datasets used in {_where(ids)}", columns, rows))


@datasets.command(
    epilog="""\b
Examples:
  kiln datasets show train
  kiln datasets show train --digest 3f2a9c1b
  kiln datasets show train --experiment-name churn
""",
)
@click.argument("name")
@click.option("--digest", metavar="DIGEST", help="Only this version of the dataset.")
@click.option("--experiment-id", metavar="ID", help="Only runs of this experiment.")
@click.option("--experiment-name", metavar="NAME", help="Only runs of this experiment.")
@pass_state
def show(
    state: CliState,
    name: str,
    digest: str | None,
    experiment_id: str | None,
    experiment_name: str | None,
) -> None:
    """Show the versions of dataset NAME over time, and the runs that used each."""
    ids = _experiment_ids(state, experiment_id, experiment_name)
    versions = dataset_versions(state.client(), ids, name=name, digest=digest)
    if not versions:
        what = f"{name!r} with digest {digest!r}" if digest else repr(name)
        raise NotFound(
            f"no run of {_where(ids)} used a dataset {what}; `kiln datasets list` shows the "
            "datasets that were logged"
        )
    out = console()
    out.print(
        table(
            f"Versions of dataset {name} (oldest first)",
            ("Digest", "First used (UTC)", "Last used (UTC)", "Runs", "Rows", "Source", "Schema"),
            [
                (
                    v.dataset.digest,
                    format_time(v.first_used),
                    format_time(v.last_used),
                    str(len(v.uses)),
                    _rows(v),
                    source_uri(v.dataset),
                    _schema_summary(v),
                )
                for v in versions
            ],
        )
    )
    uses = sorted(
        ((use, v.dataset.digest) for v in versions for use in v.uses),
        key=lambda pair: (pair[0].start_time, pair[0].run_id),
    )
    out.print(
        table(
            f"Runs that used {name}",
            ("Run ID", "Digest", "Context", "Run name", "Experiment", "Status", "Started (UTC)"),
            [
                (
                    use.run_id,
                    used_digest,
                    use.context or "-",
                    use.run_name,
                    use.experiment_id,
                    str(use.status),
                    format_time(use.start_time),
                )
                for use, used_digest in uses
            ],
        )
    )
    if len(versions) > 1:
        out.print(
            f"{len(versions)} versions of {esc(name)}: runs that read different digests saw "
            "different data, so compare their metrics with care."
        )


__all__ = ["datasets"]
