"""Background work: slow logging that need not hold up the caller (autolog's plots).

``run_later(task, what)`` queues a callable; one daemon thread per process runs the
queue in order. ``wait()`` returns once everything queued so far has run; it is
called by ``kiln.end_run()`` and ``kiln.flush_async_logging()`` (through
``kiln.tracking.async_logging.pending_failure``), before a ``KilnClient`` lists
or downloads artifacts (so a process reads back what it logged), and at
interpreter exit. A task that raises is logged (logger
``kiln.tracking.background``, naming ``what``) when it happens: reported, never
silently dropped, and never raised into the caller's unrelated code. Inside
``not_waited()`` the calling thread does not wait (autolog ending its own run);
inside ``held()`` its tasks start only when the block ends (autolog's fit returning).

A task must own its inputs (copies or values computed before it was queued): the
caller goes on and may change its objects.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_logger = logging.getLogger(__name__)
_local = threading.local()


class _Worker:
    """The queue, its thread, and a counter of tasks queued and done."""

    def __init__(self) -> None:
        self.tasks: deque[tuple[int, Callable[[], None], str]] = deque()
        self.cond = threading.Condition()
        self.queued = 0
        self.done = 0
        self.thread: threading.Thread | None = None

    def submit(self, task: Callable[[], None], what: str) -> None:
        with self.cond:
            self.queued += 1
            self.tasks.append((self.queued, task, what))
            self.cond.notify_all()
            if self.thread is None or not self.thread.is_alive():
                self._start()

    def _start(self) -> None:
        try:
            thread = threading.Thread(target=self._work, name="kiln-background", daemon=True)
            thread.start()
        except RuntimeError:  # interpreter shutdown: wait() runs the tasks itself
            return
        self.thread = thread

    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.tasks:
                    self.cond.wait()
            self._run_one()

    def _run_one(self) -> bool:
        """Run the oldest task (if any); False when the queue was empty."""
        with self.cond:
            if not self.tasks:
                return False
            seq, task, what = self.tasks.popleft()
        try:
            task()
        except Exception:
            _logger.exception("background logging failed: %s was not logged", what)
        with self.cond:
            self.done = max(self.done, seq)
            self.cond.notify_all()
        return True

    def wait(self) -> None:
        if threading.current_thread() is self.thread:
            return  # a task reading back: it is the queue
        with self.cond:
            target = self.queued
            while self.done < target:
                if self.thread is not None and self.thread.is_alive():
                    self.cond.wait(timeout=1.0)
                    continue
                self.cond.release()  # no worker (interpreter exit): run them here
                try:
                    ran = self._run_one()
                finally:
                    self.cond.acquire()
                if not ran:  # nothing left: the thread died inside a task
                    return


class _Process:
    worker: _Worker | None = None
    lock = threading.Lock()
    hooked = False


def _worker() -> _Worker:
    with _Process.lock:
        if _Process.worker is None:
            _Process.worker = _Worker()
        if not _Process.hooked:
            _Process.hooked = True
            atexit.register(wait)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forget_in_child)
        return _Process.worker


def _forget_in_child() -> None:
    """A forked child starts empty: the parent's tasks are the parent's to run."""
    _Process.worker = None
    _Process.lock = threading.Lock()


def run_later(task: Callable[[], None], what: str) -> None:
    """Queue ``task`` for the background thread; ``what`` names it in a failure."""
    pending: list[tuple[Callable[[], None], str]] | None = getattr(_local, "held", None)
    if pending is not None:
        pending.append((task, what))
    else:
        _worker().submit(task, what)


def _release() -> None:
    pending: list[tuple[Callable[[], None], str]] | None = getattr(_local, "held", None)
    while pending:
        task, what = pending.pop(0)
        _worker().submit(task, what)


@contextmanager
def held() -> Iterator[None]:
    """Tasks this thread queues meanwhile start when it ends (or at a ``wait()``).

    Autolog holds its plots until the fit returns: drawn meanwhile, they would take
    the GIL from the rest of the fit's own logging.
    """
    if getattr(_local, "held", None) is not None:  # nested: the outer one releases
        yield
        return
    _local.held = []
    try:
        yield
    finally:
        _release()
        _local.held = None


def wait() -> None:
    """Block until every task queued so far (held ones included) has run; no-op when
    none was, or inside ``not_waited``."""
    if getattr(_local, "not_waited", False):
        return
    _release()
    worker = _Process.worker
    if worker is not None:
        worker.wait()


@contextmanager
def not_waited() -> Iterator[None]:
    """``wait()`` returns at once on this thread meanwhile: autolog ends the run it
    started for a fit without waiting for that fit's own plots (they are still
    stored before the next ``end_run``, flush, artifact read or exit)."""
    before = getattr(_local, "not_waited", False)
    _local.not_waited = True
    try:
        yield
    finally:
        _local.not_waited = before


__all__ = ["held", "not_waited", "run_later", "wait"]
