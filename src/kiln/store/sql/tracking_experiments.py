"""Experiments and their tags, one part of the SQL tracking store.

Experiment ids come from one sequence shared by all workspaces; each workspace's
Default experiment is made on first use (``0`` for ``default``). Deleting an
experiment deletes its active runs, and restoring it brings back the runs deleted
with it, as MLflow does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    Experiment,
    Page,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, Conflict, NotFound
from kiln.store.clock import wall_clock_ms
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.rules.audit import lifecycle_event
from kiln.store.rules.runs import join_uri
from kiln.store.rules.tracking import (
    validate_experiment_name,
    validate_experiment_tag,
    validate_new_experiment,
)
from kiln.store.sql import filters
from kiln.store.sql.audit import append_event
from kiln.store.sql.engine import read_transaction, write_transaction
from kiln.store.sql.rows import experiment_key, key_value_rows, to_experiment
from kiln.store.sql.schema import experiment_tags, experiments, runs, workspaces
from kiln.store.sql.tracking_base import ACTIVE, DELETED, SqlTrackingBase


class SqlExperiments(SqlTrackingBase):
    """The experiment methods of ``SqlTrackingStore``."""

    def _ensure_workspace(self) -> int:
        """The workspace's Default experiment id, creating the experiment on first use."""
        lookup = select(workspaces.c.default_experiment_id).where(
            workspaces.c.workspace == self._workspace
        )
        with read_transaction(self._engine) as conn:
            found = conn.execute(lookup).scalar()
        if found is not None:
            return int(found)
        with write_transaction(self._engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE workspaces IN EXCLUSIVE MODE")
            found = conn.execute(lookup).scalar()
            if found is not None:
                return int(found)
            values: dict[str, Any] = {
                "workspace": self._workspace,
                "name": DEFAULT_EXPERIMENT_NAME,
                "artifact_location": "",
                "lifecycle_stage": ACTIVE,
                "creation_time": wall_clock_ms(),
                "last_update_time": wall_clock_ms(),
            }
            if self._workspace == DEFAULT_WORKSPACE:
                values["experiment_id"] = int(DEFAULT_EXPERIMENT_ID)
            key = self._insert_experiment(conn, values, None)
            conn.execute(
                insert(workspaces).values(workspace=self._workspace, default_experiment_id=key)
            )
            return key

    def _insert_experiment(
        self, conn: Connection, values: dict[str, Any], artifact_location: str | None
    ) -> int:
        result = conn.execute(insert(experiments).values(**values))
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        key = int(primary_key[0])
        location = artifact_location or join_uri(self._artifact_root, str(key))
        conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == key)
            .values(artifact_location=location)
        )
        if conn.dialect.name == "postgresql" and "experiment_id" in values:
            # An explicit id does not advance the sequence; keep it ahead.
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                "GREATEST(top, 1), top >= 1) "
                "FROM (SELECT COALESCE(MAX(experiment_id), 0) AS top FROM experiments) AS ids"
            )
        return key

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        validate_new_experiment(name, tags)
        now = wall_clock_ms()
        try:
            with write_transaction(self._engine) as conn:
                self._check_name_free(conn, name)
                key = self._insert_experiment(
                    conn,
                    {
                        "workspace": self._workspace,
                        "name": name,
                        "artifact_location": "",
                        "lifecycle_stage": ACTIVE,
                        "creation_time": now,
                        "last_update_time": now,
                    },
                    artifact_location,
                )
                if tags:
                    columns = {"workspace": self._workspace, "experiment_id": key}
                    conn.execute(
                        insert(experiment_tags),
                        key_value_rows(columns, {tag.key: tag.value for tag in tags}),
                    )
        except IntegrityError:
            raise AlreadyExists(f"an experiment named {name!r} already exists") from None
        return str(key)

    def _check_name_free(self, conn: Connection, name: str) -> None:
        taken = conn.execute(
            select(experiments.c.experiment_id).where(
                experiments.c.workspace == self._workspace, experiments.c.name == name
            )
        ).first()
        if taken is not None:
            raise AlreadyExists(
                f"an experiment named {name!r} already exists (id {taken.experiment_id}); "
                "deleted experiments keep their name until they are purged"
            )

    def _load_experiment(self, conn: Connection, row: Any) -> Experiment:
        tag_rows = conn.execute(
            select(experiment_tags.c.key, experiment_tags.c.value).where(
                experiment_tags.c.experiment_id == row.experiment_id,
                experiment_tags.c.workspace == self._workspace,
            )
        )
        return to_experiment(row, {t.key: t.value for t in tag_rows})

    def get_experiment(self, experiment_id: str) -> Experiment:
        key = experiment_key(experiment_id)
        with read_transaction(self._engine) as conn:
            return self._load_experiment(conn, self._experiment_row(conn, key, experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                select(experiments).where(
                    experiments.c.workspace == self._workspace, experiments.c.name == name
                )
            ).first()
            return None if row is None else self._load_experiment(conn, row)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        with read_transaction(self._engine) as conn:
            return filters.search_experiments(
                conn, self._workspace, view_type, max_results, filter_string, order_by, page_token
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        key = experiment_key(experiment_id)
        validate_experiment_name(new_name)
        try:
            with write_transaction(self._engine) as conn:
                row = self._experiment_row(conn, key, experiment_id)
                if row.lifecycle_stage != ACTIVE:
                    raise Conflict(f"cannot rename experiment {experiment_id}: it is deleted")
                if row.name == new_name:
                    return
                self._check_name_free(conn, new_name)
                conn.execute(
                    update(experiments)
                    .where(experiments.c.experiment_id == key)
                    .values(name=new_name, last_update_time=wall_clock_ms())
                )
        except IntegrityError:
            raise AlreadyExists(f"an experiment named {new_name!r} already exists") from None

    def _move_experiment(
        self, conn: Connection, key: int, experiment_id: str, current: str, target: str, now: int
    ) -> Any:
        """Move the experiment in stage ``current`` to ``target``; answer its row before."""
        row = self._experiment_row(conn, key, experiment_id)
        if row.lifecycle_stage != current:
            raise NotFound(f"no {current} experiment with id {experiment_id!r}")
        conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == key)
            .values(lifecycle_stage=target, last_update_time=now)
        )
        return row

    def _runs_in_stage(self, key: int, stage: str) -> tuple[ColumnElement[bool], ...]:
        """WHERE terms for the experiment's runs in ``stage``."""
        return (
            runs.c.workspace == self._workspace,
            runs.c.experiment_id == key,
            runs.c.lifecycle_stage == stage,
        )

    def delete_experiment(self, experiment_id: str) -> None:
        key = experiment_key(experiment_id)
        now = wall_clock_ms()
        with write_transaction(self._engine) as conn:
            self._move_experiment(conn, key, experiment_id, ACTIVE, DELETED, now)
            conn.execute(
                update(runs)
                .where(*self._runs_in_stage(key, ACTIVE))
                .values(lifecycle_stage=DELETED, deleted_time=now)
            )
            event = lifecycle_event(self._workspace, "experiment", str(key), ACTIVE, DELETED)
            append_event(conn, event)

    def restore_experiment(self, experiment_id: str) -> None:
        key = experiment_key(experiment_id)
        with write_transaction(self._engine) as conn:
            row = self._move_experiment(conn, key, experiment_id, DELETED, ACTIVE, wall_clock_ms())
            # Runs deleted together with the experiment come back with it (as in MLflow).
            conn.execute(
                update(runs)
                .where(
                    *self._runs_in_stage(key, DELETED),
                    runs.c.deleted_time >= row.last_update_time,
                )
                .values(lifecycle_stage=ACTIVE, deleted_time=None)
            )
            event = lifecycle_event(self._workspace, "experiment", str(key), DELETED, ACTIVE)
            append_event(conn, event)

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        key = experiment_key(experiment_id)
        validate_experiment_tag(tag)
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, key, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise Conflict(f"cannot tag experiment {experiment_id}: it is deleted")
            where = (
                experiment_tags.c.experiment_id == key,
                experiment_tags.c.key == tag.key,
            )
            updated = conn.execute(update(experiment_tags).where(*where).values(value=tag.value))
            if updated.rowcount == 0:
                conn.execute(
                    insert(experiment_tags).values(
                        workspace=self._workspace, experiment_id=key, key=tag.key, value=tag.value
                    )
                )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        exp_key = experiment_key(experiment_id)
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, exp_key, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise Conflict(f"cannot change tags of experiment {experiment_id}: it is deleted")
            deleted = conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == exp_key,
                    experiment_tags.c.key == key,
                )
            )
            if deleted.rowcount == 0:
                raise NotFound(f"experiment {experiment_id} has no tag {key!r}")


__all__ = ["SqlExperiments"]
