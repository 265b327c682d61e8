"""API token and session secrets: how they look, and what the stores keep of them.

A token is ``kiln_pat_`` + 43 base62 characters (32 random bytes, 256 bits) + 6
base62 characters of the CRC32 of those 43. The prefix lets secret scanners find
a leaked token and lets the server tell a token from a password in Basic auth;
the checksum refuses a mistyped or made-up token before any database lookup. A
session secret is the same 49 characters without the prefix. The stores keep only
the sha256 hex digest of a secret (``token_hash``): 256 random bits need no slow
hash, and the lookup by digest is one indexed read.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

TOKEN_PREFIX = "kiln_pat_"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
SECRET_LENGTH = BODY_LENGTH + CHECKSUM_LENGTH
TOKEN_LENGTH = len(TOKEN_PREFIX) + SECRET_LENGTH

_SECRET = re.compile(f"[0-9A-Za-z]{{{SECRET_LENGTH}}}")


def _base62(number: int, width: int) -> str:
    """``number`` in base62, left-padded with '0' to ``width`` characters."""
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    if len(digits) > width:
        raise ValueError(f"{width} base62 characters cannot hold the number")
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def _new_secret() -> str:
    body = _base62(int.from_bytes(secrets.token_bytes(32), "big"), BODY_LENGTH)
    return body + _checksum(body)


def _well_formed(secret: str) -> bool:
    if _SECRET.fullmatch(secret) is None:
        return False
    body, checksum = secret[:BODY_LENGTH], secret[BODY_LENGTH:]
    return secrets.compare_digest(_checksum(body), checksum)


def token_hash(secret: str) -> str:
    """The sha256 hex digest of a token or session secret: what the stores keep."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A new API token: ``(secret, token_hash(secret))``; the secret is shown once."""
    secret = TOKEN_PREFIX + _new_secret()
    return secret, token_hash(secret)


def looks_like_token(text: str) -> bool:
    """Whether ``text`` is a well-formed ``kiln_pat_`` token (prefix, length,
    alphabet and checksum); a typo or a password answers False without a lookup."""
    if not text.startswith(TOKEN_PREFIX):
        return False
    return _well_formed(text[len(TOKEN_PREFIX) :])


def new_session_secret() -> tuple[str, str]:
    """A new login session secret: ``(secret, token_hash(secret))``."""
    secret = _new_secret()
    return secret, token_hash(secret)


def looks_like_session_secret(text: str) -> bool:
    """Whether ``text`` is a well-formed session secret (49 base62 characters with a
    good checksum)."""
    return _well_formed(text)


def new_public_id() -> str:
    """A token's or session's public id (listings, ``kiln tokens revoke ID``, the
    audit log): 16 hex characters, no secret."""
    return secrets.token_hex(8)


__all__ = [
    "BASE62",
    "SECRET_LENGTH",
    "TOKEN_LENGTH",
    "TOKEN_PREFIX",
    "looks_like_session_secret",
    "looks_like_token",
    "new_public_id",
    "new_session_secret",
    "new_token",
    "token_hash",
]
