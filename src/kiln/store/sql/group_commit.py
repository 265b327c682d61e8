"""Group commit: concurrent writes to one SQLite engine share a transaction and a commit.

SQLite lets one connection write at a time. When several threads of a server
each open their own write transaction, all but one wait in SQLite's busy
handler, which sleeps in steps of milliseconds, and each commit pays its own
WAL append. ``GroupCommitter.run(job)`` instead queues the job; one caller at a
time is the *leader*: it takes every job queued by then, runs them in one
transaction on the committer's connection and commits once. Each caller returns
(or raises) only after that commit: an acknowledged write is in the WAL, so it
survives a killed process exactly as before.

A lone caller leads at once and runs its own job on its own thread: no thread
hand-off and no waiting for company (a hand-off to a writer thread and back
cost more wall time than a small ``log_metric`` itself). Groups form only while
a leader is busy; when it has committed, it hands the lead to the oldest queued
job's caller, so no caller runs more than its own group after its job.

One job's failure never affects another's: when a group holds more than one
job, each runs inside its own SAVEPOINT, rolled back if the job raises. A
failed commit fails every job of the group.

The committer keeps one pooled connection while writes come (its page cache
stays warm: a connection taken from the pool per write re-reads the pages other
connections changed) and returns it after ``IDLE_EXIT_S`` without jobs. A forked
child starts afresh. A committer belongs to its engine's entry in the
``EnginePool`` (``kiln.store.sql.engine``), which makes it with the engine and
closes it before disposing of the engine.

Checkpoints leave the callers' path: on a database file, the committer's
connection does not checkpoint the WAL on commit (SQLite's auto-checkpoint, every
1,000 pages, made one commit in ~30 of a 1,000-metric batch wait tens of
milliseconds for two fsyncs); a maintenance thread runs a PASSIVE checkpoint
every ``CHECKPOINT_EVERY_S`` while commits come, on its own connection, and once
more when the committer goes idle. Durability is unchanged: a commit is in the
WAL before its caller returns, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from kiln.store.sql.engine import (
    BUSY_TIMEOUT_MS,
    WouldBlock,
    must_not_wait,
    sqlite_path,
    write_connection,
)

T = TypeVar("T")

_log = logging.getLogger(__name__)

IDLE_EXIT_S = 1.0
CHECKPOINT_EVERY_S = 0.2
_AUTO_CHECKPOINT_PAGES = 1000  # SQLite's default, restored when the connection goes back
# Upper bound on jobs per transaction, so one commit never waits on an unbounded group.
MAX_GROUP = 256


class _Job:
    __slots__ = ("done", "error", "fn", "lead", "result", "started")

    def __init__(self, fn: Callable[[Connection], Any]) -> None:
        self.fn = fn
        self.started = False  # the transaction began and the job ran
        self.result: Any = None
        self.error: BaseException | None = None
        self.lead = False  # set when the caller is woken to lead rather than to return
        self.done = threading.Lock()
        self.done.acquire()


class GroupCommitter:
    """Runs write jobs (``Connection -> result``) grouped per commit, led by their callers.

    Thread-safe. A job must do all its work through the connection it is given
    and must not call ``run`` itself.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._jobs: deque[_Job] = deque()
        self._state = threading.Lock()
        self._leading = False  # a caller is running groups (or is about to)
        self._leader: int | None = None  # its thread id
        self._pid = os.getpid()
        self._opened: AbstractContextManager[Connection] | None = None
        self._connection: Connection | None = None
        self._last_commit = 0.0
        self._commits = 0  # since the last checkpoint
        self._maintainer: threading.Thread | None = None
        self._on_file = sqlite_path(engine.url.render_as_string(hide_password=False)) is not None

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction; return once it is committed.

        Raises:
            whatever ``fn`` raised (its writes rolled back), or the commit's error.
        """
        if self._leader == threading.get_ident():
            raise RuntimeError("a group-commit job must not submit another job")
        job = _Job(fn)
        alone = must_not_wait()
        with self._state:
            if self._pid != os.getpid():  # forked: the parent's state is not ours
                self._reset_after_fork()
            if alone and self._leading:
                raise WouldBlock("another write is being committed")
            self._jobs.append(job)
            lead = not self._leading
            self._leading = True
        if not lead:
            job.done.acquire()  # committed, or woken to lead
            lead = job.lead
        if lead:
            self._lead(job, alone)
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def close(self) -> None:
        """Hand the warm connection back (its engine is being disposed) unless a group is
        committing on it, in which case the idle exit returns it. A later ``run`` opens
        another connection, as a disposed engine opens a fresh pool."""
        with self._state:
            if self._pid != os.getpid():  # the parent's connection is not ours to return
                return
            self._commits = 0  # nothing left for the maintenance thread to checkpoint
            if not self._leading:
                self._drop_connection()

    def _reset_after_fork(self) -> None:
        self._jobs, self._leading, self._leader = deque(), False, None
        self._opened = self._connection = self._maintainer = None
        self._pid = os.getpid()

    def _lead(self, mine: _Job, alone: bool = False) -> None:
        """Commit groups until ``mine`` is committed, then pass the lead on.

        ``alone`` (inside ``no_wait()``): commit ``mine`` by itself, without
        waiting for another process's write lock (``WouldBlock`` instead).
        """
        self._leader = threading.get_ident()
        try:
            done = False
            while not done:
                with self._state:
                    count = 1 if alone else min(len(self._jobs), MAX_GROUP)
                    group = [self._jobs.popleft() for _ in range(count)]
                done = any(job is mine for job in group)
                if alone:
                    self._commit_alone(mine)
                else:
                    self._commit(group, mine)
        finally:
            self._leader = None
            with self._state:
                self._last_commit = time.monotonic()
                if self._jobs:
                    heir = self._jobs[0]
                    heir.lead = True
                    heir.done.release()
                else:
                    self._leading = False
                if self._maintainer is None and self._connection is not None:
                    self._maintainer = threading.Thread(
                        target=self._maintain, name="kiln-sql-checkpoint", daemon=True
                    )
                    self._maintainer.start()

    def _writer_connection(self) -> Connection:
        if self._connection is None:
            opened = write_connection(self._engine)
            connection = opened.__enter__()
            if self._on_file:  # the maintenance thread checkpoints instead
                _driver(connection).execute("PRAGMA wal_autocheckpoint = 0")
            self._connection, self._opened = connection, opened
        return self._connection

    def _drop_connection(self) -> None:
        connection, opened = self._connection, self._opened
        self._opened = self._connection = None
        if opened is None or connection is None:
            return
        try:
            driver = None if connection.invalidated else _driver(connection)
            if driver is not None:  # as the pool's other connections are
                driver.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                if self._on_file:
                    driver.execute(f"PRAGMA wal_autocheckpoint = {_AUTO_CHECKPOINT_PAGES}")
        except sqlite3.Error:  # closed under us (the engine was disposed): nothing to restore
            _log.debug("the writer connection was already closed", exc_info=True)
        finally:
            with contextlib.suppress(Exception):  # the same: returning it is all that is left
                opened.__exit__(None, None, None)

    def _commit(self, group: list[_Job], mine: _Job) -> None:
        try:
            connection = self._writer_connection()
            with connection.begin():
                if len(group) == 1:
                    job = group[0]
                    job.started = True
                    try:
                        job.result = job.fn(connection)
                    except BaseException as exc:
                        job.error = exc
                        raise
                else:
                    cursor = connection.connection.cursor()
                    try:
                        for job in group:
                            _run_in_savepoint(cursor, connection, job)
                    finally:
                        cursor.close()
        except BaseException as exc:  # the commit failed, or a lone job raised
            busy = _is_busy(exc) and not group[0].started
            if not (len(group) == 1 and group[0].error is exc) and not busy:
                self._drop_connection()  # not the job's own error: start afresh
            for job in group:
                if job.error is None:
                    job.error = exc
        self._commits += 1
        for job in group:
            if job is not mine:
                job.done.release()

    def _commit_alone(self, job: _Job) -> None:
        """``_commit`` of one job that must not wait: a busy lock is ``WouldBlock``."""
        try:
            driver = _driver(self._writer_connection())
            driver.execute("PRAGMA busy_timeout = 0")
        except BaseException as exc:
            job.error = exc
            return
        try:
            self._commit([job], job)
        finally:
            if self._connection is not None:  # else _drop_connection restored it
                driver.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if _is_busy(job.error) and not job.started:
            job.error = WouldBlock(f"the database is locked: {job.error}")

    def _maintain(self) -> None:
        """Checkpoint while commits come; return the connection after ``IDLE_EXIT_S`` idle."""
        while True:
            time.sleep(CHECKPOINT_EVERY_S)  # a periodic task: nothing to wait on
            with self._state:
                commits, self._commits = self._commits, 0
                idle = not self._leading and time.monotonic() - self._last_commit >= IDLE_EXIT_S
                if idle:
                    self._maintainer = None
                    self._drop_connection()
            if commits and self._on_file:
                self._checkpoint()
            if idle:
                return

    def _checkpoint(self) -> None:
        """A PASSIVE checkpoint on a connection of its own: it waits for no writer or reader."""
        try:
            with self._engine.connect() as connection:
                _driver(connection).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:  # the next one, or a later commit's auto-checkpoint, catches up
            _log.warning("background WAL checkpoint failed", exc_info=True)


def _is_busy(error: BaseException | None) -> bool:
    """A failure to begin: SQLite's "database is locked" (raw, or as SQLAlchemy wraps it)."""
    return isinstance(error, sqlite3.OperationalError | OperationalError)


def _driver(connection: Connection) -> Any:
    """The DBAPI (sqlite3) connection under a SQLAlchemy connection."""
    return connection.connection.driver_connection


def _run_in_savepoint(cursor: Any, connection: Connection, job: _Job) -> None:
    # Plain SQL on the driver's cursor: SQLAlchemy's begin_nested() cost more
    # than a small job itself.
    cursor.execute("SAVEPOINT kiln_job")
    try:
        job.result = job.fn(connection)
    except BaseException as exc:
        cursor.execute("ROLLBACK TO SAVEPOINT kiln_job")
        job.error = exc
    cursor.execute("RELEASE SAVEPOINT kiln_job")


__all__ = ["CHECKPOINT_EVERY_S", "IDLE_EXIT_S", "MAX_GROUP", "GroupCommitter"]
