"""``kiln runs``: list, show, delete and restore runs, and list a run's artifacts."""

from __future__ import annotations

from collections.abc import Sequence

import click

from kiln.cli.render import (
    console,
    emit_records,
    esc,
    fitting_columns,
    format_duration,
    format_time,
    format_value,
    output_option,
    table,
)
from kiln.cli.state import CliState, pass_state
from kiln.entities import Run

_VIEWS = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
_MAX_METRIC_COLUMNS = 6
_NAME_WIDTH = 24
_RUN_FIELDS = (
    "run_id",
    "run_name",
    "experiment_id",
    "status",
    "lifecycle_stage",
    "start_time",
    "end_time",
    "artifact_uri",
)


@click.group(
    epilog="""\b
Examples:
  kiln runs list --experiment-name kiln-demo
  kiln runs show 0123456789abcdef0123456789abcdef
"""
)
def runs() -> None:
    """List, inspect, delete and restore runs; list their artifacts."""


def _experiment_id(state: CliState, experiment_id: str | None, name: str | None) -> str:
    return state.chosen_experiment(experiment_id, name) or state.client().default_experiment_id()


def _metric_keys(found: Sequence[Run]) -> list[str]:
    """The metrics most runs have (then by name), at most ``_MAX_METRIC_COLUMNS``."""
    counts: dict[str, int] = {}
    for run in found:
        for key in run.data.metrics:
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))[:_MAX_METRIC_COLUMNS]


@runs.command(
    "list",
    epilog="""\b
Examples:
  kiln runs list --experiment-name kiln-demo
  kiln runs list --experiment-id 1 --filter "metrics.rmse < 0.8" --order-by "metrics.rmse ASC"
  kiln runs list --experiment-id 1 --filter "params.alpha = '0.1'" --max-results 5
  kiln runs list --experiment-name kiln-demo --output csv > runs.csv
""",
)
@click.option("--experiment-id", metavar="ID", help="Experiment to list (default: 0, 'Default').")
@click.option("--experiment-name", metavar="NAME", help="Experiment to list, by name.")
@click.option(
    "--filter", "filter_string", metavar="EXPR", help='MLflow filter, e.g. "metrics.rmse < 1".'
)
@click.option(
    "--order-by",
    multiple=True,
    metavar="KEY [ASC|DESC]",
    help="Sort key, repeatable (default: start_time DESC).",
)
@click.option("--max-results", type=click.IntRange(1, 50000), default=100, show_default=True)
@click.option(
    "--view",
    type=click.Choice(sorted(_VIEWS)),
    default="active",
    show_default=True,
    help="Which runs to list.",
)
@output_option
@pass_state
def list_runs(
    state: CliState,
    experiment_id: str | None,
    experiment_name: str | None,
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    view: str,
    output: str,
) -> None:
    """List the runs of one experiment, newest first."""
    exp_id = _experiment_id(state, experiment_id, experiment_name)
    client = state.client()
    found = list(
        client.iter_runs([exp_id], filter_string or "", _VIEWS[view], max_results, order_by)
    )
    if output != "table":
        _emit_runs(found, output)
        return
    out = console()
    if not found:
        out.print(f"No {view} runs in experiment {esc(exp_id)}.")
        return
    metric_keys = _metric_keys(found)
    columns = ["Run ID", "Name", "Status", "Duration", "Started (UTC)", *metric_keys]
    rows = []
    for run in found:
        info = run.info
        metrics = run.data.metrics
        name = (
            info.run_name
            if len(info.run_name) <= _NAME_WIDTH
            else info.run_name[: _NAME_WIDTH - 1] + "…"
        )
        rows.append(
            [
                info.run_id,
                name,
                str(info.status),
                format_duration(info.start_time, info.end_time),
                format_time(info.start_time),
                *(format_value(metrics[k]) if k in metrics else "-" for k in metric_keys),
            ]
        )
    # Id, name, status and duration always; start time and metrics as the terminal allows.
    keep = fitting_columns(columns, rows, out.width, required=4)
    columns = [columns[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    out.print(table(f"Runs of experiment {exp_id}", columns, rows, wrap=False))


def _emit_runs(found: Sequence[Run], output: str) -> None:
    """Every run in full, as ``search_runs`` shapes it: ``metrics.<key>`` and
    ``params.<key>`` columns for every key any run has."""
    metric_keys = sorted({key for run in found for key in run.data.metrics})
    param_keys = sorted({key for run in found for key in run.data.params})
    fields = [*_RUN_FIELDS, *(f"metrics.{k}" for k in metric_keys)]
    fields += [f"params.{k}" for k in param_keys]
    records = []
    for run in found:
        info = run.info
        record: dict[str, object] = {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "status": str(info.status),
            "lifecycle_stage": str(info.lifecycle_stage),
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
        }
        record.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        record.update({f"params.{k}": v for k, v in run.data.params.items()})
        records.append(record)
    emit_records(records, fields, output)


@runs.command(epilog="Example:\n\n  kiln runs show 0123456789abcdef0123456789abcdef")
@click.argument("run_id")
@pass_state
def show(state: CliState, run_id: str) -> None:
    """Show a run: its info, params, latest metrics and tags."""
    run = state.client().get_run(run_id)
    info = run.info
    out = console()
    out.print(
        table(
            f"Run {info.run_id}",
            ("Field", "Value"),
            [
                ("run_id", info.run_id),
                ("run_name", info.run_name),
                ("experiment_id", info.experiment_id),
                ("status", str(info.status)),
                ("lifecycle_stage", str(info.lifecycle_stage)),
                ("user_id", info.user_id),
                ("start_time", format_time(info.start_time)),
                ("end_time", format_time(info.end_time)),
                ("duration", format_duration(info.start_time, info.end_time)),
                ("artifact_uri", info.artifact_uri),
            ],
        )
    )
    data = run.data
    params = sorted(data.params.items())
    out.print(table("Params", ("Key", "Value"), params) if params else "No params.")
    metrics = [
        (m.key, format_value(m.value), str(m.step), format_time(m.timestamp))
        for m in sorted(data.metric_objects.values(), key=lambda m: m.key)
    ]
    out.print(
        table("Metrics (latest)", ("Key", "Value", "Step", "Time (UTC)"), metrics)
        if metrics
        else "No metrics."
    )
    tags = sorted(data.tags.items())
    out.print(table("Tags", ("Key", "Value"), tags) if tags else "No tags.")


@runs.command(
    epilog="""\b
Examples:
  kiln runs artifacts 0123456789abcdef0123456789abcdef
  kiln runs artifacts 0123456789abcdef0123456789abcdef model
  kiln runs artifacts 0123456789abcdef0123456789abcdef --output json
"""
)
@click.argument("run_id")
@click.argument("path", required=False)
@output_option
@pass_state
def artifacts(state: CliState, run_id: str, path: str | None, output: str) -> None:
    """List the artifacts of RUN_ID under PATH (default: the top level)."""
    client = state.client()
    client.get_run(run_id)  # NotFound for a missing run, not an empty listing
    found = client.list_artifacts(run_id, path or None)
    if output != "table":
        records = [{"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in found]
        emit_records(records, ("path", "is_dir", "file_size"), output)
        return
    out = console()
    where = f"{run_id}/{path.strip('/')}" if path and path.strip("/") else run_id
    if not found:
        out.print(f"No artifacts under {esc(where)}.")
        return
    rows = [
        (f.path + ("/" if f.is_dir else ""), "yes" if f.is_dir else "no", _size(f.file_size))
        for f in found
    ]
    out.print(table(f"Artifacts of run {where}", ("Path", "Folder", "Size"), rows))


def _size(size: int | None) -> str:
    """Bytes as ``812 B``, ``1.2 KiB``, ``3.4 MiB``; ``-`` for folders."""
    if size is None:
        return "-"
    if size < 1024:
        return f"{size} B"
    units = ("KiB", "MiB", "GiB", "TiB")
    value, index = size / 1024, 0
    while value >= 1024 and index < len(units) - 1:
        value, index = value / 1024, index + 1
    return f"{value:.1f} {units[index]}"


@runs.command(epilog="Example:\n\n  kiln runs delete 0123456789abcdef0123456789abcdef")
@click.argument("run_id")
@pass_state
def delete(state: CliState, run_id: str) -> None:
    """Soft-delete a run (undo with `kiln runs restore`)."""
    state.client().delete_run(run_id)
    console().print(f"Deleted run {esc(run_id)} (undo: kiln runs restore {esc(run_id)})")


@runs.command(epilog="Example:\n\n  kiln runs restore 0123456789abcdef0123456789abcdef")
@click.argument("run_id")
@pass_state
def restore(state: CliState, run_id: str) -> None:
    """Restore a soft-deleted run."""
    state.client().restore_run(run_id)
    console().print(f"Restored run {esc(run_id)}")


__all__ = ["runs"]
