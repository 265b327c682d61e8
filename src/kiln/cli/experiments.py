"""``kiln experiments``: create, list, rename, delete and restore experiments."""

from __future__ import annotations

import click

from kiln.cli.render import console, emit_records, esc, format_time, output_option, table
from kiln.cli.state import CliState, pass_state

_VIEWS = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
_FIELDS = (
    "experiment_id",
    "name",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
    "artifact_location",
    "tags",
)


@click.group(
    epilog="""\b
Examples:
  kiln experiments create churn-model
  kiln experiments list --view all
"""
)
def experiments() -> None:
    """Create and list experiments."""


@experiments.command(
    epilog="""\b
Examples:
  kiln experiments create churn-model
  kiln experiments create churn-model --artifact-location s3://bucket/churn
"""
)
@click.argument("name")
@click.option(
    "--artifact-location",
    metavar="URI",
    help="Where the experiment's runs store artifacts (default: under the store's root).",
)
@pass_state
def create(state: CliState, name: str, artifact_location: str | None) -> None:
    """Create the experiment NAME and print its id."""
    experiment_id = state.client().create_experiment(name, artifact_location)
    console().print(
        f"Created experiment [bold]{esc(name)}[/bold] with id [cyan]{experiment_id}[/cyan]"
    )


@experiments.command(
    "list",
    epilog="""\b
Examples:
  kiln experiments list
  kiln experiments list --view deleted
  kiln experiments list --output json
""",
)
@click.option(
    "--view",
    type=click.Choice(sorted(_VIEWS)),
    default="active",
    show_default=True,
    help="Which experiments to list.",
)
@click.option("--max-results", type=click.IntRange(1), default=1000, show_default=True)
@output_option
@pass_state
def list_experiments(state: CliState, view: str, max_results: int, output: str) -> None:
    """List experiments, newest first."""
    page = state.client().search_experiments(_VIEWS[view], max_results=max_results)
    if output != "table":
        records = [
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "lifecycle_stage": str(e.lifecycle_stage),
                "creation_time": e.creation_time,
                "last_update_time": e.last_update_time,
                "artifact_location": e.artifact_location,
                "tags": dict(e.tags),
            }
            for e in page
        ]
        emit_records(records, _FIELDS, output)
        return
    rows = [
        (
            e.experiment_id,
            e.name,
            str(e.lifecycle_stage),
            format_time(e.creation_time),
            e.artifact_location,
        )
        for e in page
    ]
    out = console()
    if not rows:
        out.print(f"No {view} experiments.")
        return
    out.print(
        table(
            None,
            ("ID", "Name", "Stage", "Created (UTC)", "Artifact location"),
            rows,
        )
    )


@experiments.command(epilog="Example:\n\n  kiln experiments rename 3 churn-v2")
@click.argument("experiment_id")
@click.argument("new_name")
@pass_state
def rename(state: CliState, experiment_id: str, new_name: str) -> None:
    """Rename the experiment EXPERIMENT_ID to NEW_NAME."""
    state.client().rename_experiment(experiment_id, new_name)
    console().print(f"Renamed experiment {esc(experiment_id)} to [bold]{esc(new_name)}[/bold]")


@experiments.command(epilog="Example:\n\n  kiln experiments delete 3")
@click.argument("experiment_id")
@pass_state
def delete(state: CliState, experiment_id: str) -> None:
    """Soft-delete an experiment and its runs (undo with `restore`)."""
    state.client().delete_experiment(experiment_id)
    console().print(
        f"Deleted experiment {esc(experiment_id)} "
        f"(undo: kiln experiments restore {esc(experiment_id)})"
    )


@experiments.command(epilog="Example:\n\n  kiln experiments restore 3")
@click.argument("experiment_id")
@pass_state
def restore(state: CliState, experiment_id: str) -> None:
    """Restore a soft-deleted experiment."""
    state.client().restore_experiment(experiment_id)
    console().print(f"Restored experiment {esc(experiment_id)}")


__all__ = ["experiments"]
