"""Copy MLflow 3 logged models and the model registry: the second half of ``kiln import``.

Runs after ``kiln.store.transfer.history.copy_history``, whose ``TransferReport`` maps
source experiment and run ids to destination ones.

* Logged models keep their ids (registry sources and ``models:/m-...`` URIs name
  them), move to the mapped experiment, and bring tags, params, metrics (run ids
  mapped), status, times, their files (``<experiment artifacts>/models/<id>/
  artifacts``) and the runs' outputs and model inputs. A model already in the
  destination is skipped. Deleted logged models are not copied (no store lists them).
* Registered models bring description, tags, versions (source, run id mapped,
  model id, tags, description, stage, user) and aliases. A model new to the
  destination keeps its version numbers (a number the source deleted is taken and
  deleted again, so none is reused). Into an existing model, versions whose
  ``(source, run_id, model_id)`` is already there are skipped, the rest appended,
  missing tags and aliases added. Timestamps are the copy's.

Idempotent like the history copy: running it again adds nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from kiln.entities import ModelVersion, ModelVersionStage, RegisteredModel
from kiln.entities.logged_model import LoggedModel
from kiln.errors import AlreadyExists, NotFound
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.rules.logged_models import model_artifact_location
from kiln.store.transfer.history import TransferReport, copy_tree
from kiln.store.transfer.pages import all_items

_PAGE = 100
_VersionKey = tuple[str, str | None, str | None]


@dataclass(slots=True)
class ModelTransferReport:
    """What ``copy_logged_models`` and ``copy_registry`` did."""

    logged_models_copied: int = 0
    logged_models_skipped: int = 0
    registered_models_created: int = 0
    registered_models_merged: int = 0
    model_versions_copied: int = 0
    model_versions_skipped: int = 0
    aliases: int = 0
    unreadable_artifacts: dict[str, str] = field(default_factory=dict)


def copy_logged_models(
    source: LoggedModelStore,
    dest: LoggedModelStore,
    dest_tracking: TrackingStore,
    history: TransferReport,
    report: ModelTransferReport,
    *,
    copy_artifacts: bool = True,
    artifact_options: ArtifactOptions | None = None,
) -> None:
    """Copy the logged models of every experiment ``history`` copied (see the module doc);
    ``artifact_options`` reach the artifact stores (the caller's settings)."""
    run_ids = history.run_ids
    for source_experiment, dest_experiment in history.experiment_ids.items():
        root = dest_tracking.get_experiment(dest_experiment).artifact_location
        for model in _all_logged_models(source, source_experiment):
            copy = dataclasses.replace(
                model,
                experiment_id=dest_experiment,
                artifact_location=model_artifact_location(root, model.model_id),
                source_run_id=_mapped(model.source_run_id, run_ids),
                metrics=tuple(
                    dataclasses.replace(m, run_id=_mapped(m.run_id, run_ids)) for m in model.metrics
                ),
            )
            try:
                dest.import_logged_model(copy)
                report.logged_models_copied += 1
            except AlreadyExists:
                report.logged_models_skipped += 1
                copy = dest.get_logged_model(model.model_id, allow_deleted=True)
            if copy_artifacts:
                copied = copy_tree(
                    model.artifact_location, copy.artifact_location, history, artifact_options
                )
                if copied is None:
                    report.unreadable_artifacts[model.model_id] = model.artifact_location
    for source_run, dest_run in run_ids.items():
        _copy_run_links(source, dest, source_run, dest_run)


def _all_logged_models(store: LoggedModelStore, experiment_id: str) -> Iterator[LoggedModel]:
    return all_items(
        lambda token: store.search_logged_models(
            [experiment_id], max_results=_PAGE, page_token=token
        )
    )


def _copy_run_links(
    source: LoggedModelStore, dest: LoggedModelStore, source_run: str, dest_run: str
) -> None:
    """The run's outputs (models it produced) and model inputs (models it used)."""
    try:
        outputs = source.get_outputs(source_run)
        inputs = source.get_model_inputs(source_run)
    except NotFound:  # an mlruns source keeps them in the run folder; none there
        return
    if not outputs and not inputs:
        return
    present = dest.get_outputs(dest_run)
    for output in outputs:
        if output not in present:
            try:
                dest.log_outputs(dest_run, [output])
            except NotFound:  # the model was deleted in the source and not copied
                continue
    if inputs:
        dest.log_model_inputs(dest_run, inputs)


def _mapped(run_id: str | None, run_ids: Mapping[str, str]) -> str | None:
    return run_ids.get(run_id, run_id) if run_id else run_id


# -- registry -----------------------------------------------------------------------------
def copy_registry(
    source: RegistryStore,
    dest: RegistryStore,
    report: ModelTransferReport,
    *,
    run_ids: Mapping[str, str] | None = None,
    dest_tracking: TrackingStore | None = None,
    dest_models: LoggedModelStore | None = None,
) -> None:
    """Copy every registered model (see the module doc).

    ``dest_tracking`` and ``dest_models`` resolve where each version's files are in
    the destination (``runs:/`` through the run's artifact URI, ``models:/m-...``
    through the logged model); without them the source's location is kept.
    """
    mapping = dict(run_ids or {})
    for model in _all_registered_models(source):
        try:
            existing: RegisteredModel | None = dest.get_registered_model(model.name)
        except NotFound:
            existing = None
        if existing is None:
            dest.create_registered_model(model.name, model.tags, model.description)
            report.registered_models_created += 1
            existing_tags: Mapping[str, str] = model.tags
            existing_aliases: Mapping[str, int] = {}
        else:
            report.registered_models_merged += 1
            existing_tags, existing_aliases = existing.tags, existing.aliases
        for key, value in model.tags.items():
            if key not in existing_tags:
                dest.set_registered_model_tag(model.name, key, value)
        present: dict[_VersionKey, int] = {
            _key(v): v.version for v in _all_versions(dest, model.name)
        }
        numbers: dict[int, int] = {}
        next_number = 1  # of a model created here
        for version in sorted(_all_versions(source, model.name), key=lambda v: v.version):
            copy = _mapped_version(version, mapping, dest_tracking, dest_models)
            if _key(copy) in present:
                numbers[version.version] = present[_key(copy)]
                report.model_versions_skipped += 1
                continue
            if existing is None:  # keep the numbering: take and drop the numbers deleted
                _take_numbers(dest, model.name, version.version, next_number)
            numbers[version.version] = _add_version(dest, copy)
            next_number = numbers[version.version] + 1
            report.model_versions_copied += 1
        for alias, number in model.aliases.items():
            if alias not in existing_aliases and number in numbers:
                dest.set_registered_model_alias(model.name, alias, numbers[number])
                report.aliases += 1


def _all_registered_models(store: RegistryStore) -> Iterator[RegisteredModel]:
    return all_items(
        lambda token: store.search_registered_models(max_results=_PAGE, page_token=token)
    )


def _all_versions(store: RegistryStore, name: str) -> list[ModelVersion]:
    escaped = name.replace("'", "\\'")
    found = all_items(
        lambda token: store.search_model_versions(
            f"name = '{escaped}'", max_results=_PAGE * 10, page_token=token
        )
    )
    return [v for v in found if v.name == name]


def _key(version: ModelVersion) -> _VersionKey:
    return (version.source, version.run_id, version.model_id)


def _mapped_version(
    version: ModelVersion,
    run_ids: Mapping[str, str],
    tracking: TrackingStore | None,
    models: LoggedModelStore | None,
) -> ModelVersion:
    """The version with run ids mapped and its storage location looked up in the destination."""
    source, location = version.source, version.storage_location
    run_id = _mapped(version.run_id, run_ids)
    if source.startswith("runs:/"):
        with_source_run, _, path = source.removeprefix("runs:/").lstrip("/").partition("/")
        dest_run = run_ids.get(with_source_run, with_source_run)
        source = f"runs:/{dest_run}/{path}" if path else f"runs:/{dest_run}"
        if tracking is not None:
            try:
                artifact_uri = tracking.get_run(dest_run).info.artifact_uri
                location = f"{artifact_uri.rstrip('/')}/{path}" if path else artifact_uri
            except NotFound:
                pass
    elif version.model_id and models is not None:
        try:
            found = models.get_logged_model(version.model_id, allow_deleted=True)
            location = found.artifact_location
        except NotFound:
            pass
    return dataclasses.replace(version, source=source, run_id=run_id, storage_location=location)


def _take_numbers(dest: RegistryStore, name: str, below: int, next_number: int) -> None:
    """Create and delete versions until ``below`` is the next number of ``name``."""
    while next_number < below:
        placeholder = dest.create_model_version(name, f"kiln-import:/deleted/{next_number}")
        dest.delete_model_version(name, placeholder.version)
        next_number = placeholder.version + 1


def _add_version(dest: RegistryStore, version: ModelVersion) -> int:
    made = dest.create_model_version(
        version.name,
        version.source,
        run_id=version.run_id,
        tags=version.tags,
        run_link=version.run_link,
        description=version.description,
        model_id=version.model_id,
        storage_location=version.storage_location,
        user_id=version.user_id,
    )
    if version.current_stage is not ModelVersionStage.NONE:
        dest.transition_model_version_stage(version.name, made.version, version.current_stage)
    return made.version


__all__ = ["ModelTransferReport", "copy_logged_models", "copy_registry"]
