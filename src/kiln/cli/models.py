"""``kiln models``: register models, list them, list versions, set aliases.

Each command parses its arguments, makes one call on a ``RegistryService`` over
the registry at the tracking URI, and renders the answer.
"""

from __future__ import annotations

from typing import Any

import click

from kiln.cli.render import console, emit_records, esc, format_time, output_option, table
from kiln.cli.state import CliState, pass_state
from kiln.entities import ModelVersion
from kiln.errors import InvalidInput, NotFound
from kiln.registry.service import RegistryService

_MODEL_FIELDS = (
    "name",
    "latest_version",
    "aliases",
    "creation_timestamp",
    "last_updated_timestamp",
    "description",
)
_VERSION_FIELDS = (
    "name",
    "version",
    "current_stage",
    "aliases",
    "source",
    "run_id",
    "creation_timestamp",
    "description",
)


class ModelsGroup(click.Group):
    """Reports a missing model, version, alias or run with a hint to the model listings
    (the general hint points at experiments)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NotFound as error:
            from kiln.cli.errors import MODEL_HINT, report

            raise click.exceptions.Exit(report(error, MODEL_HINT)) from None


@click.group(
    cls=ModelsGroup,
    epilog="""\b
Examples:
  kiln models register runs:/0123456789abcdef0123456789abcdef/model churn
  kiln models list --filter "name LIKE 'churn%'"
  kiln models versions churn
  kiln models alias churn champion 3
""",
)
def models() -> None:
    """Register models and manage their versions and aliases."""


def _service(state: CliState) -> RegistryService:
    from kiln.models.registration import logged_model_locator
    from kiln.store.artifacts.options import ArtifactOptions
    from kiln.store.open import open_registry_store

    settings = state.settings()
    uri = state.resolved_uri()
    store = open_registry_store(uri, workspace=settings.workspace)
    return RegistryService(
        store,
        tracking=state.client().store,
        logged_models=logged_model_locator(uri, settings.workspace),
        artifact_options=ArtifactOptions(s3_endpoint_url=settings.s3_endpoint_url),
    )


def _tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--tag takes KEY=VALUE, got {pair!r}")
        tags[key] = value
    return tags


def _aliases(mv: ModelVersion) -> str:
    return ", ".join(f"@{a}" for a in mv.aliases) or "-"


@models.command(
    epilog="""\b
Examples:
  kiln models register runs:/0123456789abcdef0123456789abcdef/model churn
  kiln models register s3://bucket/models/churn churn --tag team=growth -d "first cut"
"""
)
@click.argument("model_uri")
@click.argument("name")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag, repeatable.")
@click.option("-d", "--description", help="Description of the new version.")
@pass_state
def register(
    state: CliState, model_uri: str, name: str, tags: tuple[str, ...], description: str | None
) -> None:
    """Register MODEL_URI as a new version of NAME (created if missing)."""
    from kiln.models.registration import register_through

    mv = register_through(
        _service(state),
        state.client(),
        state.resolved_uri(),
        model_uri,
        name,
        tags=_tags(tags),
        description=description,
    )
    console().print(
        f"Registered [bold]{esc(mv.name)}[/] version {mv.version} from {esc(mv.source)}"
    )


@models.command(
    "list",
    epilog="""\b
Examples:
  kiln models list
  kiln models list --filter "tags.team = 'growth'" --order-by "last_updated_timestamp DESC"
  kiln models list --output json
""",
)
@click.option("--filter", "filter_string", metavar="EXPR", help="e.g. \"name LIKE 'churn%'\".")
@click.option("--order-by", multiple=True, metavar="KEY [ASC|DESC]", help="Repeatable.")
@click.option("--max-results", type=click.IntRange(1, 1000), default=100, show_default=True)
@output_option
@pass_state
def list_models(
    state: CliState,
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    output: str,
) -> None:
    """List registered models."""
    page = _service(state).search_registered_models(filter_string, max_results, order_by)
    if output != "table":
        records = [
            {
                "name": model.name,
                "latest_version": max((mv.version for mv in model.latest_versions), default=None),
                "aliases": dict(model.aliases),
                "creation_timestamp": model.creation_timestamp,
                "last_updated_timestamp": model.last_updated_timestamp,
                "description": model.description,
            }
            for model in page
        ]
        emit_records(records, _MODEL_FIELDS, output)
        return
    out = console()
    if not page.items:
        out.print("No registered models.")
        return
    rows = []
    for model in page:
        latest = max((mv.version for mv in model.latest_versions), default=None)
        aliases = ", ".join(f"@{a}={v}" for a, v in model.aliases.items()) or "-"
        rows.append(
            [
                model.name,
                "-" if latest is None else str(latest),
                aliases,
                format_time(model.last_updated_timestamp),
                model.description or "",
            ]
        )
    columns = ["Name", "Latest", "Aliases", "Updated (UTC)", "Description"]
    out.print(table("Registered models", columns, rows))


@models.command(
    epilog="""\b
Examples:
  kiln models versions churn
  kiln models versions churn --output csv
"""
)
@click.argument("name")
@click.option("--max-results", type=click.IntRange(1, 200_000), default=1000, show_default=True)
@output_option
@pass_state
def versions(state: CliState, name: str, max_results: int, output: str) -> None:
    """List the versions of NAME, newest first."""
    service = _service(state)
    service.get_registered_model(name)  # NotFound for a missing model, not an empty table
    found = service.search_model_versions(
        f"name = '{name.replace(chr(39), chr(39) * 2)}'",
        max_results,
        ["version_number DESC"],
    )
    if output != "table":
        records = [
            {
                "name": mv.name,
                "version": mv.version,
                "current_stage": mv.current_stage.value,
                "aliases": list(mv.aliases),
                "source": mv.source,
                "run_id": mv.run_id,
                "creation_timestamp": mv.creation_timestamp,
                "description": mv.description,
            }
            for mv in found
        ]
        emit_records(records, _VERSION_FIELDS, output)
        return
    out = console()
    if not found.items:
        out.print(f"Model {esc(name)} has no versions.")
        return
    rows = [
        [
            str(mv.version),
            mv.current_stage.value,
            _aliases(mv),
            mv.source,
            mv.run_id or "-",
            format_time(mv.creation_timestamp),
        ]
        for mv in found
    ]
    columns = ["Version", "Stage", "Aliases", "Source", "Run ID", "Created (UTC)"]
    out.print(table(f"Versions of {name}", columns, rows))


@models.command(
    epilog="""\b
Examples:
  kiln models alias churn champion 3
  kiln models alias churn champion --delete
"""
)
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead of setting it.")
@pass_state
def alias(state: CliState, name: str, alias: str, version: str | None, delete: bool) -> None:
    """Point ALIAS of model NAME at VERSION (or remove it with --delete)."""
    service = _service(state)
    if delete:
        if version is not None:
            raise InvalidInput("--delete takes no VERSION")
        if alias not in service.get_registered_model(name).aliases:  # as a missing version
            raise NotFound(f"registered model {name!r} has no alias @{alias}")
        service.delete_registered_model_alias(name, alias)
        console().print(f"Removed alias @{esc(alias)} of {esc(name)}")
        return
    if version is None:
        raise InvalidInput("give the VERSION the alias should point at, or --delete")
    service.set_registered_model_alias(name, alias, version)
    console().print(f"{esc(name)}@{esc(alias)} -> version {esc(version)}")


__all__ = ["models"]


from kiln.cli.serve import predict, serve  # noqa: E402  (serving commands live in their own module)

models.add_command(serve)
models.add_command(predict)
