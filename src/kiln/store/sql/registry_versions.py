"""Model versions and their tags, the second half of the SQL registry.

Version numbers come from ``next_version`` on the model row, locked while a
version is created. Searches push equality on ``name`` and ``run_id`` down to
SQL and evaluate the rest with ``kiln.store.query.registry``, as the memory store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, insert, select, update

from kiln.entities import ModelVersion, ModelVersionStage, ModelVersionStatus, Page
from kiln.store.query.registry import SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT
from kiln.store.query.search import prepare_model_version_search
from kiln.store.rules.audit import version_created, version_deleted, version_staged
from kiln.store.rules.registry import (
    transition_target,
    validate_model_name,
    validate_registry_tag,
    validate_registry_tags,
)
from kiln.store.sql.engine import read_transaction, write_transaction
from kiln.store.sql.registry_rows import SqlRegistryRows, pushdown
from kiln.store.sql.registry_schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_models,
)
from kiln.store.sql.rows import key_value_rows


class SqlModelVersions(SqlRegistryRows):
    """The model-version methods of ``SqlRegistryStore``."""

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
        now = self._clock()
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            number = row.next_version
            conn.execute(
                update(registered_models)
                .where(registered_models.c.id == row.id)
                .values(next_version=number + 1, last_updated_time=now)
            )
            conn.execute(
                insert(model_versions).values(
                    workspace=self._workspace,
                    registered_model_id=row.id,
                    version=number,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    user_id=user_id,
                    current_stage=ModelVersionStage.NONE.value,
                    source=source,
                    storage_location=storage_location,
                    run_id=run_id,
                    run_link=run_link,
                    status=ModelVersionStatus.READY.value,
                    model_id=model_id,
                )
            )
            if clean:
                columns = {
                    "workspace": self._workspace,
                    "registered_model_id": row.id,
                    "version": number,
                }
                conn.execute(insert(model_version_tags), key_value_rows(columns, clean))
            self._audit(conn, version_created(self._workspace, name, number, source, run_id))
        return ModelVersion(
            name=name,
            version=number,
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

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        with read_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            return self._get_version(conn, model, row.version)

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            conn.execute(
                update(model_versions)
                .where(
                    model_versions.c.registered_model_id == model.id,
                    model_versions.c.version == row.version,
                )
                .values(description=description, last_updated_time=self._clock())
            )
            return self._get_version(conn, model, row.version)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        target = transition_target(stage, archive_existing_versions)
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            now = self._clock()
            archived: list[int] = []
            if archive_existing_versions:
                others = (
                    model_versions.c.registered_model_id == model.id,
                    model_versions.c.version != row.version,
                    model_versions.c.current_stage == target.value,
                )
                archived = list(
                    conn.execute(select(model_versions.c.version).where(*others)).scalars()
                )
                conn.execute(
                    update(model_versions)
                    .where(*others)
                    .values(current_stage=ModelVersionStage.ARCHIVED.value, last_updated_time=now)
                )
            conn.execute(
                update(model_versions)
                .where(
                    model_versions.c.registered_model_id == model.id,
                    model_versions.c.version == row.version,
                )
                .values(current_stage=target.value, last_updated_time=now)
            )
            self._touch(conn, model.id, now)
            staged = self._get_version(conn, model, row.version)
            self._audit(
                conn,
                version_staged(
                    self._workspace,
                    model.name,
                    row.version,
                    row.current_stage,
                    target.value,
                    archived,
                ),
            )
            return staged

    def delete_model_version(self, name: str, version: int | str) -> None:
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            aliases = conn.execute(
                select(registered_model_aliases.c.alias).where(
                    registered_model_aliases.c.registered_model_id == model.id,
                    registered_model_aliases.c.version == row.version,
                )
            ).scalars()
            event = version_deleted(
                self._workspace, model.name, row.version, row.current_stage, list(aliases)
            )
            for table in (registered_model_aliases, model_version_tags, model_versions):
                conn.execute(
                    delete(table).where(
                        table.c.registered_model_id == model.id, table.c.version == row.version
                    )
                )
            self._touch(conn, model.id, self._clock())
            self._audit(conn, event)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        with read_transaction(self._engine) as conn:
            _, row = self._version_row(conn, name, version)
            return str(row.storage_location or row.source)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        search = prepare_model_version_search(filter_string, max_results, order_by, page_token)
        model_query = select(registered_models.c.id, registered_models.c.name).where(
            registered_models.c.workspace == self._workspace,
            *pushdown(search.clauses, {"name": registered_models.c.name}),
        )
        with read_transaction(self._engine) as conn:
            names = {r.id: r.name for r in conn.execute(model_query)}
            versions = self._load_versions(
                conn, names, pushdown(search.clauses, {"run_id": model_versions.c.run_id})
            )
        return search.page(versions)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        key, value = validate_registry_tag(key, value)
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            match = {"registered_model_id": model.id, "version": row.version, "key": key}
            self._replace_row(conn, model_version_tags, match, {"value": value})

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        validate_registry_tag(key, "")
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            match = {"registered_model_id": model.id, "version": row.version, "key": key}
            self._delete_row(conn, model_version_tags, match)


__all__ = ["SqlModelVersions"]
