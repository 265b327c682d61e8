"""What the parts of the SQL tracking store share: its state and the row lookups.

``SqlTrackingStore`` (``kiln.store.sql.tracking``) is ``SqlExperiments``,
``SqlRuns`` and ``SqlRunWrites`` over this base; each part reads the engine, the
workspace and the prepared statements from here, and every query filters on the
workspace.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from kiln.entities import LifecycleStage
from kiln.errors import Conflict, NotFound
from kiln.store.rules.tracking import validate_run_id
from kiln.store.sql.group_commit import GroupCommitter
from kiln.store.sql.schema import experiments, runs
from kiln.store.sql.statements import Statements

ACTIVE = LifecycleStage.ACTIVE.value
DELETED = LifecycleStage.DELETED.value


class SqlTrackingBase:
    """The state of a ``SqlTrackingStore`` and the lookups every part of it makes."""

    _engine: Engine
    _workspace: str
    _artifact_root: str
    _sql: Statements
    # SQLite: the hot log calls are committed together with concurrent ones.
    _group: GroupCommitter | None

    def _experiment_row(self, conn: Connection, key: int, experiment_id: str) -> Any:
        row = conn.execute(
            select(experiments).where(
                experiments.c.experiment_id == key, experiments.c.workspace == self._workspace
            )
        ).first()
        if row is None:
            raise NotFound(f"no experiment with id {experiment_id!r}")
        return row

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
        if stage != ACTIVE:
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it")


__all__ = ["ACTIVE", "DELETED", "SqlTrackingBase"]
