"""``kiln import`` and ``kiln export``: copy history between tracking stores.

History first (``kiln.store.transfer.history``), then logged models and the model
registry (``kiln.store.transfer.models``) where both sides keep them.

Thin wrappers over ``kiln.store.transfer.history.copy_history`` (imported lazily) that add a
progress display and a summary table. Both directions are the same operation;
the two names only choose which side defaults to the current tracking URI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click

from kiln.cli.render import console, table
from kiln.cli.state import CliState, pass_state
from kiln.errors import InvalidUri, NotFound

if TYPE_CHECKING:
    from kiln.store.artifacts.options import ArtifactOptions
    from kiln.store.protocols.registry import RegistryStore
    from kiln.store.protocols.tracking import TrackingStore
    from kiln.store.transfer.history import TransferReport, TransferStep
    from kiln.store.transfer.models import ModelTransferReport


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
    from kiln.config import Settings
    from kiln.store.artifacts.options import ArtifactOptions
    from kiln.tracking.client import KilnClient

    _check_source_exists(source_uri)
    settings = Settings.from_env()
    options = ArtifactOptions(s3_endpoint_url=settings.s3_endpoint_url)
    with (
        contextlib.closing(KilnClient.from_uri(source_uri, settings)) as source_client,
        contextlib.closing(KilnClient.from_uri(dest_uri, settings)) as dest_client,
    ):
        _copy_between(
            source_client.store,
            dest_client.store,
            source_uri,
            dest_uri,
            experiment_ids,
            options if artifacts else None,
        )


def _copy_between(
    source: TrackingStore,
    dest: TrackingStore,
    source_uri: str,
    dest_uri: str,
    experiment_ids: tuple[str, ...],
    artifacts: ArtifactOptions | None,
) -> None:
    """Copy history, then models; ``artifacts`` reach the artifact stores (None: no files)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from kiln.store.transfer.history import copy_history

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
            copy_artifacts=artifacts is not None,
            progress=on_step,
            artifact_options=artifacts,
        )
        progress.update(task, total=1, completed=1)
    models, skipped = _copy_models(source_uri, dest_uri, source, dest, report, artifacts)
    _print_report(source_uri, dest_uri, report, models, skipped)


def _copy_models(
    source_uri: str,
    dest_uri: str,
    source: TrackingStore,
    dest: TrackingStore,
    report: TransferReport,
    artifacts: ArtifactOptions | None,
) -> tuple[ModelTransferReport, list[tuple[str, str]]]:
    """Logged models and the registry, where both sides keep them; -> (report, skipped).
    Each side's are those of its tracking store's workspace (the settings')."""
    from kiln.store.open import open_logged_model_store
    from kiln.store.rest.logged_models import RestLoggedModelStore
    from kiln.store.transfer.models import ModelTransferReport, copy_logged_models, copy_registry

    models = ModelTransferReport()
    skipped: list[tuple[str, str]] = []
    origin, target = _store_uri(source_uri), _store_uri(dest_uri)
    dest_models = None
    try:
        source_models = open_logged_model_store(origin, workspace=source.workspace)
        dest_models = open_logged_model_store(target, workspace=dest.workspace)
        if isinstance(dest_models, RestLoggedModelStore):
            dest_models.close()
            dest_models = None
            raise InvalidUri(f"the server at {target} cannot take logged models with their ids")
    except InvalidUri as error:
        skipped.append(("logged models", f"not copied: {error}"))
    else:
        copy_logged_models(
            source_models,
            dest_models,
            dest,
            report,
            models,
            copy_artifacts=artifacts is not None,
            artifact_options=artifacts,
        )
    with contextlib.ExitStack() as opened:
        try:
            source_registry = opened.enter_context(_closing_registry(origin, source.workspace))
            dest_registry = opened.enter_context(_closing_registry(target, dest.workspace))
        except InvalidUri as error:
            skipped.append(("registry", f"not copied: {error}"))
        else:
            copy_registry(
                source_registry,
                dest_registry,
                models,
                run_ids=report.run_ids,
                dest_tracking=dest,
                dest_models=dest_models,
            )
    return models, skipped


@contextlib.contextmanager
def _closing_registry(uri: str, workspace: str) -> Iterator[RegistryStore]:
    """The registry at ``uri`` of ``workspace``; a server's connection pool is released after."""
    from kiln.store.open import open_registry_store
    from kiln.store.rest.registry import RestRegistryStore

    store = open_registry_store(uri, workspace=workspace)
    try:
        yield store
    finally:
        if isinstance(store, RestRegistryStore):
            store.close()


def _store_uri(uri: str) -> str:
    """A bare mlruns path as the ``file:`` URI the registry table knows."""
    scheme = urlparse(uri).scheme
    return Path(uri).expanduser().resolve().as_uri() if len(scheme) <= 1 else uri


def _print_report(
    source_uri: str,
    dest_uri: str,
    report: TransferReport,
    models: ModelTransferReport,
    skipped: list[tuple[str, str]],
) -> None:
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
        ("logged models copied", str(models.logged_models_copied)),
        ("logged models already there", str(models.logged_models_skipped)),
        ("registered models created", str(models.registered_models_created)),
        ("registered models merged", str(models.registered_models_merged)),
        ("model versions copied", str(models.model_versions_copied)),
        ("model versions already there", str(models.model_versions_skipped)),
        ("aliases", str(models.aliases)),
        *skipped,
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
