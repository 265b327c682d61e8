"""An in-memory ``RegistryStore``: the reference implementation of the contract.

Used by tests and by ``memory://`` tracking URIs. Several instances may share one
``RegistryMemoryState`` to act as different workspaces of the same "database".
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kiln.entities import (
    ModelVersion,
    ModelVersionStage,
    Page,
    RegisteredModel,
)
from kiln.entities.auth import AuditEvent
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)
from kiln.store.query.search import (
    prepare_model_version_search,
    prepare_registered_model_search,
)
from kiln.store.rules.audit import (
    alias_event,
    model_event,
    version_created,
    version_deleted,
    version_staged,
)
from kiln.store.rules.registry import (
    ALL_STAGES,
    LATEST_ALIAS,
    canonical_stage,
    latest_per_stage,
    transition_target,
    validate_alias,
    validate_model_name,
    validate_registry_tag,
    validate_registry_tags,
    validate_settable_alias,
    validate_version,
)


@dataclass
class ModelRecord:
    name: str
    creation: int
    updated: int
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, ModelVersion] = field(default_factory=dict)
    next_version: int = 1


@dataclass
class RegistryMemoryState:
    """The shared "database": workspace -> model name -> record."""

    models: dict[str, dict[str, ModelRecord]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Where deletes, renames, alias and stage changes are recorded.
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)


class MemoryRegistryStore:
    """``RegistryStore`` in process memory. Thread-safe; one lock for everything."""

    def __init__(
        self,
        *,
        workspace: str,
        state: RegistryMemoryState | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self._workspace = workspace
        self._state = state if state is not None else RegistryMemoryState()
        self._clock = clock

    @property
    def workspace(self) -> str:
        return self._workspace

    @property
    def _models(self) -> dict[str, ModelRecord]:
        return self._state.models.setdefault(self._workspace, {})

    # helpers -----------------------------------------------------------------
    def _audit(self, event: AuditEvent) -> None:
        """Record a change made under the state's lock."""
        self._state.audit.append(event)

    def _record(self, name: str) -> ModelRecord:
        validate_model_name(name)
        record = self._models.get(name)
        if record is None:
            raise NotFound(f"Registered Model with name={name} not found")
        return record

    def _version(self, name: str, version: int | str) -> tuple[ModelRecord, ModelVersion]:
        validate_model_name(name)
        number = validate_version(version)
        record = self._record(name)
        found = record.versions.get(number)
        if found is None:
            raise NotFound(f"Model Version (name={name}, version={number}) not found")
        return record, found

    @staticmethod
    def _with_aliases(record: ModelRecord, mv: ModelVersion) -> ModelVersion:
        aliases = tuple(sorted(a for a, v in record.aliases.items() if v == mv.version))
        return dataclasses.replace(mv, aliases=aliases)

    def _entity(self, record: ModelRecord) -> RegisteredModel:
        latest = latest_per_stage(list(record.versions.values()))
        return RegisteredModel(
            name=record.name,
            creation_timestamp=record.creation,
            last_updated_timestamp=record.updated,
            description=record.description,
            tags=dict(record.tags),
            aliases=dict(sorted(record.aliases.items())),
            latest_versions=tuple(self._with_aliases(record, mv) for mv in latest),
            workspace=self._workspace,
        )

    # registered models -------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        validate_model_name(name)
        clean = validate_registry_tags(tags)
        with self._state.lock:
            if name in self._models:
                raise AlreadyExists(f"Registered Model (name={name}) already exists.")
            now = self._clock()
            record = ModelRecord(name, now, now, description, tags=clean)
            self._models[name] = record
            return self._entity(record)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._state.lock:
            return self._entity(self._record(name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        search = prepare_registered_model_search(filter_string, max_results, order_by, page_token)
        with self._state.lock:
            models = [self._entity(r) for r in self._models.values()]
        return search.page(models)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        validate_model_name(new_name, "new_name")
        with self._state.lock:
            record = self._record(name)
            if new_name != name and new_name in self._models:
                raise AlreadyExists(f"Registered Model (name={new_name}) already exists.")
            now = self._clock()
            del self._models[name]
            record.name = new_name
            record.updated = now
            record.versions = {
                number: dataclasses.replace(mv, name=new_name, last_updated_timestamp=now)
                for number, mv in record.versions.items()
            }
            self._models[new_name] = record
            if new_name != name:
                self._audit(
                    model_event(
                        self._workspace, "model.rename", name, {"name": name}, {"name": new_name}
                    )
                )
            return self._entity(record)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        with self._state.lock:
            record = self._record(name)
            record.description = description
            record.updated = self._clock()
            return self._entity(record)

    def delete_registered_model(self, name: str) -> None:
        with self._state.lock:
            self._record(name)
            del self._models[name]
            self._audit(model_event(self._workspace, "model.delete", name, {"name": name}, None))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        validate_model_name(name)
        key, value = validate_registry_tag(key, value)
        with self._state.lock:
            self._record(name).tags[key] = value

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        validate_registry_tag(key, "")
        with self._state.lock:
            self._record(name).tags.pop(key, None)

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        wanted = {canonical_stage(s) for s in stages} if stages else set(ALL_STAGES)
        with self._state.lock:
            record = self._record(name)
            latest = latest_per_stage(list(record.versions.values()))
            return [self._with_aliases(record, mv) for mv in latest if mv.current_stage in wanted]

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        validate_model_name(name)
        validate_settable_alias(alias)
        number = validate_version(version)
        with self._state.lock:
            record, _ = self._version(name, number)
            before = record.aliases.get(alias)
            record.aliases[alias] = number
            self._audit(alias_event(self._workspace, name, alias, before, number))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        validate_model_name(name)
        validate_alias(alias)
        with self._state.lock:
            before = self._record(name).aliases.pop(alias, None)
            if before is not None:  # nothing changed, nothing to record
                self._audit(alias_event(self._workspace, name, alias, before, None))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_model_name(name)
        validate_alias(alias)
        with self._state.lock:
            record = self._record(name)
            if alias.lower() == LATEST_ALIAS:
                if not record.versions:
                    raise NotFound(f"Latest version not found for model {name}.")
                return self._with_aliases(record, record.versions[max(record.versions)])
            number = record.aliases.get(alias)
            if number is None:
                raise InvalidInput(f"Registered model alias {alias} not found.")
            return self._with_aliases(record, record.versions[number])

    # model versions ----------------------------------------------------------
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
        validate_model_name(name)
        clean = validate_registry_tags(tags)
        with self._state.lock:
            record = self._record(name)
            now = self._clock()
            mv = ModelVersion(
                name=name,
                version=record.next_version,
                creation_timestamp=now,
                last_updated_timestamp=now,
                description=description,
                user_id=user_id,
                source=source,
                run_id=run_id,
                run_link=run_link,
                tags=clean,
                model_id=model_id,
                storage_location=storage_location,
                workspace=self._workspace,
            )
            record.versions[mv.version] = mv
            record.next_version += 1
            record.updated = now
            self._audit(version_created(self._workspace, name, mv.version, source, run_id))
            return mv

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        with self._state.lock:
            record, mv = self._version(name, version)
            return self._with_aliases(record, mv)

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        with self._state.lock:
            record, mv = self._version(name, version)
            mv = dataclasses.replace(
                mv, description=description, last_updated_timestamp=self._clock()
            )
            record.versions[mv.version] = mv
            return self._with_aliases(record, mv)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        target = transition_target(stage, archive_existing_versions)
        with self._state.lock:
            record, mv = self._version(name, version)
            now = self._clock()
            before = mv.current_stage
            archived: list[int] = []
            if archive_existing_versions:
                for number, other in list(record.versions.items()):
                    if number != mv.version and other.current_stage == target:
                        archived.append(number)
                        record.versions[number] = dataclasses.replace(
                            other,
                            current_stage=ModelVersionStage.ARCHIVED,
                            last_updated_timestamp=now,
                        )
            mv = dataclasses.replace(mv, current_stage=target, last_updated_timestamp=now)
            record.versions[mv.version] = mv
            record.updated = now
            self._audit(
                version_staged(
                    self._workspace, name, mv.version, before.value, target.value, archived
                )
            )
            return self._with_aliases(record, mv)

    def delete_model_version(self, name: str, version: int | str) -> None:
        with self._state.lock:
            record, mv = self._version(name, version)
            del record.versions[mv.version]
            gone = [a for a, v in record.aliases.items() if v == mv.version]
            record.aliases = {a: v for a, v in record.aliases.items() if v != mv.version}
            record.updated = self._clock()
            self._audit(
                version_deleted(self._workspace, name, mv.version, mv.current_stage.value, gone)
            )

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        with self._state.lock:
            return self._version(name, version)[1].download_uri

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        search = prepare_model_version_search(filter_string, max_results, order_by, page_token)
        with self._state.lock:
            versions = [
                self._with_aliases(record, mv)
                for record in self._models.values()
                for mv in record.versions.values()
            ]
        return search.page(versions)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        key, value = validate_registry_tag(key, value)
        with self._state.lock:
            record, mv = self._version(name, version)
            record.versions[mv.version] = dataclasses.replace(mv, tags={**mv.tags, key: value})

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        validate_registry_tag(key, "")
        with self._state.lock:
            record, mv = self._version(name, version)
            tags = {k: v for k, v in mv.tags.items() if k != key}
            record.versions[mv.version] = dataclasses.replace(mv, tags=tags)


def open_memory_registry_store(uri: str, *, workspace: str) -> MemoryRegistryStore:
    """A fresh, empty in-process registry (``memory://``)."""
    return MemoryRegistryStore(workspace=workspace)


__all__ = [
    "MemoryRegistryStore",
    "ModelRecord",
    "RegistryMemoryState",
    "open_memory_registry_store",
    "wall_clock_ms",
]
