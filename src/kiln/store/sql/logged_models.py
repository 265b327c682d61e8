"""The SQL ``LoggedModelStore`` (SQLite and PostgreSQL), beside the tracking tables.

The tables (``kiln.store.sql.logged_model_schema``) come from migration
``0003_logged_models``. A model row carries ``workspace`` and every query filters
on it; tags, params and metrics hang off ``model_id`` (globally unique).

Searches narrow candidates in SQL by workspace, experiment and lifecycle, then
apply ``kiln.store.query.logged_models`` in Python, so the SQL and memory stores
agree on MLflow's semantics exactly. Experiments hold tens to thousands of
logged models, not millions; that trade is deliberate.

SQLite stores NaN as NULL, so a NULL metric value reads back as NaN.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from kiln.entities import LifecycleStage, Page
from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.query.logged_models import search_logged_models_in
from kiln.store.rules.audit import lifecycle_event
from kiln.store.rules.logged_models import (
    model_artifact_location,
    model_exists,
    model_not_found,
    new_metrics,
    new_model_id,
    new_params,
    tag_not_found,
    validate_logged_model_name,
    validate_params,
    validate_tags,
)
from kiln.store.sql.audit import append_event
from kiln.store.sql.engine import (
    SHARED_ENGINES,
    EnginePool,
    normalize_uri,
    read_transaction,
    write_transaction,
)
from kiln.store.sql.logged_model_schema import (
    LOGGED_MODEL_TABLES,
    logged_model_metadata,
    logged_model_metrics,
    logged_model_outputs,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from kiln.store.sql.rows import chunks
from kiln.store.sql.schema import inputs

# MLflow's edge types for a run's model inputs in the ``inputs`` table.
RUN_INPUT = "RUN_INPUT"
MODEL_INPUT = "MODEL_INPUT"


class SqlLoggedModelStore:
    """``LoggedModelStore`` over the SQL database of the tracking store."""

    def __init__(self, engine: Engine, *, workspace: str, clock: Clock = wall_clock_ms) -> None:
        self._engine = engine
        self._workspace = workspace
        self._clock = clock

    @property
    def workspace(self) -> str:
        return self._workspace

    # rows --------------------------------------------------------------------
    def _row(self, conn: Connection, model_id: str, *, allow_deleted: bool = False) -> Any:
        query = select(logged_models).where(
            logged_models.c.workspace == self._workspace, logged_models.c.model_id == model_id
        )
        if not allow_deleted:
            query = query.where(logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE.value)
        row = conn.execute(query).first()
        if row is None:
            raise model_not_found(model_id)
        return row

    def _load(self, conn: Connection, rows: Sequence[Any]) -> list[LoggedModel]:
        if not rows:
            return []
        ids = [r.model_id for r in rows]
        tags: dict[str, dict[str, str]] = {}
        params: dict[str, dict[str, str]] = {}
        metrics: dict[str, list[LoggedModelMetric]] = {}
        for chunk in chunks(ids):
            for t in conn.execute(
                select(logged_model_tags).where(logged_model_tags.c.model_id.in_(chunk))
            ):
                tags.setdefault(t.model_id, {})[t.key] = t.value
            for p in conn.execute(
                select(logged_model_params).where(logged_model_params.c.model_id.in_(chunk))
            ):
                params.setdefault(p.model_id, {})[p.key] = p.value
            for m in conn.execute(
                select(logged_model_metrics)
                .where(logged_model_metrics.c.model_id.in_(chunk))
                .order_by(logged_model_metrics.c.id)
            ):
                metrics.setdefault(m.model_id, []).append(_metric(m))
        return [
            LoggedModel(
                model_id=r.model_id,
                experiment_id=r.experiment_id,
                name=r.name,
                artifact_location=r.artifact_location,
                creation_timestamp=r.creation_timestamp,
                last_updated_timestamp=r.last_updated_timestamp,
                status=LoggedModelStatus(r.status),
                model_type=r.model_type,
                source_run_id=r.source_run_id,
                status_message=r.status_message,
                lifecycle_stage=LifecycleStage(r.lifecycle_stage),
                tags=tags.get(r.model_id, {}),
                params=params.get(r.model_id, {}),
                metrics=tuple(metrics.get(r.model_id, ())),
            )
            for r in rows
        ]

    def _touch(self, conn: Connection, model_id: str, **values: Any) -> None:
        conn.execute(
            update(logged_models)
            .where(logged_models.c.model_id == model_id)
            .values(last_updated_timestamp=self._clock(), **values)
        )

    # operations --------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        artifact_root: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        name = validate_logged_model_name(name)
        checked_tags = validate_tags(tags or {})
        checked_params = validate_params(params or {})
        model_id = new_model_id()
        now = self._clock()
        with write_transaction(self._engine) as conn:
            conn.execute(
                insert(logged_models).values(
                    model_id=model_id,
                    workspace=self._workspace,
                    experiment_id=experiment_id,
                    name=name,
                    artifact_location=model_artifact_location(artifact_root, model_id),
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    status=LoggedModelStatus.PENDING.value,
                    model_type=model_type or None,
                    source_run_id=source_run_id or None,
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                )
            )
            if checked_tags:
                conn.execute(
                    insert(logged_model_tags),
                    [{"model_id": model_id, "key": k, "value": v} for k, v in checked_tags.items()],
                )
            if checked_params:
                conn.execute(
                    insert(logged_model_params),
                    [
                        {"model_id": model_id, "key": k, "value": v}
                        for k, v in checked_params.items()
                    ],
                )
            return self._load(conn, [self._row(conn, model_id)])[0]

    def import_logged_model(self, model: LoggedModel) -> None:
        with write_transaction(self._engine) as conn:
            taken = conn.execute(
                select(logged_models.c.model_id).where(logged_models.c.model_id == model.model_id)
            ).first()
            if taken is not None:
                raise model_exists(model.model_id)
            conn.execute(
                insert(logged_models).values(
                    model_id=model.model_id,
                    workspace=self._workspace,
                    experiment_id=model.experiment_id,
                    name=model.name,
                    artifact_location=model.artifact_location,
                    creation_timestamp=model.creation_timestamp,
                    last_updated_timestamp=model.last_updated_timestamp,
                    status=model.status.value,
                    status_message=model.status_message,
                    model_type=model.model_type,
                    source_run_id=model.source_run_id,
                    lifecycle_stage=model.lifecycle_stage.value,
                )
            )
            for table, values in (
                (logged_model_tags, model.tags),
                (logged_model_params, model.params),
            ):
                if values:
                    conn.execute(
                        insert(table),
                        [
                            {"model_id": model.model_id, "key": k, "value": v}
                            for k, v in values.items()
                        ],
                    )
            if model.metrics:
                conn.execute(
                    insert(logged_model_metrics), _metric_rows(model.model_id, model.metrics)
                )

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        with read_transaction(self._engine) as conn:
            return self._load(conn, [self._row(conn, model_id, allow_deleted=allow_deleted)])[0]

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        with write_transaction(self._engine) as conn:
            self._row(conn, model_id)
            self._touch(conn, model_id, status=LoggedModelStatus(status).value)
            return self._load(conn, [self._row(conn, model_id)])[0]

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        checked = validate_tags(tags)
        with write_transaction(self._engine) as conn:
            self._row(conn, model_id)
            if not checked:
                return
            conn.execute(
                delete(logged_model_tags).where(
                    logged_model_tags.c.model_id == model_id,
                    logged_model_tags.c.key.in_(list(checked)),
                )
            )
            conn.execute(
                insert(logged_model_tags),
                [{"model_id": model_id, "key": k, "value": v} for k, v in checked.items()],
            )
            self._touch(conn, model_id)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with write_transaction(self._engine) as conn:
            self._row(conn, model_id)
            result = conn.execute(
                delete(logged_model_tags).where(
                    logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise tag_not_found(model_id, key)
            self._touch(conn, model_id)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        checked = validate_params(params)
        with write_transaction(self._engine) as conn:
            self._row(conn, model_id)
            if not checked:
                return
            existing = {
                p.key: p.value
                for p in conn.execute(
                    select(logged_model_params).where(
                        logged_model_params.c.model_id == model_id,
                        logged_model_params.c.key.in_(list(checked)),
                    )
                )
            }
            fresh = new_params(model_id, existing, checked)
            new = [{"model_id": model_id, "key": k, "value": v} for k, v in fresh.items()]
            if new:
                conn.execute(insert(logged_model_params), new)
                self._touch(conn, model_id)

    def log_logged_model_metrics(self, model_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        with write_transaction(self._engine) as conn:
            self._row(conn, model_id)
            keys = list({m.key for m in metrics})
            stored = [
                _metric(m)
                for chunk in chunks(keys)
                for m in conn.execute(
                    select(logged_model_metrics).where(
                        logged_model_metrics.c.model_id == model_id,
                        logged_model_metrics.c.key.in_(chunk),
                    )
                )
            ]
            metrics = new_metrics(stored, metrics)
            if not metrics:
                return
            conn.execute(insert(logged_model_metrics), _metric_rows(model_id, metrics))

    def delete_logged_model(self, model_id: str) -> None:
        with write_transaction(self._engine) as conn:
            self._row(conn, model_id)
            self._touch(conn, model_id, lifecycle_stage=LifecycleStage.DELETED.value)
            event = lifecycle_event(
                self._workspace,
                "logged_model",
                model_id,
                LifecycleStage.ACTIVE.value,
                LifecycleStage.DELETED.value,
            )
            append_event(conn, event, clock=self._clock)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        ids = [str(e) for e in experiment_ids]
        with read_transaction(self._engine) as conn:
            rows: list[Any] = []
            for chunk in chunks(ids):
                rows.extend(
                    conn.execute(
                        select(logged_models).where(
                            logged_models.c.workspace == self._workspace,
                            logged_models.c.experiment_id.in_(chunk),
                            logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
                        )
                    ).all()
                )
            candidates = self._load(conn, rows)
        return search_logged_models_in(
            candidates, ids, filter_string, datasets, max_results, order_by, page_token
        )

    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        with write_transaction(self._engine) as conn:
            for output in outputs:
                self._row(conn, output.model_id)
            if outputs:
                conn.execute(
                    insert(logged_model_outputs),
                    [
                        {
                            "workspace": self._workspace,
                            "run_id": run_id,
                            "model_id": o.model_id,
                            "step": o.step,
                        }
                        for o in outputs
                    ],
                )

    def get_outputs(self, run_id: str) -> list[LoggedModelOutput]:
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                select(logged_model_outputs)
                .where(
                    logged_model_outputs.c.workspace == self._workspace,
                    logged_model_outputs.c.run_id == run_id,
                )
                .order_by(logged_model_outputs.c.id)
            )
            return [LoggedModelOutput(r.model_id, r.step) for r in rows]

    def log_model_inputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        """Rows of MLflow's ``inputs`` edge table: ``RUN_INPUT`` run -> ``MODEL_INPUT`` model."""
        with write_transaction(self._engine) as conn:
            known = set(self._model_inputs(conn, run_id))
            new = [m for m in dict.fromkeys(model_ids) if m not in known]
            if new:
                conn.execute(
                    insert(inputs),
                    [
                        {
                            "input_uuid": uuid.uuid4().hex,
                            "workspace": self._workspace,
                            "source_type": RUN_INPUT,
                            "source_id": run_id,
                            "destination_type": MODEL_INPUT,
                            "destination_id": model_id,
                        }
                        for model_id in new
                    ],
                )

    def get_model_inputs(self, run_id: str) -> list[str]:
        with read_transaction(self._engine) as conn:
            return self._model_inputs(conn, run_id)

    def _model_inputs(self, conn: Connection, run_id: str) -> list[str]:
        rows = conn.execute(
            select(inputs.c.destination_id)
            .where(
                inputs.c.workspace == self._workspace,
                inputs.c.source_type == RUN_INPUT,
                inputs.c.source_id == run_id,
                inputs.c.destination_type == MODEL_INPUT,
            )
            .order_by(inputs.c.destination_id)
        )
        return [r.destination_id for r in rows]


def _metric_rows(model_id: str, metrics: Sequence[LoggedModelMetric]) -> list[dict[str, Any]]:
    return [
        {
            "model_id": model_id,
            "key": m.key,
            "value": None if math.isnan(m.value) else m.value,
            "timestamp": m.timestamp,
            "step": m.step,
            "run_id": m.run_id,
            "dataset_name": m.dataset_name,
            "dataset_digest": m.dataset_digest,
        }
        for m in metrics
    ]


def _metric(row: Any) -> LoggedModelMetric:
    return LoggedModelMetric(
        key=row.key,
        value=math.nan if row.value is None else float(row.value),
        timestamp=row.timestamp,
        step=row.step,
        run_id=row.run_id,
        dataset_name=row.dataset_name,
        dataset_digest=row.dataset_digest,
    )


def open_sql_logged_model_store(
    uri: str,
    *,
    workspace: str,
    clock: Clock = wall_clock_ms,
    engines: EnginePool | None = None,
) -> SqlLoggedModelStore:
    """Open the logged models in the SQL database at ``uri`` (migrated on first open),
    on the engine ``engines`` owns (by default the process's ``SHARED_ENGINES``)."""
    engine = (engines or SHARED_ENGINES).engine(normalize_uri(uri))
    return SqlLoggedModelStore(engine, workspace=workspace, clock=clock)


__all__ = [
    "LOGGED_MODEL_TABLES",
    "SqlLoggedModelStore",
    "logged_model_metadata",
    "open_sql_logged_model_store",
]
