"""kiln.store.sql.group_commit: concurrent writes share commits, failures stay their own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from kiln.errors import Conflict
from kiln.store.sql.engine import (
    WouldBlock,
    engine_for,
    no_wait,
    normalize_uri,
    read_transaction,
    write_transaction,
)
from kiln.store.sql.group_commit import GroupCommitter


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = engine_for(normalize_uri(f"sqlite:///{tmp_path / 'group.db'}"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE points (writer INTEGER, n INTEGER)"))
    return engine


def _count(engine: Engine, where: str = "1 = 1") -> int:
    with read_transaction(engine) as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM points WHERE {where}")).scalar_one())


def _insert(writer: int, n: int) -> Callable[[Connection], int]:
    def job(conn: Connection) -> int:
        conn.execute(text("INSERT INTO points VALUES (:w, :n)"), {"w": writer, "n": n})
        return n

    return job


def test_every_concurrent_write_is_committed_before_run_returns(engine: Engine) -> None:
    committer = GroupCommitter(engine)
    seen_after_return: list[int] = []

    def writer(w: int) -> None:
        for n in range(200):
            assert committer.run(_insert(w, n)) == n
        seen_after_return.append(_count(engine, f"writer = {w}"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen_after_return == [200] * 8
    assert _count(engine) == 1600


def test_a_failing_job_rolls_back_alone_in_a_group(engine: Engine) -> None:
    committer = GroupCommitter(engine)
    errors: list[BaseException] = []
    start = threading.Barrier(9)

    def failing(conn: Connection) -> None:
        conn.execute(text("INSERT INTO points VALUES (-1, -1)"))
        raise Conflict("this job's write must not survive")

    def worker(w: int) -> None:
        start.wait()
        for n in range(50):
            if w == 0 and n % 5 == 0:
                with pytest.raises(Conflict, match="must not survive"):
                    committer.run(failing)
            else:
                committer.run(_insert(w, n))

    def catching(w: int) -> None:
        try:
            worker(w)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=catching, args=(w,)) for w in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _count(engine, "writer = -1") == 0
    assert _count(engine) == 9 * 50 - 10


def test_a_lone_failing_job_writes_nothing_and_the_writer_goes_on(engine: Engine) -> None:
    committer = GroupCommitter(engine)

    def failing(conn: Connection) -> None:
        conn.execute(text("INSERT INTO points VALUES (-1, -1)"))
        raise Conflict("lone failure")

    with pytest.raises(Conflict, match="lone failure"):
        committer.run(failing)
    assert committer.run(_insert(1, 1)) == 1
    assert _count(engine) == 1


def test_a_job_cannot_submit_another_job(engine: Engine) -> None:
    committer = GroupCommitter(engine)

    def nested(conn: Connection) -> None:
        committer.run(_insert(1, 1))

    with pytest.raises(RuntimeError, match="must not submit another job"):
        committer.run(nested)
    assert _count(engine) == 0


def test_commits_skip_the_auto_checkpoint_and_a_background_one_empties_the_wal(
    engine: Engine,
) -> None:
    import time

    from kiln.store.sql.group_commit import CHECKPOINT_EVERY_S, IDLE_EXIT_S

    committer = GroupCommitter(engine)
    seen: list[Any] = []

    def job(conn: Connection) -> int:
        driver = conn.connection.driver_connection
        seen.append(driver)
        conn.execute(text("INSERT INTO points VALUES (1, 1)"))
        return int(driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    assert committer.run(job) == 0  # no checkpoint on the caller's commit
    assert committer.run(job) == 0
    assert seen[0] is seen[1]  # one connection, warm, while writes come
    time.sleep(IDLE_EXIT_S + 3 * CHECKPOINT_EVERY_S)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # handed back when idle
    # ... with SQLite's default auto-checkpoint restored for its next user,
    assert seen[0].execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    # and every frame of the WAL already copied into the database.
    busy, frames, copied = seen[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0
    assert frames == copied
    assert _count(engine) == 2


def test_no_wait_commits_a_lone_write_at_once(engine: Engine) -> None:
    committer = GroupCommitter(engine)
    with no_wait():
        assert committer.run(_insert(1, 1)) == 1
    assert _count(engine) == 1


def test_no_wait_refuses_to_queue_behind_a_write_in_progress(engine: Engine) -> None:
    committer = GroupCommitter(engine)
    inside, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> int:
        inside.set()
        release.wait(10)
        return _insert(1, 1)(conn)

    writer = threading.Thread(target=committer.run, args=(slow,))
    writer.start()
    assert inside.wait(10)
    try:
        with no_wait(), pytest.raises(WouldBlock, match="another write"):
            committer.run(_insert(2, 2))
    finally:
        release.set()
        writer.join()
    assert _count(engine, "writer = 2") == 0
    assert committer.run(_insert(2, 2)) == 2  # an ordinary call still goes through


def test_no_wait_does_not_wait_for_another_process_lock(engine: Engine, tmp_path: Path) -> None:
    import sqlite3
    import time

    committer = GroupCommitter(engine)
    committer.run(_insert(0, 0))  # the committer's connection is open and warm
    other = sqlite3.connect(tmp_path / "group.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        start = time.monotonic()
        with no_wait(), pytest.raises(WouldBlock, match="locked"):
            committer.run(_insert(3, 3))
        assert time.monotonic() - start < 5  # not the 60 s busy timeout
    finally:
        other.execute("ROLLBACK")
        other.close()

    def timeout(conn: Connection) -> int:
        return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())

    assert committer.run(timeout) == 60_000  # restored for ordinary writes
    assert _count(engine, "writer = 3") == 0


def test_no_wait_refuses_every_other_transaction(engine: Engine) -> None:
    with no_wait():
        with pytest.raises(WouldBlock, match="read transaction"), read_transaction(engine):
            pass
        with pytest.raises(WouldBlock, match="write transaction"), write_transaction(engine):
            pass
