"""The SQL tracking store: SQLite (embedded default) and PostgreSQL, one code path.

``open_sql_store("sqlite:///path/kiln.db")`` or ``open_sql_store("postgresql://...")``
returns a ``SqlTrackingStore`` bound to one workspace. It follows the contract in
``kiln.store.protocols.tracking``; see ``kiln.store.sql.engine`` for the engine cache, SQLite
settings and migrations, and ``kiln.store.sql.filters`` for search.

Default artifact root (``artifact_root=None``): for SQLite the folder
``artifacts`` next to the database file, so one folder holds both; for
PostgreSQL (and in-memory SQLite) ``./kiln-artifacts`` resolved against the
current directory when the store is opened. Artifact locations follow MLflow:
experiment ``<root>/<experiment_id>``, run ``<experiment location>/<run_id>/artifacts``.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    RUN_NAME_TAG,
    USER_TAG,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Page,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.clock import wall_clock_ms
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.rules.tracking import (
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
)
from kiln.store.sql import filters, history
from kiln.store.sql.engine import (
    SHARED_ENGINES,
    EnginePool,
    normalize_uri,
    read_transaction,
    sqlite_path,
    write_transaction,
)
from kiln.store.sql.group_commit import committer_for
from kiln.store.sql.inputs import link_inputs
from kiln.store.sql.rows import (
    experiment_key,
    experiment_key_or_none,
    generate_run_name,
    join_uri,
    latest_points,
    metric_row,
    to_experiment,
    to_metric,
    to_run_info,
)
from kiln.store.sql.schema import (
    experiment_tags,
    experiments,
    metrics,
    params,
    runs,
    workspaces,
)
from kiln.store.sql.statements import statements_for

_ACTIVE = LifecycleStage.ACTIVE.value
_DELETED = LifecycleStage.DELETED.value
_MAX_WORKSPACE_LENGTH = 63


def default_artifact_root(url: str) -> str:
    """``artifacts`` next to a SQLite file, else ``./kiln-artifacts`` made absolute."""
    path = sqlite_path(url)
    if path is not None:
        return str(path.parent / "artifacts")
    return str(Path("kiln-artifacts").resolve())


# A metric row's (key, step, timestamp): the metrics index's order after the run.
_INDEX_ORDER = operator.itemgetter(2, 5, 4)


class SqlTrackingStore:
    """A ``TrackingStore`` over SQLAlchemy Core, bound to one workspace.

    Instances are cheap: they share the engine (and its pool) of their URI.
    Thread-safe: each call checks a connection out of the pool.
    """

    def __init__(self, engine: Engine, workspace: str, artifact_root: str) -> None:
        self._engine = engine
        self._workspace = workspace
        self._artifact_root = artifact_root
        self._sql = statements_for(engine.dialect)
        # SQLite: the hot log calls are committed together with concurrent ones
        # (see kiln.store.sql.group_commit).
        self._group = committer_for(engine) if engine.dialect.name == "sqlite" else None
        self._default_experiment_id = self._ensure_workspace()

    @property
    def commits_without_waiting(self) -> bool:
        """Whether ``log_metric``, ``log_param``, ``set_tag`` and ``log_batch`` may be called
        inside ``kiln.store.sql.engine.no_wait()`` (SQLite): they then commit at once
        or raise ``WouldBlock`` having written nothing."""
        return self._group is not None

    @property
    def workspace(self) -> str:
        return self._workspace

    @property
    def default_artifact_root(self) -> str:
        return self._artifact_root

    @property
    def engine(self) -> Engine:
        """The shared engine (for tests and maintenance tools)."""
        return self._engine

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
                "lifecycle_stage": _ACTIVE,
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

    # experiments -----------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        validate_experiment_name(name)
        for tag in tags:
            validate_experiment_tag(tag)
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
                        "lifecycle_stage": _ACTIVE,
                        "creation_time": now,
                        "last_update_time": now,
                    },
                    artifact_location,
                )
                if tags:
                    rows = {tag.key: tag.value for tag in tags}
                    conn.execute(
                        insert(experiment_tags),
                        [
                            {
                                "workspace": self._workspace,
                                "experiment_id": key,
                                "key": k,
                                "value": v,
                            }
                            for k, v in rows.items()
                        ],
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

    def _experiment_row(self, conn: Connection, key: int, experiment_id: str) -> Any:
        row = conn.execute(
            select(experiments).where(
                experiments.c.experiment_id == key, experiments.c.workspace == self._workspace
            )
        ).first()
        if row is None:
            raise NotFound(f"no experiment with id {experiment_id!r}")
        return row

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
                if row.lifecycle_stage != _ACTIVE:
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

    def delete_experiment(self, experiment_id: str) -> None:
        key = experiment_key(experiment_id)
        now = wall_clock_ms()
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, key, experiment_id)
            if row.lifecycle_stage != _ACTIVE:
                raise NotFound(f"no active experiment with id {experiment_id!r}")
            conn.execute(
                update(experiments)
                .where(experiments.c.experiment_id == key)
                .values(lifecycle_stage=_DELETED, last_update_time=now)
            )
            conn.execute(
                update(runs)
                .where(
                    runs.c.workspace == self._workspace,
                    runs.c.experiment_id == key,
                    runs.c.lifecycle_stage == _ACTIVE,
                )
                .values(lifecycle_stage=_DELETED, deleted_time=now)
            )

    def restore_experiment(self, experiment_id: str) -> None:
        key = experiment_key(experiment_id)
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, key, experiment_id)
            if row.lifecycle_stage != _DELETED:
                raise NotFound(f"no deleted experiment with id {experiment_id!r}")
            conn.execute(
                update(experiments)
                .where(experiments.c.experiment_id == key)
                .values(lifecycle_stage=_ACTIVE, last_update_time=wall_clock_ms())
            )
            # Runs deleted together with the experiment come back with it (as in MLflow).
            conn.execute(
                update(runs)
                .where(
                    runs.c.workspace == self._workspace,
                    runs.c.experiment_id == key,
                    runs.c.lifecycle_stage == _DELETED,
                    runs.c.deleted_time >= row.last_update_time,
                )
                .values(lifecycle_stage=_ACTIVE, deleted_time=None)
            )

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        key = experiment_key(experiment_id)
        validate_experiment_tag(tag)
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, key, experiment_id)
            if row.lifecycle_stage != _ACTIVE:
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
            if row.lifecycle_stage != _ACTIVE:
                raise Conflict(f"cannot change tags of experiment {experiment_id}: it is deleted")
            deleted = conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == exp_key,
                    experiment_tags.c.key == key,
                )
            )
            if deleted.rowcount == 0:
                raise NotFound(f"experiment {experiment_id} has no tag {key!r}")

    # runs ------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        key = experiment_key(experiment_id)
        for tag in tags:
            validate_tag(tag)
        tag_values = {tag.key: tag.value for tag in tags}
        tagged_name = tag_values.get(RUN_NAME_TAG)
        if run_name and tagged_name is not None and tagged_name != run_name:
            raise InvalidInput(
                f"run_name {run_name!r} and tag {RUN_NAME_TAG}={tagged_name!r} disagree; "
                "pass one of them, or the same value in both"
            )
        name = run_name or tagged_name or generate_run_name()
        validate_run_name(name)
        if start_time is not None and (
            isinstance(start_time, bool) or not isinstance(start_time, int)
        ):
            raise InvalidInput(f"start_time must be milliseconds as an int, got {start_time!r}")
        tag_values[RUN_NAME_TAG] = name
        if user_id:
            tag_values.setdefault(USER_TAG, user_id)
        run_id = uuid.uuid4().hex
        start = wall_clock_ms() if start_time is None else start_time
        with write_transaction(self._engine) as conn:
            row = self._experiment_row(conn, key, experiment_id)
            if row.lifecycle_stage != _ACTIVE:
                raise Conflict(f"cannot create a run in experiment {experiment_id}: it is deleted")
            artifact_uri = join_uri(row.artifact_location, run_id, "artifacts")
            values = {
                "run_uuid": run_id,
                "workspace": self._workspace,
                "experiment_id": key,
                "name": name,
                "user_id": user_id or "",
                "status": RunStatus.RUNNING.value,
                "start_time": start,
                "end_time": None,
                "lifecycle_stage": _ACTIVE,
                "deleted_time": None,
                "artifact_uri": artifact_uri,
            }
            conn.execute(insert(runs), values)
            conn.execute(
                self._sql.upsert_tag,
                [
                    {"workspace": self._workspace, "run_uuid": run_id, "key": k, "value": v}
                    for k, v in tag_values.items()
                ],
            )
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(key),
            run_name=name,
            user_id=user_id or "",
            status=RunStatus.RUNNING,
            start_time=start,
            end_time=None,
            artifact_uri=artifact_uri,
            workspace=self._workspace,
        )
        return Run(info=info, data=RunData(tags=tag_values))

    def _run_row(self, conn: Connection, run_id: str) -> Any:
        validate_run_id(run_id)
        row = conn.execute(
            select(runs).where(runs.c.run_uuid == run_id, runs.c.workspace == self._workspace)
        ).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return row

    def _check_active(self, conn: Connection, run_id: str) -> None:
        """One primary-key lookup: the run exists here and is not deleted."""
        stage = self._sql.run_stage.scalar(conn, (run_id, self._workspace))
        if stage is None:
            raise NotFound(f"no run with id {run_id!r}")
        if stage != _ACTIVE:
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it")

    def get_run(self, run_id: str) -> Run:
        with read_transaction(self._engine) as conn:
            row = self._run_row(conn, run_id)
            return filters.load_runs(conn, self._workspace, [row])[0]

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(status).value
        if end_time is not None:
            values["end_time"] = end_time
        if run_name:
            values["name"] = validate_run_name(run_name)
        with write_transaction(self._engine) as conn:
            self._check_active(conn, run_id)
            if values:
                conn.execute(update(runs).where(runs.c.run_uuid == run_id).values(**values))
            if run_name:
                conn.execute(
                    self._sql.upsert_tag,
                    {
                        "workspace": self._workspace,
                        "run_uuid": run_id,
                        "key": RUN_NAME_TAG,
                        "value": run_name,
                    },
                )
            return to_run_info(self._run_row(conn, run_id))

    def _set_stage(self, run_id: str, stage: str, deleted_time: int | None) -> None:
        with write_transaction(self._engine) as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(runs)
                .where(runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage, deleted_time=deleted_time)
            )

    def delete_run(self, run_id: str) -> None:
        self._set_stage(run_id, _DELETED, wall_clock_ms())

    def restore_run(self, run_id: str) -> None:
        self._set_stage(run_id, _ACTIVE, None)

    def _write(self, job: Callable[[Connection], None]) -> None:
        """Run ``job`` in a write transaction: grouped with concurrent ones on SQLite."""
        if self._group is not None:
            self._group.run(job)
            return
        with write_transaction(self._engine) as conn:
            job(conn)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        validate_run_id(run_id)
        validate_metric(metric)
        rows = [metric_row(self._workspace, run_id, metric)]

        def write(conn: Connection) -> None:
            self._check_active(conn, run_id)
            self._sql.insert_metric.execute(conn, rows)
            self._sql.upsert_latest.execute(conn, rows)

        self._write(write)

    def log_param(self, run_id: str, param: Param) -> None:
        validate_run_id(run_id)
        validate_param(param)

        def write(conn: Connection) -> None:
            self._check_active(conn, run_id)
            self._write_params(conn, run_id, [param])

        self._write(write)

    def _write_params(self, conn: Connection, run_id: str, new: Sequence[Param]) -> None:
        """Insert params; an existing key with another value raises Conflict."""
        if len(new) == 1:
            # The common case in one statement: insert, and look only if it existed.
            param = new[0]
            row = {"workspace": self._workspace, "run_uuid": run_id, "key": param.key}
            inserted = conn.execute(self._sql.insert_param, {**row, "value": param.value})
            if inserted.rowcount == 1:
                return
        wanted = {param.key: param.value for param in new}
        existing = conn.execute(
            select(params.c.key, params.c.value).where(
                params.c.run_uuid == run_id, params.c.key.in_(list(wanted))
            )
        ).all()
        for key, value in existing:
            if wanted[key] != value:
                raise Conflict(
                    f"param {key!r} of run {run_id} is already {value!r}; params are "
                    f"write-once and cannot be changed to {wanted[key]!r}"
                )
        known = {key for key, _ in existing}
        rows = [
            {"workspace": self._workspace, "run_uuid": run_id, "key": k, "value": v}
            for k, v in wanted.items()
            if k not in known
        ]
        if rows:
            conn.execute(self._sql.insert_param, rows)

    def _write_tags(self, conn: Connection, run_id: str, new: Sequence[RunTag]) -> None:
        values = {tag.key: tag.value for tag in new}
        conn.execute(
            self._sql.upsert_tag,
            [
                {"workspace": self._workspace, "run_uuid": run_id, "key": k, "value": v}
                for k, v in values.items()
            ],
        )
        name = values.get(RUN_NAME_TAG)
        if name:
            validate_run_name(name)
            conn.execute(
                self._sql.set_run_name, {"rid": run_id, "ws": self._workspace, "run_name": name}
            )

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        validate_run_id(run_id)
        validate_tag(tag)

        def write(conn: Connection) -> None:
            self._check_active(conn, run_id)
            self._write_tags(conn, run_id, [tag])

        self._write(write)

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_run_id(run_id)
        validate_key(key, "tag key")
        with write_transaction(self._engine) as conn:
            self._check_active(conn, run_id)
            deleted = conn.execute(
                self._sql.delete_tag, {"rid": run_id, "ws": self._workspace, "tag_key": key}
            )
            if deleted.rowcount == 0:
                raise NotFound(f"run {run_id} has no tag {key!r}")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        validate_run_id(run_id)
        validate_batch(metrics, params, tags)
        workspace = self._workspace
        # Rows are built here, outside the write transaction (and its lock), in the
        # metric index's order (key, step, timestamp): each insert lands beside the
        # previous one (a 1,000-point batch then costs ~40% less to insert). The sort
        # is stable, so equal points keep the order they were logged in.
        points = sorted((metric_row(workspace, run_id, m) for m in metrics), key=_INDEX_ORDER)
        latest = [metric_row(workspace, run_id, m) for m in latest_points(metrics)]

        def write(conn: Connection) -> None:
            self._check_active(conn, run_id)
            if params:
                self._write_params(conn, run_id, params)
            if points:
                self._sql.insert_metric.insert_values(conn, points)
                self._sql.upsert_latest.execute(conn, latest)
            if tags:
                self._write_tags(conn, run_id, tags)

        self._write(write)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        validate_run_id(run_id)
        items = validate_dataset_inputs(datasets)
        try:
            self._link_inputs(run_id, items)
        except IntegrityError:
            # A concurrent writer stored one of these datasets or inputs first
            # (PostgreSQL); a second pass finds and reuses its rows.
            self._link_inputs(run_id, items)

    def _link_inputs(self, run_id: str, items: Sequence[DatasetInput]) -> None:
        with write_transaction(self._engine) as conn:
            self._check_active(conn, run_id)
            experiment = conn.execute(
                select(runs.c.experiment_id).where(runs.c.run_uuid == run_id)
            ).scalar_one()
            link_inputs(conn, self._workspace, int(experiment), run_id, items)

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        with read_transaction(self._engine) as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(
                select(
                    metrics.c.key,
                    metrics.c.value,
                    metrics.c.timestamp,
                    metrics.c.step,
                    metrics.c.is_nan,
                )
                .where(
                    metrics.c.run_uuid == run_id,
                    metrics.c.key == metric_key,
                    metrics.c.workspace == self._workspace,
                )
                .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
            )
            return [to_metric(row) for row in rows]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        keys = []
        for experiment_id in experiment_ids:
            key = experiment_key_or_none(experiment_id)
            if key is not None:
                keys.append(key)
        with read_transaction(self._engine) as conn:
            return filters.search_runs(
                conn,
                self._workspace,
                keys,
                filter_string,
                run_view_type,
                max_results,
                order_by,
                page_token,
            )

    # history import (kiln.store.transfer.history.HistoryImport) ---------------------------
    def import_experiment(self, experiment: Experiment) -> str:
        """Create a copy of ``experiment``; see ``kiln.store.sql.history``."""
        return history.import_experiment(self, experiment)

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """Create a copy of ``run`` keeping its id; see ``kiln.store.sql.history``."""
        return history.import_run(self, run, experiment_id, metrics)


def open_sql_store(
    uri: str,
    *,
    workspace: str = DEFAULT_WORKSPACE,
    artifact_root: str | None = None,
    engines: EnginePool | None = None,
) -> SqlTrackingStore:
    """Open (creating or migrating if needed) the SQL tracking store at ``uri``.

    Args:
        uri: ``sqlite:///path``, ``postgresql://...`` or ``postgresql+psycopg://...``.
        workspace: the tenant every call acts in; its Default experiment is created
            on first open.
        artifact_root: where new experiments put artifacts; see the module docstring
            for the default.
        engines: the owner of the engine, closed by whoever made it; by default the
            process's ``SHARED_ENGINES``.

    Raises:
        InvalidUri: not a SQLite or PostgreSQL URI.
        InvalidInput: an empty or over-long workspace name.
    """
    if not workspace or len(workspace) > _MAX_WORKSPACE_LENGTH:
        raise InvalidInput(
            f"workspace must be 1 to {_MAX_WORKSPACE_LENGTH} characters, got {workspace!r}"
        )
    url = normalize_uri(uri)
    engine = (engines or SHARED_ENGINES).engine(url)
    root = artifact_root if artifact_root else default_artifact_root(url)
    return SqlTrackingStore(engine, workspace, root)


__all__ = ["RUN_NAME_TAG", "SqlTrackingStore", "default_artifact_root", "open_sql_store"]
