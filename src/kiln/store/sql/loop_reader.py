"""One SQLite connection for the credential reads the server's event loop makes.

Inside ``no_wait()`` (the fast lane's inline writes) a pooled connection may be
out and waiting for it would stall the loop, so the auth store's hot-path reads
(``token_grant``, ``session_by_hash``) use this connection instead. It never waits:

* one caller at a time holds it; a second one hears ``WouldBlock`` at once and
  runs its request on a thread as before;
* it is opened with a zero busy timeout, so the rare ``SQLITE_BUSY`` a WAL reader
  can meet (another connection recovering or resetting the WAL) is ``WouldBlock``
  too, not a wait. A WAL reader never waits for the writer otherwise.

Each read is one autocommit statement on a fresh snapshot: a revocation or a
demotion committed by any other connection is seen by the very next request.
PostgreSQL and in-memory SQLite get no reader (``WouldBlock``: the thread path).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from kiln.store.sql.engine import WouldBlock, sqlite_path


class LoopReader:
    """The dedicated read connection of one SQLite database (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def read_one(self, sql: str, parameters: Any) -> tuple[Any, ...] | None:
        """The first row of ``sql``; ``WouldBlock`` when busy (never waits)."""
        if not self._lock.acquire(blocking=False):
            raise WouldBlock("the event loop's read connection is in use")
        try:
            conn = self._connection()
            try:
                cursor = conn.execute(sql, parameters)
                try:
                    found: tuple[Any, ...] | None = cursor.fetchone()
                finally:
                    cursor.close()
            except sqlite3.OperationalError as error:  # SQLITE_BUSY: never wait here
                raise WouldBlock(f"the database is busy: {error}") from None
            return found
        finally:
            self._lock.release()

    def _connection(self) -> sqlite3.Connection:
        # a forked child opens its own (sharing a SQLite handle across fork corrupts it)
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = ON")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def loop_reader(engine: Engine) -> LoopReader | None:
    """A reader for ``engine``'s database: None unless it is a SQLite file."""
    if engine.dialect.name != "sqlite":
        return None
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    return None if path is None else LoopReader(path)


__all__ = ["LoopReader", "loop_reader"]
