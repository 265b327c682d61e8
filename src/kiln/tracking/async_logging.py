"""Asynchronous logging: ``kiln.log_metric(..., synchronous=False)`` and its siblings.

A call made asynchronous (``synchronous=False``; or ``synchronous`` left unset after
``kiln.config.enable_async_logging()`` or with ``MLFLOW_ENABLE_ASYNC_LOGGING=true``)
is checked, queued and answered at once with a ``RunOperations``. One worker thread
per process drains the queue, merging what is queued for each run into
``log_batch`` calls within MLflow's limits (1,000 metrics, 100 params, 100 tags,
1,000 entities), in the order the calls were made.

Delivery contract:

- ``RunOperations.wait()`` returns once its own points are stored, and raises if
  any of them were not;
- ``kiln.end_run()``, ``kiln.flush_async_logging()`` and interpreter exit wait for
  everything queued; the first two raise a failure that nothing has raised yet;
- a failure is logged once (logger ``kiln.tracking.async_logging``) when it
  happens and raised as the class the store raised (``NotFound``,
  ``StoreUnavailable`` ...) with a message that names the run and what was not
  logged. A failed batch is not retried: the store refused it whole, or could
  not be reached. Batches the store accepted stay stored.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiln.config import async_logging_from_env
from kiln.entities import Metric, Param, RunTag
from kiln.errors import KilnError
from kiln.store.rules.tracking import validate_metric, validate_param, validate_tag
from kiln.tracking import background
from kiln.tracking.batching import Batch, batches

if TYPE_CHECKING:
    from kiln.tracking.client import KilnClient

_logger = logging.getLogger(__name__)

MAX_PENDING = 500_000  # queued calls before a caller waits for the worker (bounds memory)
_DRAIN_MAX = 10_000  # calls merged per round, so that wait() returns as its points land

# (seq, client, run_id, metrics, params, tags): one call. A plain tuple, built on the
# caller's thread for every point, is the cheapest record Python has.
_Op = tuple[int, "KilnClient", str, Sequence[Metric], Sequence[Param], Sequence[RunTag]]


class RunOperations:
    """What an asynchronous call answers (MLflow's ``RunOperations``)."""

    __slots__ = ("_queue", "_seqs")

    def __init__(self, queue: LoggingQueue, seqs: Collection[int]) -> None:
        self._queue = queue
        self._seqs = seqs

    def wait(self) -> None:
        """Block until this call's points are stored.

        Raises:
            KilnError: (the store's own class) some of them were not logged.
        """
        if self._seqs:
            self._queue.wait(self._seqs)


@dataclass(slots=True)
class _Failure:
    """Batches of one run that failed alike, and whether a caller was told."""

    run_id: str
    error: Exception
    seqs: set[int]
    counts: list[int]  # metrics, params, tags not logged
    raised: bool = False

    def absorb(self, batch: Batch) -> None:
        self.seqs.update(batch.seqs)
        self.counts = [a + b for a, b in zip(self.counts, _counts(batch), strict=True)]

    def describe(self) -> str:
        nouns = ("metric", "param", "tag")
        what = ", ".join(
            f"{n} {noun}{'s' if n > 1 else ''}"
            for n, noun in zip(self.counts, nouns, strict=True)
            if n
        )
        return (
            f"asynchronous logging to run {self.run_id} failed; {what or 'calls'} not logged: "
            f"{self.error}"
        )


def _counts(batch: Batch) -> list[int]:
    return [len(batch.metrics), len(batch.params), len(batch.tags)]


def _as_error(failures: list[_Failure]) -> KilnError:
    """One exception for ``failures``: the first one's class, every count in the message."""
    first = failures[0]
    message = first.describe()
    if len(failures) > 1:
        message += f" (and {len(failures) - 1} more failures, each logged when it happened)"
    cls = type(first.error) if isinstance(first.error, KilnError) else KilnError
    try:
        error = cls(message)
    except Exception:  # a class with another constructor: keep the message, lose the class
        error = KilnError(message)
    error.__cause__ = first.error
    return error


class LoggingQueue:
    """The process's queue of asynchronous calls and the worker thread that sends them."""

    def __init__(self) -> None:
        self._ops: deque[_Op] = deque()
        self._lock = threading.Lock()  # numbers calls in the order they enter the queue
        self._last = 0  # seq of the last call queued
        self._done = 0  # every call up to this seq has been sent (or failed)
        self._cond = threading.Condition()  # guards _done and _failures
        self._wake = threading.Event()
        self._failures: list[_Failure] = []
        self._thread: threading.Thread | None = None
        self._worker_alive()

    def submit(
        self,
        client: KilnClient,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> RunOperations:
        """Queue one call's points (checked here, so one bad key fails its own call)."""
        for metric in metrics:
            validate_metric(metric)
        for param in params:
            validate_param(param)
        for tag in tags:
            validate_tag(tag)
        with self._lock:
            self._last = seq = self._last + 1
            self._ops.append((seq, client, run_id, metrics, params, tags))
        if not self._wake.is_set():
            self._wake.set()
        if len(self._ops) > MAX_PENDING:
            self._wait_done(seq - MAX_PENDING // 2)
        return RunOperations(self, (seq,))

    def wait(self, seqs: Collection[int]) -> None:
        """Wait for the calls ``seqs``; raise if any of their points were not logged."""
        self._wait_done(max(seqs))
        with self._cond:
            mine = [f for f in self._failures if not f.seqs.isdisjoint(seqs)]
            for failure in mine:
                failure.raised = True
        if mine:
            raise _as_error(mine)

    def flush(self) -> KilnError | None:
        """Wait for every call queued so far; answer (not raise) the failures no one raised."""
        with self._lock:
            last = self._last
        self._wait_done(last)
        with self._cond:
            untold = [f for f in self._failures if not f.raised]
            for failure in untold:
                failure.raised = True
        return _as_error(untold) if untold else None

    def _wait_done(self, seq: int) -> None:
        with self._cond:
            while self._done < seq:
                if self._worker_alive():
                    self._cond.wait(timeout=1.0)
                    continue
                self._cond.release()  # no worker (exit, fork): send from this thread
                try:
                    self._drain()
                finally:
                    self._cond.acquire()

    def _worker_alive(self) -> bool:
        if self._thread is not None and self._thread.is_alive():
            return True
        try:
            thread = threading.Thread(target=self._work, name="kiln-async-logging", daemon=True)
            thread.start()
        except RuntimeError:  # interpreter shutdown: no new threads
            return False
        self._thread = thread
        return True

    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        while self._ops:
            ops: list[_Op] = []
            popleft = self._ops.popleft
            try:
                for _ in range(_DRAIN_MAX):
                    ops.append(popleft())
            except IndexError:
                pass
            if not ops:
                return
            try:
                self._deliver(ops)
            except Exception as exc:  # a bug must neither hang wait() nor go unreported
                self._fail(ops[0][2], exc, Batch(seqs=[op[0] for op in ops]))
            with self._cond:
                self._done = max(self._done, ops[-1][0])
                self._cond.notify_all()

    def _deliver(self, ops: list[_Op]) -> None:
        runs: dict[tuple[KilnClient, str], list[_Op]] = {}
        for op in ops:
            runs.setdefault((op[1], op[2]), []).append(op)
        for (client, run_id), run_ops in runs.items():
            for batch in batches((op[0], op[3], op[4], op[5]) for op in run_ops):
                try:
                    client.log_batch(run_id, batch.metrics, batch.params, batch.tags)
                except Exception as exc:  # reported to the caller, never dropped
                    self._fail(run_id, exc, batch)

    def _fail(self, run_id: str, error: Exception, batch: Batch) -> None:
        with self._cond:
            last = self._failures[-1] if self._failures else None
            if (
                last is not None
                and not last.raised
                and last.run_id == run_id
                and type(last.error) is type(error)
                and str(last.error) == str(error)
            ):
                last.absorb(batch)  # the same failure again: logged once already
                return
            failure = _Failure(run_id, error, set(batch.seqs), _counts(batch))
            self._failures.append(failure)
        _logger.error("%s", failure.describe())


class _Process:
    """The process-wide parts: the queue (made on first use) and the default mode."""

    def __init__(self) -> None:
        self.queue: LoggingQueue | None = None
        self.default: bool | None = None  # set by enable_async_logging; None: the env
        self.lock = threading.Lock()
        self.exit_hook = False


_process = _Process()


def _queue() -> LoggingQueue:
    queue = _process.queue
    if queue is None:
        with _process.lock:
            queue = _process.queue
            if queue is None:
                queue = _process.queue = LoggingQueue()
            if not _process.exit_hook:
                _process.exit_hook = True
                atexit.register(_flush_at_exit)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_forget_in_child)
    return queue


def _flush_at_exit() -> None:
    """Send what is queued before the interpreter goes (failures were logged)."""
    queue = _process.queue
    if queue is not None:
        queue.flush()


def _forget_in_child() -> None:
    """A forked child starts empty: the parent's queue is the parent's to send."""
    _process.queue = None
    _process.lock = threading.Lock()  # another thread may have held it at the fork


def set_default(enable: bool | None) -> None:
    """Make calls that leave ``synchronous`` unset asynchronous (or not), process-wide;
    None goes back to ``MLFLOW_ENABLE_ASYNC_LOGGING``."""
    _process.default = None if enable is None else bool(enable)


def is_async(synchronous: bool | None) -> bool:
    """Whether a call with this ``synchronous`` argument is queued."""
    if synchronous is not None:
        return not synchronous
    if _process.default is not None:
        return _process.default
    return async_logging_from_env()


def submit(
    client: KilnClient,
    run_id: str,
    metrics: Sequence[Metric] = (),
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> RunOperations:
    """Queue a call for ``run_id`` on ``client``'s store (see ``LoggingQueue.submit``)."""
    return _queue().submit(client, run_id, metrics, params, tags)


def send(
    client: KilnClient,
    run_id: str,
    synchronous: bool | None,
    metrics: Sequence[Metric] = (),
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> RunOperations | None:
    """Queue the call, or log it now in batches within the limits (``synchronous``)."""
    if is_async(synchronous):
        return submit(client, run_id, metrics, params, tags)
    for batch in batches([(0, metrics, params, tags)]):
        client.log_batch(run_id, batch.metrics, batch.params, batch.tags)
    return None


def pending_failure() -> KilnError | None:
    """Wait for everything queued (and ``kiln.tracking.background``'s tasks); answer a
    failure not raised yet (for ``end_run``)."""
    background.wait()
    queue = _process.queue
    return queue.flush() if queue is not None else None


def flush_async_logging() -> None:
    """Wait until every asynchronous call so far is logged (``mlflow.flush_async_logging``).

    Raises:
        KilnError: (the store's own class) something queued was not logged and
            nothing has raised it yet.
    """
    failure = pending_failure()
    if failure is not None:
        raise failure


__all__ = [
    "MAX_PENDING",
    "LoggingQueue",
    "RunOperations",
    "flush_async_logging",
    "is_async",
    "pending_failure",
    "send",
    "set_default",
    "submit",
]
