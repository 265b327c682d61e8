"""Token and session secrets: format, checksum, and what the stores keep."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.auth.tokens import (
    BASE62,
    SECRET_LENGTH,
    TOKEN_LENGTH,
    TOKEN_PREFIX,
    looks_like_session_secret,
    looks_like_token,
    new_public_id,
    new_session_secret,
    new_token,
    token_hash,
)

PROPERTY = settings(max_examples=300, deadline=None, database=None)


def test_a_token_is_prefix_body_and_checksum() -> None:
    secret, digest = new_token()
    assert secret.startswith("kiln_pat_")
    assert len(secret) == TOKEN_LENGTH == len("kiln_pat_") + 43 + 6
    assert set(secret[len(TOKEN_PREFIX) :]) <= set(BASE62)
    assert digest == hashlib.sha256(secret.encode()).hexdigest() == token_hash(secret)
    assert looks_like_token(secret)
    assert not looks_like_session_secret(secret)


def test_tokens_are_new_each_time() -> None:
    secrets = {new_token()[0] for _ in range(200)}
    assert len(secrets) == 200
    # 256 random bits: the first body characters vary too (no fixed padding leaks)
    assert len({s[len(TOKEN_PREFIX)] for s in secrets}) > 10


def test_a_session_secret_has_no_prefix() -> None:
    secret, digest = new_session_secret()
    assert len(secret) == SECRET_LENGTH
    assert looks_like_session_secret(secret)
    assert not looks_like_token(secret)
    assert digest == token_hash(secret)


@PROPERTY
@given(st.data())
def test_any_one_character_typo_is_refused(data: st.DataObject) -> None:
    secret, _ = new_token()
    position = data.draw(st.integers(len(TOKEN_PREFIX), len(secret) - 1))
    shift = data.draw(st.integers(1, 61))  # another base62 character, whatever the secret
    replacement = BASE62[(BASE62.index(secret[position]) + shift) % 62]
    typo = secret[:position] + replacement + secret[position + 1 :]
    assert not looks_like_token(typo)


@PROPERTY
@given(st.data())
def test_two_swapped_characters_are_refused(data: st.DataObject) -> None:
    secret, _ = new_token()
    i = data.draw(st.integers(len(TOKEN_PREFIX), len(secret) - 2))
    if secret[i] == secret[i + 1]:
        return
    swapped = secret[:i] + secret[i + 1] + secret[i] + secret[i + 2 :]
    assert not looks_like_token(swapped)


@PROPERTY
@given(st.text(max_size=80))
def test_random_text_is_not_a_token(text: str) -> None:
    assert not looks_like_token(text)
    assert not looks_like_token(TOKEN_PREFIX + text)


@PROPERTY
@given(st.text(alphabet=BASE62, min_size=SECRET_LENGTH, max_size=SECRET_LENGTH))
def test_made_up_bodies_fail_the_checksum_almost_always(body: str) -> None:
    # a made-up 49-character body passes only if its last 6 characters happen to
    # be the CRC32 of the first 43: about 1 in 4e9
    assert not looks_like_token(TOKEN_PREFIX + body)


def test_truncated_and_extended_tokens_are_refused() -> None:
    secret, _ = new_token()
    assert not looks_like_token(secret[:-1])
    assert not looks_like_token(secret + "0")
    assert not looks_like_token(" " + secret)
    assert not looks_like_token(secret.upper())


def test_public_ids_are_short_hex() -> None:
    ids = {new_public_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
