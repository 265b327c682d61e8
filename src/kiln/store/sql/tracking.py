"""The SQL tracking store: SQLite (embedded default) and PostgreSQL, one code path.

``open_sql_store("sqlite:///path/kiln.db", workspace=...)`` (or a ``postgresql://`` URI)
returns a ``SqlTrackingStore`` bound to that workspace. It follows the contract in
``kiln.store.protocols.tracking``; see ``kiln.store.sql.engine`` for the engine cache, SQLite
settings and migrations, and ``kiln.store.sql.filters`` for search. The store is three
parts over ``kiln.store.sql.tracking_base``: experiments (``tracking_experiments``),
runs (``tracking_runs``) and the logging hot path (``tracking_writes``).

Default artifact root (``artifact_root=None``): for SQLite the folder
``artifacts`` next to the database file, so one folder holds both; for
PostgreSQL (and in-memory SQLite) ``./kiln-artifacts`` resolved against the
current directory when the store is opened. Artifact locations follow MLflow:
experiment ``<root>/<experiment_id>``, run ``<experiment location>/<run_id>/artifacts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from kiln.entities import RUN_NAME_TAG, Experiment, Metric, Run, RunInfo
from kiln.errors import InvalidInput
from kiln.store.sql import history
from kiln.store.sql.engine import (
    SHARED_ENGINES,
    EnginePool,
    normalize_uri,
    sqlite_path,
)
from kiln.store.sql.group_commit import GroupCommitter
from kiln.store.sql.schema import WORKSPACE_LENGTH
from kiln.store.sql.statements import statements_for
from kiln.store.sql.tracking_experiments import SqlExperiments
from kiln.store.sql.tracking_runs import SqlRuns
from kiln.store.sql.tracking_writes import SqlRunWrites

_MAX_WORKSPACE_LENGTH = WORKSPACE_LENGTH


def default_artifact_root(url: str) -> str:
    """``artifacts`` next to a SQLite file, else ``./kiln-artifacts`` made absolute."""
    path = sqlite_path(url)
    if path is not None:
        return str(path.parent / "artifacts")
    return str(Path("kiln-artifacts").resolve())


class SqlTrackingStore(SqlExperiments, SqlRuns, SqlRunWrites):
    """A ``TrackingStore`` over SQLAlchemy Core, bound to one workspace.

    Instances are cheap: they share the engine (and its pool) of their URI.
    Thread-safe: each call checks a connection out of the pool.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        workspace: str,
        artifact_root: str,
        group: GroupCommitter | None,
    ) -> None:
        self._engine = engine
        self._workspace = workspace
        self._artifact_root = artifact_root
        self._sql = statements_for(engine.dialect)
        # SQLite: the hot log calls are committed together with concurrent ones by the
        # engine's committer, which its EnginePool owns (see kiln.store.sql.group_commit).
        self._group = group
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

    # history import (kiln.store.protocols.history.HistoryImport) ---------------------------
    def import_experiment(self, experiment: Experiment) -> str:
        """Create a copy of ``experiment``; see ``kiln.store.sql.history``."""
        return history.import_experiment(self, experiment)

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """Create a copy of ``run`` keeping its id; see ``kiln.store.sql.history``."""
        return history.import_run(self, run, experiment_id, metrics)


def open_sql_store(
    uri: str,
    *,
    workspace: str,
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
    pool = engines or SHARED_ENGINES
    engine = pool.engine(url)
    root = artifact_root if artifact_root else default_artifact_root(url)
    return SqlTrackingStore(
        engine, workspace=workspace, artifact_root=root, group=pool.committer(url)
    )


__all__ = ["RUN_NAME_TAG", "SqlTrackingStore", "default_artifact_root", "open_sql_store"]
