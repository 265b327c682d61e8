"""The SQL ``RegistryStore`` (SQLite and PostgreSQL), beside the SQL tracking store.

Tables (created by migration ``0002_model_registry``; ``registry_metadata``
mirrors them): registered models get a surrogate integer id so that a rename is
one ``UPDATE``; versions, tags and aliases hang off that id with
``ON DELETE CASCADE``, and an alias references its version, so deleting either
drops it. Every table carries ``workspace`` and every query filters on it.
``next_version`` on the model row hands out version numbers, never reused.

Searches push equality on ``name``/``run_id`` down to SQL and evaluate the rest
of the filter with the same Python rules as the memory store
(``registry_rules``), so both backends agree on MLflow's semantics to the
letter (LIKE case-sensitivity, prompt exclusion, tiebreaks). Registries hold
hundreds to thousands of models, not millions of rows; that trade is deliberate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from kiln.entities import (
    DEFAULT_WORKSPACE,
    ModelVersion,
    ModelVersionStage,
    ModelVersionStatus,
    Page,
    RegisteredModel,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.query.page_token import decode_page_token, paginate
from kiln.store.query.registry import (
    DEFAULT_VERSION_ORDER,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryClause,
    check_max_results,
    model_matches,
    parse_registry_filter,
    parse_registry_order_by,
    sort_registry,
    version_matches,
)
from kiln.store.rules.registry import (
    ACTIVE_STAGES,
    ALL_STAGES,
    LATEST_ALIAS,
    canonical_stage,
    latest_per_stage,
    validate_alias,
    validate_model_name,
    validate_registry_tag,
    validate_settable_alias,
    validate_version,
)
from kiln.store.sql.engine import (
    SHARED_ENGINES,
    EnginePool,
    normalize_uri,
    read_transaction,
    write_transaction,
)

_WS = 63

registry_metadata = MetaData()

registered_models = Table(
    "registered_models",
    registry_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(_WS), nullable=False),
    Column("name", String(256), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("next_version", Integer, nullable=False),
    UniqueConstraint("workspace", "name", name="uq_registered_models_workspace_name"),
)

registered_model_tags = Table(
    "registered_model_tags",
    registry_metadata,
    Column("workspace", String(_WS), nullable=False),
    Column(
        "registered_model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "key", name="pk_registered_model_tags"),
)

model_versions = Table(
    "model_versions",
    registry_metadata,
    Column("workspace", String(_WS), nullable=False),
    Column(
        "registered_model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("storage_location", Text),
    Column("run_id", String(256)),
    Column("run_link", Text),
    Column("status", String(20), nullable=False),
    Column("status_message", Text),
    Column("model_id", String(256)),
    PrimaryKeyConstraint("registered_model_id", "version", name="pk_model_versions"),
    Index("ix_model_versions_run_id", "workspace", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    registry_metadata,
    Column("workspace", String(_WS), nullable=False),
    Column("registered_model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "version", "key", name="pk_model_version_tags"),
    ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
        ondelete="CASCADE",
        name="fk_model_version_tags_version",
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    registry_metadata,
    Column("workspace", String(_WS), nullable=False),
    Column("registered_model_id", Integer, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "alias", name="pk_registered_model_aliases"),
    ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
        ondelete="CASCADE",
        name="fk_registered_model_aliases_version",
    ),
)

REGISTRY_TABLES = (
    registered_models,
    registered_model_tags,
    model_versions,
    model_version_tags,
    registered_model_aliases,
)


class SqlRegistryStore:
    """``RegistryStore`` over the SQL database of the tracking store."""

    def __init__(
        self,
        engine: Engine,
        workspace: str = DEFAULT_WORKSPACE,
        *,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self._engine = engine
        self._workspace = workspace
        self._clock = clock

    @property
    def workspace(self) -> str:
        return self._workspace

    # row helpers -------------------------------------------------------------
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

    # registered models -------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        validate_model_name(name)
        clean = dict(validate_registry_tag(k, v) for k, v in (tags or {}).items())
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
                    conn.execute(
                        insert(registered_model_tags),
                        [
                            {
                                "workspace": self._workspace,
                                "registered_model_id": model_id,
                                "key": k,
                                "value": v,
                            }
                            for k, v in clean.items()
                        ],
                    )
        except IntegrityError:
            raise AlreadyExists(f"Registered Model (name={name}) already exists.") from None
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
        check_max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        clauses = parse_registry_filter(filter_string, for_versions=False)
        keys = parse_registry_order_by(order_by, for_versions=False)
        decode_page_token(page_token)  # a bad token fails before any reading
        query = select(registered_models).where(
            registered_models.c.workspace == self._workspace,
            *_pushdown(clauses, {"name": registered_models.c.name}),
        )
        with read_transaction(self._engine) as conn:
            models = self._load_models(conn, conn.execute(query).all())
        matching = sort_registry([m for m in models if model_matches(m, clauses)], keys)
        items, token = paginate(matching, page_token, max_results)
        return Page(items, token)

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
                return self._get_model(conn, new_name)
        except IntegrityError:
            raise AlreadyExists(f"Registered Model (name={new_name}) already exists.") from None

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

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        validate_model_name(name)
        key, value = validate_registry_tag(key, value)
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            conn.execute(
                delete(registered_model_tags).where(
                    registered_model_tags.c.registered_model_id == row.id,
                    registered_model_tags.c.key == key,
                )
            )
            conn.execute(
                insert(registered_model_tags).values(
                    workspace=self._workspace, registered_model_id=row.id, key=key, value=value
                )
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        validate_registry_tag(key, "")
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            conn.execute(
                delete(registered_model_tags).where(
                    registered_model_tags.c.registered_model_id == row.id,
                    registered_model_tags.c.key == key,
                )
            )

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        wanted = {canonical_stage(s) for s in stages} if stages else set(ALL_STAGES)
        with read_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            versions = self._load_versions(conn, {row.id: row.name})
        return [mv for mv in latest_per_stage(versions) if mv.current_stage in wanted]

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        validate_model_name(name)
        validate_settable_alias(alias)
        number = validate_version(version)
        with write_transaction(self._engine) as conn:
            model, _ = self._version_row(conn, name, number)
            conn.execute(
                delete(registered_model_aliases).where(
                    registered_model_aliases.c.registered_model_id == model.id,
                    registered_model_aliases.c.alias == alias,
                )
            )
            conn.execute(
                insert(registered_model_aliases).values(
                    workspace=self._workspace,
                    registered_model_id=model.id,
                    alias=alias,
                    version=number,
                )
            )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        validate_model_name(name)
        validate_alias(alias)
        with write_transaction(self._engine) as conn:
            row = self._model_row(conn, name)
            conn.execute(
                delete(registered_model_aliases).where(
                    registered_model_aliases.c.registered_model_id == row.id,
                    registered_model_aliases.c.alias == alias,
                )
            )

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
        clean = dict(validate_registry_tag(k, v) for k, v in (tags or {}).items())
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
                conn.execute(
                    insert(model_version_tags),
                    [
                        {
                            "workspace": self._workspace,
                            "registered_model_id": row.id,
                            "version": number,
                            "key": k,
                            "value": v,
                        }
                        for k, v in clean.items()
                    ],
                )
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
        target = canonical_stage(stage)
        if archive_existing_versions and target not in ACTIVE_STAGES:
            raise InvalidInput(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are "
                f"{[s.value for s in ACTIVE_STAGES]}"
            )
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            now = self._clock()
            if archive_existing_versions:
                conn.execute(
                    update(model_versions)
                    .where(
                        model_versions.c.registered_model_id == model.id,
                        model_versions.c.version != row.version,
                        model_versions.c.current_stage == target.value,
                    )
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
            return self._get_version(conn, model, row.version)

    def delete_model_version(self, name: str, version: int | str) -> None:
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            for table in (registered_model_aliases, model_version_tags, model_versions):
                conn.execute(
                    delete(table).where(
                        table.c.registered_model_id == model.id, table.c.version == row.version
                    )
                )
            self._touch(conn, model.id, self._clock())

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
        check_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        clauses = parse_registry_filter(filter_string, for_versions=True)
        keys = parse_registry_order_by(order_by or DEFAULT_VERSION_ORDER, for_versions=True)
        decode_page_token(page_token)  # a bad token fails before any reading
        model_query = select(registered_models.c.id, registered_models.c.name).where(
            registered_models.c.workspace == self._workspace,
            *_pushdown(clauses, {"name": registered_models.c.name}),
        )
        with read_transaction(self._engine) as conn:
            names = {r.id: r.name for r in conn.execute(model_query)}
            versions = self._load_versions(
                conn, names, _pushdown(clauses, {"run_id": model_versions.c.run_id})
            )
        matching = sort_registry([v for v in versions if version_matches(v, clauses)], keys)
        items, token = paginate(matching, page_token, max_results)
        return Page(items, token)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        key, value = validate_registry_tag(key, value)
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            where = (
                model_version_tags.c.registered_model_id == model.id,
                model_version_tags.c.version == row.version,
                model_version_tags.c.key == key,
            )
            conn.execute(delete(model_version_tags).where(*where))
            conn.execute(
                insert(model_version_tags).values(
                    workspace=self._workspace,
                    registered_model_id=model.id,
                    version=row.version,
                    key=key,
                    value=value,
                )
            )

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        validate_registry_tag(key, "")
        with write_transaction(self._engine) as conn:
            model, row = self._version_row(conn, name, version)
            conn.execute(
                delete(model_version_tags).where(
                    model_version_tags.c.registered_model_id == model.id,
                    model_version_tags.c.version == row.version,
                    model_version_tags.c.key == key,
                )
            )


def _pushdown(
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


def open_sql_registry_store(
    uri: str,
    *,
    workspace: str = DEFAULT_WORKSPACE,
    clock: Clock = wall_clock_ms,
    engines: EnginePool | None = None,
) -> SqlRegistryStore:
    """Open the registry in the SQL database at ``uri`` (migrated to head on first open),
    on the engine ``engines`` owns (by default the process's ``SHARED_ENGINES``)."""
    engine = (engines or SHARED_ENGINES).engine(normalize_uri(uri))
    return SqlRegistryStore(engine, workspace, clock=clock)


__all__ = [
    "REGISTRY_TABLES",
    "SqlRegistryStore",
    "open_sql_registry_store",
    "registry_metadata",
]
