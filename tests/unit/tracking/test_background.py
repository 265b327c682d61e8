"""Background tasks (``kiln.tracking.background``): waited for by end_run, flush,
artifact reads and exit; a failure is logged, never raised into the caller."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import kiln
from kiln.tracking import background
from kiln.tracking.client import KilnClient


def _held() -> tuple[threading.Event, list[str]]:
    """Queue a task that waits for the returned event, so later tasks stay queued."""
    gate = threading.Event()
    done: list[str] = []

    def hold() -> None:
        gate.wait(timeout=30)
        done.append("held")

    background.run_later(hold, "a held task")
    return gate, done


def _release_soon(gate: threading.Event) -> None:
    threading.Timer(0.2, gate.set).start()


def test_flush_async_logging_waits_for_queued_tasks(tracking: KilnClient) -> None:
    gate, done = _held()
    background.run_later(lambda: done.append("second"), "a second task")
    assert done == []  # still queued behind the held one
    _release_soon(gate)
    kiln.flush_async_logging()
    assert done == ["held", "second"]


def test_end_run_waits_for_queued_tasks(tracking: KilnClient) -> None:
    kiln.start_run()
    gate, done = _held()
    _release_soon(gate)
    kiln.end_run()
    assert done == ["held"]


def test_listing_artifacts_waits_for_a_queued_upload(tracking: KilnClient) -> None:
    run_id = tracking.create_run("0").info.run_id
    gate, _ = _held()
    background.run_later(lambda: tracking.log_text(run_id, "hi", "late.txt"), "late.txt")
    _release_soon(gate)
    assert [f.path for f in tracking.list_artifacts(run_id)] == ["late.txt"]


def test_a_failing_task_is_logged_and_the_next_still_runs(
    tracking: KilnClient, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[str] = []

    def fail() -> None:
        raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="kiln.tracking.background"):
        background.run_later(fail, "the plots of run abc")
        background.run_later(lambda: done.append("next"), "the next task")
        kiln.flush_async_logging()  # not raised here: the failure was reported when it happened
    assert done == ["next"]
    (record,) = caplog.records
    assert record.getMessage() == "background logging failed: the plots of run abc was not logged"
    assert "disk full" in caplog.text  # the traceback comes with it


def test_interpreter_exit_runs_what_is_still_queued(tmp_path: Path) -> None:
    marker = tmp_path / "done.txt"
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from kiln.tracking import background

        def slow():
            time.sleep(0.5)
            Path({str(marker)!r}).write_text("stored")

        background.run_later(slow, "a slow task")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert marker.read_text() == "stored"


def test_held_tasks_start_only_when_the_block_ends(tracking: KilnClient) -> None:
    done: list[str] = []
    with background.held():
        background.run_later(lambda: done.append("plots"), "held plots")
        threading.Event().wait(0.2)  # a worker would have run it by now
        assert done == []
    kiln.flush_async_logging()
    assert done == ["plots"]


def test_a_wait_inside_a_held_block_releases_what_it_holds(tracking: KilnClient) -> None:
    done: list[str] = []
    with background.held():
        background.run_later(lambda: done.append("plots"), "held plots")
        kiln.flush_async_logging()
        assert done == ["plots"]


def test_not_waited_returns_at_once(tracking: KilnClient) -> None:
    gate, done = _held()
    with background.not_waited():
        kiln.flush_async_logging()
    assert done == []
    gate.set()
    kiln.flush_async_logging()
    assert done == ["held"]
