"""The Basic-auth password cache: a verified (user, password) is trusted for a while.

The official ``mlflow`` client sends the user's password with every request when
``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` are set; argon2id costs ~0.1 s of a core,
so each request cannot pay it. A success is remembered for ``ttl_ms`` under an
HMAC-SHA256 of (user, password) with a key drawn at random when the process
starts: the cache never holds the password, nor anything that would let one be
guessed offline after the process ends. Each entry also keeps a digest of the
stored hash it was verified against, so the caller can see at once that the
password was changed (by another process too) and drop the entry. Bounded:
``max_entries``, least recently used out first.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_ENTRIES = 4096


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class _Entry:
    user: str
    stored: bytes  # sha256 of the password hash (or of the LDAP source) verified against
    expires_at: int


@dataclass(slots=True)
class _Flight:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0  # threads holding or waiting for the lock


class PasswordCache:
    """Successful password checks, by HMAC of (user, password) (thread-safe)."""

    def __init__(self, ttl_ms: int, *, max_entries: int = MAX_ENTRIES) -> None:
        self._key = secrets.token_bytes(32)
        self._ttl_ms = ttl_ms
        self._max_entries = max(1, max_entries)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        # one verification at a time per (user, password)
        self._flights: dict[bytes, _Flight] = {}

    def _key_of(self, user: str, password: str) -> bytes:
        message = user.encode("utf-8") + b"\x00" + password.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def hit(self, user: str, password: str, stored_hash: str | None, now: int) -> bool:
        """Whether (user, password) was verified against ``stored_hash`` less than the
        TTL ago; an entry for another stored hash (the password changed) is dropped."""
        if self._ttl_ms <= 0:
            return False
        key = self._key_of(user, password)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry.expires_at <= now or not hmac.compare_digest(
                entry.stored, _digest(stored_hash or "")
            ):
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def remember(self, user: str, password: str, stored_hash: str | None, now: int) -> None:
        """Trust (user, password), verified against ``stored_hash``, for the TTL."""
        if self._ttl_ms <= 0:
            return
        key = self._key_of(user, password)
        entry = _Entry(user, _digest(stored_hash or ""), now + self._ttl_ms)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    @contextlib.contextmanager
    def single_flight(self, user: str, password: str) -> Iterator[None]:
        """Let one thread at a time verify (user, password): when a client sends a
        burst of requests with a password not cached yet, one pays argon2 and the
        others, waiting here, find its entry (``hit``) instead of paying it too."""
        key = self._key_of(user, password)
        with self._lock:
            flight = self._flights.setdefault(key, _Flight())
            flight.users += 1
        try:
            with flight.lock:
                yield
        finally:
            with self._lock:
                flight.users -= 1
                if flight.users == 0:
                    del self._flights[key]

    def forget_user(self, user: str) -> None:
        """Drop every entry of ``user`` (password set, user disabled)."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.user == user]:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


__all__ = ["MAX_ENTRIES", "PasswordCache"]
