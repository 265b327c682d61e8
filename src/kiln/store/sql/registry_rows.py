"""Registry rows <-> entities: the lookups and loaders both halves of the SQL registry use.

``SqlRegistryRows`` is the base of ``SqlRegisteredModels`` and ``SqlModelVersions``
(``kiln.store.sql.registry`` joins them into ``SqlRegistryStore``): it holds the
engine, workspace and clock, and turns rows into ``RegisteredModel`` and
``ModelVersion`` entities, loading tags and aliases of many models in one query each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from kiln.entities import ModelVersion, ModelVersionStage, ModelVersionStatus, RegisteredModel
from kiln.entities.auth import AuditEvent
from kiln.errors import NotFound
from kiln.store.clock import Clock
from kiln.store.query.registry import RegistryClause
from kiln.store.rules.registry import latest_per_stage, validate_model_name, validate_version
from kiln.store.sql.audit import append_event
from kiln.store.sql.registry_schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)


class SqlRegistryRows:
    """Row helpers of the SQL registry; every query filters on ``_workspace``."""

    _engine: Engine
    _workspace: str
    _clock: Clock

    def _model_row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        validate_model_name(name)
        query = select(registered_models).where(
            registered_models.c.workspace == self._workspace, registered_models.c.name == name
        )
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"Registered Model with name={name} not found")
        return row

    def _version_row(self, conn: Connection, name: str, version: int | str) -> tuple[Any, Any]:
        validate_model_name(name)
        number = validate_version(version)
        model = self._model_row(conn, name)
        row = conn.execute(
            select(model_versions).where(
                model_versions.c.registered_model_id == model.id,
                model_versions.c.version == number,
            )
        ).first()
        if row is None:
            raise NotFound(f"Model Version (name={name}, version={number}) not found")
        return model, row

    def _load_versions(
        self, conn: Connection, models: Mapping[int, str], where: Iterable[ColumnElement[bool]] = ()
    ) -> list[ModelVersion]:
        """Versions of the given model ids (id -> name), with tags and aliases."""
        if not models:
            return []
        ids = list(models)
        rows = conn.execute(
            select(model_versions).where(
                model_versions.c.workspace == self._workspace,
                model_versions.c.registered_model_id.in_(ids),
                *where,
            )
        ).all()
        tags: dict[tuple[int, int], dict[str, str]] = {}
        for t in conn.execute(
            select(model_version_tags).where(model_version_tags.c.registered_model_id.in_(ids))
        ):
            tags.setdefault((t.registered_model_id, t.version), {})[t.key] = t.value
        aliases: dict[tuple[int, int], list[str]] = {}
        for a in conn.execute(
            select(registered_model_aliases).where(
                registered_model_aliases.c.registered_model_id.in_(ids)
            )
        ):
            aliases.setdefault((a.registered_model_id, a.version), []).append(a.alias)
        return [
            self._to_version(
                r,
                models[r.registered_model_id],
                tags.get((r.registered_model_id, r.version), {}),
                aliases.get((r.registered_model_id, r.version), []),
            )
            for r in rows
        ]

    def _to_version(
        self, r: Any, name: str, tags: dict[str, str], aliases: list[str]
    ) -> ModelVersion:
        return ModelVersion(
            name=name,
            version=r.version,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            current_stage=ModelVersionStage(r.current_stage),
            description=r.description,
            user_id=r.user_id,
            source=r.source,
            run_id=r.run_id,
            run_link=r.run_link,
            status=ModelVersionStatus(r.status),
            status_message=r.status_message,
            tags=tags,
            aliases=tuple(sorted(aliases)),
            model_id=r.model_id,
            storage_location=r.storage_location,
            workspace=self._workspace,
        )

    def _load_models(self, conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        if not rows:
            return []
        names = {r.id: r.name for r in rows}
        ids = list(names)
        tags: dict[int, dict[str, str]] = {}
        for t in conn.execute(
            select(registered_model_tags).where(
                registered_model_tags.c.registered_model_id.in_(ids)
            )
        ):
            tags.setdefault(t.registered_model_id, {})[t.key] = t.value
        aliases: dict[int, dict[str, int]] = {}
        for a in conn.execute(
            select(registered_model_aliases).where(
                registered_model_aliases.c.registered_model_id.in_(ids)
            )
        ):
            aliases.setdefault(a.registered_model_id, {})[a.alias] = a.version
        versions: dict[str, list[ModelVersion]] = {}
        for mv in self._load_versions(conn, names):
            versions.setdefault(mv.name, []).append(mv)
        return [
            RegisteredModel(
                name=r.name,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                description=r.description,
                user_id=r.user_id,
                tags=tags.get(r.id, {}),
                aliases=dict(sorted(aliases.get(r.id, {}).items())),
                latest_versions=latest_per_stage(versions.get(r.name, [])),
                workspace=self._workspace,
            )
            for r in rows
        ]

    def _get_model(self, conn: Connection, name: str) -> RegisteredModel:
        return self._load_models(conn, [self._model_row(conn, name)])[0]

    def _get_version(self, conn: Connection, model: Any, number: int) -> ModelVersion:
        found = self._load_versions(
            conn, {model.id: model.name}, [model_versions.c.version == number]
        )
        if not found:
            raise NotFound(f"Model Version (name={model.name}, version={number}) not found")
        return found[0]

    def _touch(self, conn: Connection, model_id: int, now: int) -> None:
        conn.execute(
            update(registered_models)
            .where(registered_models.c.id == model_id)
            .values(last_updated_time=now)
        )

    def _alias_version(self, conn: Connection, model_id: int, alias: str) -> int | None:
        """The version an alias names now, or None."""
        found = conn.execute(
            select(registered_model_aliases.c.version).where(
                registered_model_aliases.c.registered_model_id == model_id,
                registered_model_aliases.c.alias == alias,
            )
        ).scalar()
        return None if found is None else int(found)

    def _audit(self, conn: Connection, event: AuditEvent) -> None:
        """Record a change in its own transaction (the last statement before the commit)."""
        append_event(conn, event, clock=self._clock)

    def _delete_row(self, conn: Connection, table: Table, match: Mapping[str, Any]) -> None:
        """Delete the rows of ``table`` whose columns equal ``match`` (none is fine)."""
        conn.execute(delete(table).where(*(table.c[k] == v for k, v in match.items())))

    def _replace_row(
        self, conn: Connection, table: Table, match: Mapping[str, Any], values: Mapping[str, Any]
    ) -> None:
        """Set a tag or alias: the row matching ``match`` replaced by ``match`` + ``values``
        (delete then insert, which SQLite and PostgreSQL run alike)."""
        self._delete_row(conn, table, match)
        conn.execute(insert(table).values(workspace=self._workspace, **match, **values))


def pushdown(
    clauses: Sequence[RegistryClause], columns: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    """SQL for the attribute clauses that are exact (``=``/``IN``); the rest stays in Python."""
    where: list[ColumnElement[bool]] = []
    for clause in clauses:
        column = columns.get(clause.key) if clause.kind == "attribute" else None
        if column is None:
            continue
        if clause.op == "=" and isinstance(clause.value, str):
            where.append(column == clause.value)
        elif clause.op == "IN" and isinstance(clause.value, tuple):
            where.append(column.in_(clause.value))
    return where


__all__ = ["SqlRegistryRows", "pushdown"]
