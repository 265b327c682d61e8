"""Engines for the SQL tracking store: URI handling, SQLite tuning, migrations.

Engines have an owner, an ``EnginePool``: it opens one engine per URL (checking
the schema once), hands it to every store opened from it, and disposes of them
all in ``close()``. Whoever makes a pool closes it (the server's lifespan, a test
fixture). Openers that bring no pool (the fluent API, ``kiln.models``, the CLI)
share ``SHARED_ENGINES``, the process's default pool, so that the tracking,
registry and logged-model stores of one URL share one engine and one schema
check, as they always did; ``engine_for``/``dispose_engine``/``dispose_engines``
are its shorthands. A forked child starts with every pool empty, never with its
parent's connections.

SQLite connections run in WAL mode with ``synchronous=NORMAL`` (a commit is
durable once the WAL is written; it survives a killed process, and a power cut
loses at most the last transactions), a 60 s ``busy_timeout``, foreign keys on
case-sensitive ``LIKE`` (as in PostgreSQL and MLflow), a page cache of up to
32 MiB per connection and up to 256 MiB memory-mapped. Write transactions
start with ``BEGIN IMMEDIATE`` so that concurrent writers from several
processes queue on the lock instead of failing with "database is locked".

``ensure_schema`` reads ``alembic_version`` with one plain query and imports
Alembic only when the database is empty or behind ``head_revision()``. The upgrade
runs inside a write transaction that first takes the database's write lock
(SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so several processes
opening a fresh database at once migrate it exactly once.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool

from kiln.errors import DriverMissing, InvalidUri, StoreUnavailable

if TYPE_CHECKING:
    from kiln.store.sql.group_commit import GroupCommitter

_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?(\w+)?['\"]?", re.MULTILINE)

# Any fixed 64-bit number: the PostgreSQL advisory lock taken while migrating.
_PG_MIGRATION_LOCK = 0x6B696C6E_6D696772  # "kilnmigr"

_WRITE = "kiln_write"
BUSY_TIMEOUT_MS = 60_000  # how long a SQLite connection waits for another writer's lock

_no_wait = threading.local()


class WouldBlock(Exception):
    """Raised inside ``no_wait()`` where the store would have to wait; nothing was written."""


@contextmanager
def no_wait() -> Iterator[None]:
    """Run store calls that must not wait on this thread (the server's event loop).

    Only the SQLite group commit serves a write here, and only when no other
    write is in progress (``kiln.store.sql.group_commit``); every other
    transaction, and a write that would wait, raises ``WouldBlock`` before
    writing anything, so the caller can run the same call on a thread instead.
    """
    _no_wait.on = True
    try:
        yield
    finally:
        _no_wait.on = False


def must_not_wait() -> bool:
    """Whether this thread is inside ``no_wait()``."""
    return bool(getattr(_no_wait, "on", False))


@functools.cache
def head_revision() -> str:
    """The newest revision in ``migrations/versions``, read without importing Alembic.

    Each revision file states ``revision = "..."`` and ``down_revision = ...``; the
    head is the revision no other file names as its ``down_revision``. A test checks
    that Alembic agrees.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in _VERSIONS.glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            if name == "revision" and value:
                revisions.add(value)
            elif name == "down_revision" and value and value != "None":
                parents.add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision in {_VERSIONS}, found {sorted(heads)}")
    return heads.pop()


def normalize_uri(uri: str) -> str:
    """Return the SQLAlchemy URL for a tracking URI.

    ``postgresql://`` and ``postgres://`` map to the psycopg 3 driver; a relative
    SQLite path is resolved against the current directory.

    Raises:
        InvalidUri: not a SQLite or PostgreSQL URI, or not parseable.
    """
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise InvalidUri(f"invalid database URI {uri!r}: {exc}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise InvalidUri(f"unsupported SQLite driver in {uri!r}: use sqlite:///path")
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            url = url.set(drivername="sqlite", database=str(Path(database).expanduser().resolve()))
        return url.render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
            url = url.set(drivername="postgresql+psycopg")
        else:
            raise InvalidUri(
                f"unsupported PostgreSQL driver in {uri!r}: use postgresql:// "
                "or postgresql+psycopg:// (psycopg 3)"
            )
        return url.render_as_string(hide_password=False)
    raise InvalidUri(f"not a SQL tracking URI: {uri!r}; use sqlite:///path or postgresql://...")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None (in-memory or not SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Kiln emits BEGIN itself (see _on_sqlite_begin); the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA case_sensitive_like = ON")
        # Search joins hop between b-trees: keep hot pages in memory (both are caps).
        cursor.execute("PRAGMA cache_size = -32768")
        cursor.execute("PRAGMA mmap_size = 268435456")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(_WRITE, False)
    # On the driver's connection: through exec_driver_sql, this BEGIN cost about
    # as much server CPU as the rest of a log_metric's statements together.
    driver: Any = connection.connection.driver_connection
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def _create_engine(url: str) -> Engine:
    if sqlite_path(url) is not None:
        path = sqlite_path(url)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60.0},
            pool_size=8,
            max_overflow=32,
        )
    elif make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool,
        )
    else:
        engine = create_engine(url, pool_size=8, max_overflow=16, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _open_engine(url: str) -> Engine:
    """A new engine with its schema at head; a missing driver or an unreachable database
    becomes one ``StoreUnavailable`` that says what to do (never a driver traceback)."""
    backend = make_url(url).get_backend_name()
    try:
        engine = _create_engine(url)
    except ModuleNotFoundError as error:
        if backend != "postgresql":
            raise
        raise DriverMissing(
            f"{backend}:// needs the psycopg driver ({error.name} is not installed): "
            "pip install 'kiln-mlops[postgres]'"
        ) from None
    try:
        ensure_schema(engine)
    except (OperationalError, InterfaceError) as error:
        engine.dispose()
        place = make_url(url).render_as_string(hide_password=True)
        reason = " ".join(str(error.orig or error).split())
        raise StoreUnavailable(f"cannot open the database {place}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def _group_committer(engine: Engine) -> GroupCommitter | None:
    """A SQLite engine's group committer (PostgreSQL needs none: its writers do not queue
    on one lock)."""
    if engine.dialect.name != "sqlite":
        return None
    # Imported here: group_commit builds on this module's connections.
    from kiln.store.sql.group_commit import GroupCommitter

    return GroupCommitter(engine)


@dataclass(frozen=True, slots=True)
class _Entry:
    """What a pool holds for one URL: the engine, and on SQLite its group committer."""

    engine: Engine
    committer: GroupCommitter | None


class EnginePool:
    """The owner of SQL engines: one per normalized URL, opened on first use, closed by
    ``close()``.

    Stores opened with the same pool share its engine (one connection pool, one
    schema check, one SQLite group committer, closed with the engine); whoever made
    the pool closes it once they are done with those stores. Thread-safe; usable as
    a context manager.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        _live_pools.add(self)  # emptied in a forked child

    def engine(self, url: str) -> Engine:
        """The engine of a normalized URL (see ``normalize_uri``), with its schema at
        ``head_revision()``; opened (and migrated if need be) on first use.

        Raises:
            StoreUnavailable: the database cannot be reached or its driver is missing.
        """
        return self._entry(url).engine

    def committer(self, url: str) -> GroupCommitter | None:
        """The group committer of ``engine(url)`` on SQLite (None elsewhere): one per
        engine, shared by the stores of the pool and closed with the engine.

        Raises:
            StoreUnavailable: as ``engine``.
        """
        return self._entry(url).committer

    def _entry(self, url: str) -> _Entry:
        entry = self._entries.get(url)
        if entry is not None:
            return entry
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                engine = _open_engine(url)
                entry = self._entries[url] = _Entry(engine, _group_committer(engine))
        return entry

    def close(self, uri: str | None = None) -> None:
        """Dispose of the engine of one tracking URI, or of every engine when None; the
        next ``engine()`` opens a fresh one (and checks the schema again)."""
        with self._lock:
            if uri is None:
                entries = list(self._entries.values())
                self._entries.clear()
            else:
                found = self._entries.pop(normalize_uri(uri), None)
                entries = [] if found is None else [found]
        for entry in entries:
            if entry.committer is not None:  # first: it hands its warm connection back
                entry.committer.close()
            entry.engine.dispose()

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _forget_in_child(self) -> None:
        # A forked child must not share the parent's pooled connections (SQLite file
        # locks and PostgreSQL sockets belong to one process): drop them unclosed.
        for entry in self._entries.values():
            entry.engine.dispose(close=False)
        self._entries.clear()
        self._lock = threading.Lock()


_live_pools: weakref.WeakSet[EnginePool] = weakref.WeakSet()


def _forget_pools_in_child() -> None:
    for pool in list(_live_pools):
        pool._forget_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)

SHARED_ENGINES = EnginePool()
"""The default owner, for openers that bring no pool: lives as long as the process."""


def engine_for(url: str) -> Engine:
    """``SHARED_ENGINES.engine(url)``: the shared engine of a normalized URL."""
    return SHARED_ENGINES.engine(url)


def dispose_engine(uri: str) -> None:
    """``SHARED_ENGINES.close(uri)``: close and forget the shared engine of one URI."""
    SHARED_ENGINES.close(uri)


def dispose_engines() -> None:
    """``SHARED_ENGINES.close()``: close every shared engine (the next open checks the schema)."""
    SHARED_ENGINES.close()


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transactions write: on SQLite each ``begin()`` is a
    ``BEGIN IMMEDIATE``, taking the write lock up front."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        yield connection


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on error.

    On SQLite it starts with ``BEGIN IMMEDIATE``, taking the write lock up front.

    Raises:
        WouldBlock: inside ``no_wait()``.
    """
    if must_not_wait():
        raise WouldBlock("a write transaction may wait for the database")
    with write_connection(engine) as connection, connection.begin():
        yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction (a consistent snapshot).

    Raises:
        WouldBlock: inside ``no_wait()``.
    """
    if must_not_wait():
        raise WouldBlock("a read transaction may wait for a pooled connection")
    with engine.connect() as connection, connection.begin():
        yield connection


def current_revision(connection: Connection) -> str | None:
    """The ``alembic_version`` of the database, or None when it has none."""
    if connection.dialect.name == "sqlite":
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).scalar()
    else:
        exists = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return None
    version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if version is None else str(version)


def ensure_schema(engine: Engine) -> None:
    """Bring the database to ``head_revision()``, migrating it at most once.

    The cheap path is one read of ``alembic_version``; Alembic is imported only
    when an upgrade is due, under the database's write lock.
    """
    with read_transaction(engine) as connection:
        if current_revision(connection) == head_revision():
            return
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        if current_revision(connection) == head_revision():
            return
        _upgrade(connection)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


__all__ = [
    "BUSY_TIMEOUT_MS",
    "WouldBlock",
    "must_not_wait",
    "no_wait",
    "SHARED_ENGINES",
    "EnginePool",
    "current_revision",
    "dispose_engine",
    "dispose_engines",
    "engine_for",
    "ensure_schema",
    "head_revision",
    "normalize_uri",
    "read_transaction",
    "sqlite_path",
    "write_connection",
    "write_transaction",
]
