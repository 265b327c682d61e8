"""The failed-login throttle: after ``max_failures`` wrong passwords for one user
name within ``window`` seconds, that name's logins are refused with
``TooManyRequests`` (429) until the oldest of those failures leaves the window.

Counted per user name (known or not, so the answer tells nothing), not per
client address: a password-guessing flood against one account is slowed whatever
its source, and every other user logs in as before. A success clears the name's
failures. Names are counted case-folded: a directory finds ``BOB`` as ``bob``, so
spellings in another case must not each get their own failures. Memory is
bounded: at most ``max_names`` names are tracked; when full, names whose failures
have expired go first, then the least recently failed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from kiln.errors import TooManyRequests

MAX_TRACKED_NAMES = 10_000


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class LoginThrottle:
    """Failed logins per user name in a sliding window (thread-safe)."""

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        *,
        max_names: int = MAX_TRACKED_NAMES,
        clock: Callable[[], int] = _monotonic_ms,
    ) -> None:
        self._max_failures = max(1, max_failures)
        self._window_ms = int(window_seconds * 1000)
        self._max_names = max(1, max_names)
        self._clock = clock
        self._lock = threading.Lock()
        # name -> times (ms) of its recent failures, oldest first; least recently failed first
        self._failures: OrderedDict[str, deque[int]] = OrderedDict()

    @staticmethod
    def _key(name: str) -> str:
        return name.casefold()

    def _recent(self, name: str, now: int) -> deque[int] | None:
        times = self._failures.get(name)
        if times is None:
            return None
        while times and times[0] <= now - self._window_ms:
            times.popleft()
        if not times:
            del self._failures[name]
            return None
        return times

    def retry_after(self, name: str) -> int | None:
        """Seconds until ``name`` may try again (for ``Retry-After``); None when it
        may now."""
        name = self._key(name)
        with self._lock:
            now = self._clock()
            times = self._recent(name, now)
            if times is None or len(times) < self._max_failures:
                return None
            return max(1, math.ceil((times[0] + self._window_ms - now) / 1000))

    def check(self, name: str) -> None:
        """Raise ``TooManyRequests`` when ``name`` has used up its failures.

        Raises: TooManyRequests, saying after how many seconds to try again.
        """
        wait_s = self.retry_after(name)
        if wait_s is not None:
            raise TooManyRequests(
                f"Too many failed logins for user {name!r}; try again in {wait_s} seconds."
            )

    def attempt(self, name: str) -> None:
        """Count a password check of ``name`` as a failure before it runs (``success``
        clears it, ``refund`` takes it back), refusing it when ``name`` has used up
        its failures: counted only afterwards, checks sent at once would all pass.

        Raises: TooManyRequests, as ``check``.
        """
        key = self._key(name)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if times is not None and len(times) >= self._max_failures:
                wait_s = max(1, math.ceil((times[0] + self._window_ms - now) / 1000))
                raise TooManyRequests(
                    f"Too many failed logins for user {name!r}; try again in {wait_s} seconds."
                )
            if times is None:
                self._make_room(now)
                times = self._failures[key] = deque(maxlen=self._max_failures)
            times.append(now)
            self._failures.move_to_end(key)

    def refund(self, name: str) -> None:
        """Take back one ``attempt`` of ``name`` that was not a wrong password."""
        key = self._key(name)
        with self._lock:
            times = self._failures.get(key)
            if times:
                times.pop()
                if not times:
                    del self._failures[key]

    def failure(self, name: str) -> None:
        """Count one failed login of ``name``."""
        name = self._key(name)
        with self._lock:
            now = self._clock()
            times = self._recent(name, now)
            if times is None:
                self._make_room(now)
                times = self._failures[name] = deque(maxlen=self._max_failures)
            times.append(now)
            self._failures.move_to_end(name)

    def success(self, name: str) -> None:
        """Forget ``name``'s failures (it proved its password)."""
        with self._lock:
            self._failures.pop(self._key(name), None)

    def tracked(self) -> int:
        """How many names have failures on record (for tests and metrics)."""
        with self._lock:
            return len(self._failures)

    def _make_room(self, now: int) -> None:
        if len(self._failures) < self._max_names:
            return
        for name in list(self._failures):
            self._recent(name, now)  # drops the name when its failures have expired
        while len(self._failures) >= self._max_names:
            self._failures.popitem(last=False)


__all__ = ["MAX_TRACKED_NAMES", "LoginThrottle"]
