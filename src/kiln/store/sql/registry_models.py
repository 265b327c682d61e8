"""Registered models and their tags and aliases, the first half of the SQL registry.

Searches push equality on ``name`` down to SQL and evaluate the rest of the filter
with the same Python rules as the memory store (``kiln.store.query.registry``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiln.entities import ModelVersion, Page, RegisteredModel
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.query.registry import SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT
from kiln.store.query.search import prepare_registered_model_search
from kiln.store.rules.audit import alias_event, model_event
from kiln.store.rules.registry import (
    ALL_STAGES,
    LATEST_ALIAS,
    canonical_stage,
    latest_per_stage,
    validate_alias,
    validate_model_name,
    validate_registry_tag,
    validate_registry_tags,
    validate_settable_alias,
    validate_version,
)
from kiln.store.sql.engine import read_transaction, write_transaction
from kiln.store.sql.registry_rows import SqlRegistryRows, pushdown
from kiln.store.sql.registry_schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from kiln.store.sql.rows import key_value_rows


def _model_exists(name: str) -> AlreadyExists:
    return AlreadyExists(f"Registered Model (name={name}) already exists.")


class SqlRegisteredModels(SqlRegistryRows):
    """The registered-model and alias methods of ``SqlRegistryStore``."""

    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        validate_model_name(name)
        clean = validate_registry_tags(tags)
        now = self._clock()
        try:
            with write_transaction(self._engine) as conn:
                inserted = conn.execute(
                    insert(registered_models).values(
                        workspace=self._workspace,
                        name=name,
                        creation_time=now,
                        last_updated_time=now,
                        description=description,
                        next_version=1,
                    )
                ).inserted_primary_key
                assert inserted is not None
                model_id = inserted[0]
                if clean:
                    columns = {"workspace": self._workspace, "registered_model_id": model_id}
                    conn.execute(insert(registered_model_tags), key_value_rows(columns, clean))
        except IntegrityError:
            raise _model_exists(name) from None
        return RegisteredModel(
            name=name,
            creation_timestamp=now,
            last_updated_timestamp=now,
            description=description,
            tags=clean,
            workspace=self._workspace,
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        with read_transaction(self._engine) as conn:
            return self._get_model(conn, name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        search = prepare_registered_model_search(filter_string, max_results, order_by, page_token)
        query = select(registered_models).where(
            registered_models.c.workspace == self._workspace,
            *pushdown(search.clauses, {"name": registered_models.c.name}),
        )
        with read_transaction(self._engine) as conn:
            models = self._load_models(conn, conn.execute(query).all())
        return search.page(models)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        validate_model_name(new_name, "new_name")
        now = self._clock()
        try:
            with write_transaction(self._engine) as conn:
                row = self._model_row(conn, name, lock=True)
                conn.execute(
                    update(registered_models)
                    .where(registered_models.c.id == row.id)
                    .values(name=new_name, last_updated_time=now)
                )
                conn.execute(
                    update(model_versions)
                    .where(model_versions.c.registered_model_id == row.id)
                    .values(last_updated_time=now)
                )
                renamed = self._get_model(conn, new_name)
                if new_name != name:
                    before, after = {"name": name}, {"name": new_name}
                    self._audit(
                        conn, model_event(self._workspace, "model.rename", name, before, after)
                    )
                return renamed
        except IntegrityError:
            raise _model_exists(new_name) from None

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            conn.execute(
                update(registered_models)
                .where(registered_models.c.id == row.id)
                .values(description=description, last_updated_time=self._clock())
            )
            return self._get_model(conn, name)

    def delete_registered_model(self, name: str) -> None:
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            # Children first: SQLite only cascades with foreign_keys on, so do not rely on it.
            for table in (registered_model_aliases, model_version_tags, registered_model_tags):
                conn.execute(delete(table).where(table.c.registered_model_id == row.id))
            conn.execute(
                delete(model_versions).where(model_versions.c.registered_model_id == row.id)
            )
            conn.execute(delete(registered_models).where(registered_models.c.id == row.id))
            self._audit(
                conn, model_event(self._workspace, "model.delete", name, {"name": name}, None)
            )

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        validate_model_name(name)
        key, value = validate_registry_tag(key, value)
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            match = {"registered_model_id": row.id, "key": key}
            self._replace_row(conn, registered_model_tags, match, {"value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        validate_registry_tag(key, "")
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            match = {"registered_model_id": row.id, "key": key}
            self._delete_row(conn, registered_model_tags, match)

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        wanted = {canonical_stage(s) for s in stages} if stages else set(ALL_STAGES)
        with read_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            versions = self._load_versions(conn, {row.id: row.name})
        return [mv for mv in latest_per_stage(versions) if mv.current_stage in wanted]

    # aliases -----------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        validate_model_name(name)
        validate_settable_alias(alias)
        number = validate_version(version)
        with write_transaction(self._engine) as conn:
            model, _ = self._version_row(conn, name, number)
            match = {"registered_model_id": model.id, "alias": alias}
            before = self._alias_version(conn, model.id, alias)
            self._replace_row(conn, registered_model_aliases, match, {"version": number})
            self._audit(conn, alias_event(self._workspace, name, alias, before, number))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        validate_model_name(name)
        validate_alias(alias)
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            match = {"registered_model_id": row.id, "alias": alias}
            before = self._alias_version(conn, row.id, alias)
            if before is None:  # nothing to delete, nothing to record
                return
            self._delete_row(conn, registered_model_aliases, match)
            self._audit(conn, alias_event(self._workspace, name, alias, before, None))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_model_name(name)
        validate_alias(alias)
        with read_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            if alias.lower() == LATEST_ALIAS:
                number = conn.execute(
                    select(model_versions.c.version)
                    .where(model_versions.c.registered_model_id == row.id)
                    .order_by(model_versions.c.version.desc())
                    .limit(1)
                ).scalar()
                if number is None:
                    raise NotFound(f"Latest version not found for model {name}.")
            else:
                number = conn.execute(
                    select(registered_model_aliases.c.version).where(
                        registered_model_aliases.c.registered_model_id == row.id,
                        registered_model_aliases.c.alias == alias,
                    )
                ).scalar()
                if number is None:
                    raise InvalidInput(f"Registered model alias {alias} not found.")
            return self._get_version(conn, row, number)


__all__ = ["SqlRegisteredModels"]
