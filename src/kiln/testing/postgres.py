"""PostgreSQL fixtures: a throwaway server for the session, a fresh database per test.

``postgres_url`` is the SQLAlchemy URL (``postgresql+psycopg://postgres@127.0.0.1:<port>/postgres``)
of a server that lives for the whole session. When ``KILN_TEST_POSTGRES_URL`` is
set, that server is used as it is. Otherwise a cluster is made in a temporary
folder exactly as ``TESTING.md`` describes: ``initdb`` (as the ``postgres`` user
when running as root, since PostgreSQL refuses root), a free port, the Unix
socket in the cluster folder, ``fsync=off``; it is stopped and removed when the
session ends.

When no PostgreSQL binaries are found, tests that need them fail if ``CI`` is set
(CI must run them) and are skipped otherwise (``apt-get install -y postgresql``).

``postgres_db_uri`` creates a uniquely named database for one test and drops it
afterwards (closing Kiln's cached engine for it first).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_ENV_URL = "KILN_TEST_POSTGRES_URL"


def _find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` with initdb, or initdb's folder on PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")],
    )
    if candidates:
        return candidates[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests (apt-get install -y postgresql)")
    pytest.skip(f"{reason} (apt-get install -y postgresql, or set {_ENV_URL})")


def _run(argv: list[str], data: Path) -> None:
    done = subprocess.run(_as_postgres(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log = data / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
        )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of the session's PostgreSQL server (its ``postgres`` database)."""
    given = os.environ.get(_ENV_URL)
    if given:
        yield given
        return
    bindir = _find_bindir()
    if bindir is None:
        _missing("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        return
    data = Path(tempfile.mkdtemp(prefix="kiln-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, user="postgres", group="postgres")
    port = _free_port()
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            data,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "server.log"),
                "-w",
                "-o",
                options,
                "start",
            ],
            data,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], data)
        shutil.rmtree(data, ignore_errors=True)


def _libpq_url(url: str) -> str:
    """psycopg wants ``postgresql://``; SQLAlchemy URLs may name the driver."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgres") else url


def _with_database(url: str, database: str) -> str:
    address, sep, query = url.partition("?")
    base, _, _ = address.rpartition("/")
    return f"{base}/{database}{sep}{query}"


@pytest.fixture
def postgres_db_uri(postgres_url: str) -> Iterator[str]:
    """``postgresql+psycopg://...`` of an empty database made for this test, dropped after."""
    with temporary_database(postgres_url) as uri:
        yield uri


@contextlib.contextmanager
def temporary_database(postgres_url: str) -> Iterator[str]:
    """An empty database on the server of ``postgres_url``, dropped on exit (for fixtures
    of a wider scope than ``postgres_db_uri``'s, e.g. one database per test module)."""
    import psycopg

    name = f"kiln_test_{uuid.uuid4().hex[:16]}"
    admin = _libpq_url(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    uri = _with_database(postgres_url, name)
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    try:
        yield uri
    finally:
        from kiln.store.sql.engine import dispose_engine

        dispose_engine(uri)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = ["postgres_db_uri", "postgres_url", "temporary_database"]
