"""Group commit: one writer thread per SQLite engine commits concurrent writes together.

SQLite lets one connection write at a time. When several threads of a server
each open their own write transaction, all but one wait in SQLite's busy
handler, which sleeps in steps of milliseconds, and each commit pays its own
WAL append. ``GroupCommitter.run(job)`` instead hands the job to one writer
thread, which takes every job queued by then, runs them in one transaction and
commits once. Each caller returns (or raises) only after that commit: an
acknowledged write is in the WAL, so it survives a killed process exactly as
before.

One job's failure never affects another's: when a group holds more than one
job, each runs inside its own SAVEPOINT, rolled back if the job raises. A
failed commit fails every job of the group.

Nothing waits for company: a lone caller's job is committed at once (no added
latency); groups form only while the writer is busy with the previous one.
The writer holds one pooled connection while it works and returns it, and
exits, after ``IDLE_EXIT_S`` without jobs; the next job starts a new one. A
forked child starts its own writer.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

from kiln.store.sql.engine import write_connection

T = TypeVar("T")

IDLE_EXIT_S = 1.0
# Upper bound on jobs per transaction, so one commit never waits on an unbounded group.
MAX_GROUP = 256


class _Job:
    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[Connection], Any]) -> None:
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Lock()
        self.done.acquire()


class GroupCommitter:
    """Runs write jobs (``Connection -> result``) on one writer thread, grouped per commit.

    Thread-safe. A job must do all its work through the connection it is given
    and must not call ``run`` itself (a job run on the writer thread runs inline).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._jobs: deque[_Job] = deque()
        self._state = threading.Lock()
        self._wakeup = threading.Condition(self._state)
        self._writer: threading.Thread | None = None
        self._pid = os.getpid()

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction; return once it is committed.

        Raises:
            whatever ``fn`` raised (its writes rolled back), or the commit's error.
        """
        if threading.current_thread() is self._writer:
            raise RuntimeError("a group-commit job must not submit another job")
        job = _Job(fn)
        with self._state:
            if self._pid != os.getpid():  # forked: the parent's writer is not ours
                self._pid, self._writer, self._jobs = os.getpid(), None, deque()
            self._jobs.append(job)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._work, name="kiln-sql-writer", daemon=True
                )
                self._writer.start()
            else:
                self._wakeup.notify()
        job.done.acquire()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _next_group(self) -> list[_Job] | None:
        """The queued jobs (waiting up to ``IDLE_EXIT_S``), or None to exit."""
        with self._state:
            if not self._jobs:
                self._wakeup.wait(IDLE_EXIT_S)
                if not self._jobs:
                    self._writer = None  # the next run() starts a new writer
                    return None
            count = min(len(self._jobs), MAX_GROUP)
            return [self._jobs.popleft() for _ in range(count)]

    def _work(self) -> None:
        group = self._next_group()
        if group is None:
            return
        # One pooled connection for the whole busy spell, returned when idle.
        with write_connection(self._engine) as connection:
            while group is not None:
                self._commit(connection, group)
                group = self._next_group()

    def _commit(self, connection: Connection, group: list[_Job]) -> None:
        try:
            with connection.begin():
                if len(group) == 1:
                    job = group[0]
                    job.result = job.fn(connection)
                else:
                    cursor = connection.connection.cursor()
                    try:
                        for job in group:
                            _run_in_savepoint(cursor, connection, job)
                    finally:
                        cursor.close()
        except BaseException as exc:  # the commit failed, or a lone job raised
            for job in group:
                if job.error is None:
                    job.error = exc
        for job in group:
            job.done.release()


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


_committers: weakref.WeakKeyDictionary[Engine, GroupCommitter] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def committer_for(engine: Engine) -> GroupCommitter:
    """The engine's ``GroupCommitter`` (one per engine, created on first use)."""
    committer = _committers.get(engine)
    if committer is None:
        with _committers_lock:
            committer = _committers.get(engine)
            if committer is None:
                committer = _committers[engine] = GroupCommitter(engine)
    return committer


__all__ = ["IDLE_EXIT_S", "MAX_GROUP", "GroupCommitter", "committer_for"]
