"""The model registry in an ``mlruns`` folder, in MLflow's file-registry layout.

What ``mlflow/store/model_registry/file_store.py`` writes, so ``mlflow`` reads
Kiln's registry and the other way round::

    <root>/models/<name>/meta.yaml                registered model (YAML, keys sorted)
    <root>/models/<name>/tags/<key>               model tag value (no newline)
    <root>/models/<name>/aliases/<alias>          the version number the alias names
    <root>/models/<name>/version-<n>/meta.yaml    model version
    <root>/models/<name>/version-<n>/tags/<key>   version tag value

A deleted version stays on disk with ``current_stage: Deleted_Internal`` (as in
MLflow), which is how version numbers are never reused. Keys with ``/`` become
sub-folders.

Every write runs under an exclusive ``flock`` on ``models/.kiln-registry.lock``
(reads under a shared one), so server workers and CLI processes agree: it loads
the registry from disk, applies ``MemoryRegistryStore``'s logic (the contract's
reference) and writes back only what changed, each file by atomic replace.
Registries hold tens to thousands of versions; reading them all per call is the
price of having one implementation of the rules. Like the mlruns tracking store,
only the ``default`` workspace opens.

No audit log: an mlruns folder has no transactions to write an audit line in
together with the change, so the file stores record nothing (``open_audit_log``
refuses a file URI, and ``kiln server --auth`` refuses file stores).
(The events ``MemoryRegistryStore``'s logic records go to its throwaway state.)
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kiln.entities import (
    DEFAULT_WORKSPACE,
    ModelVersion,
    ModelVersionStage,
    ModelVersionStatus,
    Page,
    RegisteredModel,
)
from kiln.errors import InvalidInput
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.file.folders import FolderLock, check_keys_nest, mlruns_root
from kiln.store.file.layout import META, TAGS, dump_yaml, iter_key_files, load_yaml, read_text
from kiln.store.file.layout import write_atomic as _write_atomic
from kiln.store.memory.registry import MemoryRegistryStore, ModelRecord, RegistryMemoryState
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)

MODELS = "models"
ALIASES = "aliases"
VERSION_PREFIX = "version-"
DELETED_STAGE = "Deleted_Internal"  # MLflow's STAGE_DELETED_INTERNAL
LOCK_FILE = ".kiln-registry.lock"
T = TypeVar("T")
Records = dict[str, ModelRecord]


class FileRegistryStore:
    """``RegistryStore`` over ``<root>/models`` (see the module docstring)."""

    def __init__(self, root: Path, *, clock: Clock = wall_clock_ms) -> None:
        self._models_dir = root / MODELS
        self._clock = clock
        # Exclusive for writes; shared for reads, and none where Kiln never wrote.
        self._lock = FolderLock(self._models_dir / LOCK_FILE)

    @property
    def workspace(self) -> str:
        return DEFAULT_WORKSPACE

    # the load / apply / save cycle ---------------------------------------------------
    def _read(self, op: Callable[[MemoryRegistryStore], T]) -> T:
        with self._lock.reading():
            return op(self._memory(self._load()))

    def _write(
        self, op: Callable[[MemoryRegistryStore], T], rename: tuple[str, str] | None = None
    ) -> T:
        with self._lock.writing():
            records = self._load()
            before = copy.deepcopy(records)
            result = op(self._memory(records))
            self._save(before, records, rename)
            return result

    def _memory(self, records: Records) -> MemoryRegistryStore:
        state = RegistryMemoryState(models={DEFAULT_WORKSPACE: records})
        return MemoryRegistryStore(workspace=DEFAULT_WORKSPACE, state=state, clock=self._clock)

    def _load(self) -> Records:
        records: Records = {}
        if not self._models_dir.is_dir():
            return records
        for folder in sorted(self._models_dir.iterdir()):
            record = _read_model(folder) if folder.is_dir() else None
            if record is not None:
                records[record.name] = record
        return records

    def _save(self, before: Records, after: Records, rename: tuple[str, str] | None) -> None:
        changed = [r for name, r in after.items() if before.get(name) != r]
        for record in changed:  # refuse before writing anything
            check_keys_nest(list(record.tags), "tag")
            for mv in record.versions.values():
                check_keys_nest(list(mv.tags), "tag")
        if rename is not None and rename[0] in before:
            # Move the folder whole: deleted versions keep their numbers taken.
            os.replace(self._models_dir / rename[0], self._models_dir / rename[1])
        for name in before.keys() - after.keys():
            shutil.rmtree(self._models_dir / name, ignore_errors=True)
        for record in changed:
            old = before.get(record.name)
            _write_model(self._models_dir / record.name, record, old)

    # registered models ---------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        if name.strip() == ".":
            raise InvalidInput(f"Invalid value '{name}' for parameter 'name': not a unique path")
        return self._write(lambda m: m.create_registered_model(name, tags, description))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._read(lambda m: m.get_registered_model(name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        return self._read(
            lambda m: m.search_registered_models(filter_string, max_results, order_by, page_token)
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        if new_name.strip() == ".":
            raise InvalidInput(f"Invalid value '{new_name}' for parameter 'new_name'")
        renamed = (name, new_name) if name != new_name else None
        return self._write(lambda m: m.rename_registered_model(name, new_name), renamed)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        return self._write(lambda m: m.update_registered_model(name, description))

    def delete_registered_model(self, name: str) -> None:
        self._write(lambda m: m.delete_registered_model(name))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._write(lambda m: m.set_registered_model_tag(name, key, value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._write(lambda m: m.delete_registered_model_tag(name, key))

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        return self._read(lambda m: m.get_latest_versions(name, stages))

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self._write(lambda m: m.set_registered_model_alias(name, alias, version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._write(lambda m: m.delete_registered_model_alias(name, alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._read(lambda m: m.get_model_version_by_alias(name, alias))

    # model versions ------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        storage_location: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        return self._write(
            lambda m: m.create_model_version(
                name,
                source,
                run_id=run_id,
                tags=tags,
                run_link=run_link,
                description=description,
                model_id=model_id,
                storage_location=storage_location,
                user_id=user_id,
            )
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._read(lambda m: m.get_model_version(name, version))

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        return self._write(lambda m: m.update_model_version(name, version, description))

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        return self._write(
            lambda m: m.transition_model_version_stage(
                name, version, stage, archive_existing_versions
            )
        )

    def delete_model_version(self, name: str, version: int | str) -> None:
        self._write(lambda m: m.delete_model_version(name, version))

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self._read(lambda m: m.get_model_version_download_uri(name, version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        return self._read(
            lambda m: m.search_model_versions(filter_string, max_results, order_by, page_token)
        )

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        self._write(lambda m: m.set_model_version_tag(name, version, key, value))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self._write(lambda m: m.delete_model_version_tag(name, version, key))


# -- reading ------------------------------------------------------------------------------
def _read_model(folder: Path) -> ModelRecord | None:
    meta = load_yaml(folder / META)
    if meta is None:
        return None
    name = folder.name
    versions: dict[int, ModelVersion] = {}
    highest = 0
    for child in folder.iterdir():
        number = _version_number(child)
        if number is None:
            continue
        version_meta = load_yaml(child / META)
        if version_meta is None:
            continue
        highest = max(highest, number)
        if version_meta.get("current_stage") != DELETED_STAGE:
            versions[number] = _version_from_meta(name, number, version_meta, child)
    aliases = {}
    for alias, path in iter_key_files(folder / ALIASES):
        number = _int(read_text(path).strip())
        if number in versions:
            aliases[alias] = number
    return ModelRecord(
        name=name,
        creation=_int(meta.get("creation_timestamp")) or 0,
        updated=_int(meta.get("last_updated_timestamp")) or 0,
        description=meta.get("description"),
        tags=_key_files(folder / TAGS),
        aliases=aliases,
        versions=dict(sorted(versions.items())),
        next_version=highest + 1,
    )


def _version_from_meta(name: str, number: int, meta: dict[str, Any], folder: Path) -> ModelVersion:
    def text(key: str) -> str | None:
        value = meta.get(key)
        return None if value is None else str(value)

    return ModelVersion(
        name=name,
        version=number,
        creation_timestamp=_int(meta.get("creation_timestamp")) or 0,
        last_updated_timestamp=_int(meta.get("last_updated_timestamp")) or 0,
        current_stage=ModelVersionStage(text("current_stage") or "None"),
        description=text("description"),
        user_id=text("user_id"),
        source=text("source") or "",
        run_id=text("run_id"),
        run_link=text("run_link"),
        status=ModelVersionStatus(text("status") or "READY"),
        status_message=text("status_message"),
        tags=_key_files(folder / TAGS),
        model_id=text("model_id"),
        storage_location=text("storage_location"),
    )


def _version_number(folder: Path) -> int | None:
    suffix = folder.name.removeprefix(VERSION_PREFIX)
    if suffix == folder.name or not suffix.isascii() or not suffix.isdigit():
        return None
    return int(suffix) if folder.is_dir() else None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    return None


def _key_files(folder: Path) -> dict[str, str]:
    return {key: read_text(path) for key, path in sorted(iter_key_files(folder))}


# -- writing ------------------------------------------------------------------------------
def _write_model(folder: Path, record: ModelRecord, old: ModelRecord | None) -> None:
    meta = {
        "aliases": {},  # MLflow keeps aliases in aliases/; the copy here is never read
        "creation_timestamp": record.creation,
        "deployment_job_id": None,
        "deployment_job_state": None,
        "description": record.description,
        "last_updated_timestamp": record.updated,
        "name": record.name,
        "workspace": DEFAULT_WORKSPACE,
    }
    _write_atomic(folder / META, dump_yaml(meta))
    _sync_keys(folder / TAGS, record.tags, folder)
    _sync_keys(folder / ALIASES, {a: str(v) for a, v in record.aliases.items()}, folder)
    old_versions = old.versions if old is not None else {}
    for number, mv in record.versions.items():
        if old is None or old_versions.get(number) != mv:
            _write_version(folder / f"{VERSION_PREFIX}{number}", mv)
    for number in old_versions.keys() - record.versions.keys():
        _mark_deleted(folder / f"{VERSION_PREFIX}{number}", record.updated)


def _write_version(folder: Path, mv: ModelVersion) -> None:
    meta = {
        "creation_timestamp": mv.creation_timestamp,
        "current_stage": mv.current_stage.value,
        "deployment_job_state": None,
        "description": mv.description,
        "last_updated_timestamp": mv.last_updated_timestamp,
        "model_id": mv.model_id,
        "name": mv.name,
        "run_id": mv.run_id,
        "run_link": mv.run_link,
        "source": mv.source,
        "status": mv.status.value,
        "status_message": mv.status_message,
        "storage_location": mv.storage_location or mv.source,
        "user_id": mv.user_id,
        "version": mv.version,
        "workspace": DEFAULT_WORKSPACE,
    }
    _write_atomic(folder / META, dump_yaml(meta))
    _sync_keys(folder / TAGS, mv.tags, folder)


def _mark_deleted(folder: Path, when: int) -> None:
    meta = load_yaml(folder / META)
    if meta is None:
        return
    meta.update(current_stage=DELETED_STAGE, last_updated_timestamp=when)
    _write_atomic(folder / META, dump_yaml(meta))


def _sync_keys(folder: Path, wanted: Mapping[str, str], temp_dir: Path) -> None:
    """Make ``folder``'s key files exactly ``wanted`` (temp files outside ``folder``)."""
    present = _key_files(folder)
    for key in present.keys() - wanted.keys():
        (folder / key).unlink(missing_ok=True)
        parent = (folder / key).parent
        while parent != folder and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    for key, value in wanted.items():
        if present.get(key) != value:
            _write_atomic(folder / key, value, temp_dir=temp_dir)


def open_file_registry_store(uri: str, *, workspace: str) -> FileRegistryStore:
    """The registry of the mlruns folder a ``file:`` URI names.

    Raises:
        InvalidInput: a workspace other than ``default``.
        InvalidUri: not a local folder.
    """
    root = mlruns_root(uri, workspace, "registry")
    return FileRegistryStore(root)


__all__ = ["FileRegistryStore", "open_file_registry_store"]
