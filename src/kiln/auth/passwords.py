"""Password hashing: argon2id with argon2-cffi's defaults (RFC 9106's low-memory
profile: t=3, m=64 MiB, p=4), and a gate on how many verifications run at once.

One verification takes a core for ~0.1 s and 64 MiB, by design; the gate
(``HashGate``, sized by ``AuthSettings.max_concurrent_hashes``) makes a flood of
logins queue instead of taking every core and all the memory of the server, and
refuses (429) what would queue beyond ``WAITING_PER_SLOT`` per slot: each waiter
holds one of the server's handler threads, and a flood needing no account must
not hold them all (token requests would wait behind it).
Hashes carry their parameters (``$argon2id$v=19$m=...``), so stronger defaults
later only need ``needs_rehash`` at the next successful login.
"""

from __future__ import annotations

import functools
import secrets
import string
import threading
from types import TracebackType

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kiln.errors import InvalidInput, TooManyRequests

_HASHER = PasswordHasher()


_ALPHABET = string.ascii_letters + string.digits
GENERATED_PASSWORD_LENGTH = 24
# password checks that may wait for the gate, per check it runs at once
WAITING_PER_SLOT = 2
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024


class HashGate:
    """At most ``limit`` hashes or verifications at once across threads; up to
    ``WAITING_PER_SLOT * limit`` others wait, the rest are refused (a context manager).

    Raises (entering): TooManyRequests when too many already wait.
    """

    def __init__(self, limit: int) -> None:
        self._semaphore = threading.BoundedSemaphore(max(1, limit))
        self._max_waiting = WAITING_PER_SLOT * max(1, limit)
        self._waiting = 0
        self._lock = threading.Lock()

    def __enter__(self) -> HashGate:
        if self._semaphore.acquire(blocking=False):
            return self
        with self._lock:
            if self._waiting >= self._max_waiting:
                raise TooManyRequests(
                    "The server is busy checking other passwords; try again shortly "
                    "(an API token skips the password check)."
                )
            self._waiting += 1
        try:
            self._semaphore.acquire()
        finally:
            with self._lock:
                self._waiting -= 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._semaphore.release()


_DEFAULT_GATE = HashGate(4)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when a user is unknown, disabled or has no password, so that
    a wrong name takes as long as a wrong password (a login must not tell them
    apart); made on first use, not at import (the CLI imports this module)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str, *, gate: HashGate | None = None) -> str:
    """The argon2id hash of ``password`` (salted; a PHC string with its parameters)."""
    with gate or _DEFAULT_GATE:
        return _HASHER.hash(password)


def verify_password(
    password_hash: str | None, password: str, *, gate: HashGate | None = None
) -> bool:
    """Whether ``password`` matches ``password_hash``; False (after the same work)
    for None or a hash that cannot be read, never an error."""
    with gate or _DEFAULT_GATE:
        try:
            return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def burn_verification(password: str, *, gate: HashGate | None = None) -> None:
    """Spend one verification's time on nothing: the answer for an unknown user."""
    verify_password(None, password, gate=gate)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's defaults."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def check_password_rules(password: str) -> str:
    """``password`` when a new password may be it: 8 to 1024 characters.

    Raises: InvalidInput saying which rule it breaks (never echoing it).
    """
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters "
            f"(this one has {len(password)})"
        )
    return password


def generate_password(length: int = GENERATED_PASSWORD_LENGTH) -> str:
    """A one-time random password (letters and digits, ~143 bits at 24 characters)
    that an admin hands over once; it is never stored, only its hash."""
    if length < 20:
        raise ValueError("a generated password has at least 20 characters")
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


__all__ = [
    "GENERATED_PASSWORD_LENGTH",
    "HashGate",
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "burn_verification",
    "check_password_rules",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "verify_password",
]
