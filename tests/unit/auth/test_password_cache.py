"""The Basic-auth success cache: HMAC keys, TTL, bounded, invalidated by a new hash."""

from __future__ import annotations

import pickle

from kiln.auth.pwcache import PasswordCache


def test_ttl_and_stored_hash() -> None:
    cache = PasswordCache(1000)
    cache.remember("alice", "pw-alice-1", "$hash1", now=0)
    assert cache.hit("alice", "pw-alice-1", "$hash1", now=999)
    assert not cache.hit("alice", "pw-alice-1", "$hash1", now=1000)  # expired, and gone
    assert len(cache) == 0
    cache.remember("alice", "pw-alice-1", "$hash1", now=0)
    assert not cache.hit("alice", "wrong", "$hash1", now=1)
    assert not cache.hit("bob", "pw-alice-1", "$hash1", now=1)
    assert not cache.hit("alice", "pw-alice-1", "$hash2", now=1)  # password changed elsewhere
    assert len(cache) == 0


def test_user_and_password_are_not_confusable() -> None:
    cache = PasswordCache(1000)
    cache.remember("ab", "c-password", None, now=0)
    assert not cache.hit("a", "bc-password", None, now=1)


def test_bounded_and_forgets_a_user() -> None:
    cache = PasswordCache(1000, max_entries=10)
    for index in range(50):
        cache.remember(f"user{index}", "password", None, now=0)
    assert len(cache) == 10
    assert cache.hit("user49", "password", None, now=1)
    assert not cache.hit("user0", "password", None, now=1)
    cache.forget_user("user49")
    assert not cache.hit("user49", "password", None, now=1)


def test_disabled_by_a_zero_ttl() -> None:
    cache = PasswordCache(0)
    cache.remember("alice", "pw-alice-1", None, now=0)
    assert not cache.hit("alice", "pw-alice-1", None, now=0)


def test_the_password_is_not_kept() -> None:
    cache = PasswordCache(1000)
    cache.remember("alice", "pw-alice-secret", "$hash1", now=0)
    state = pickle.dumps(list(cache._entries.items()))
    assert b"pw-alice-secret" not in state
    assert b"$hash1" not in state  # only a digest of the stored hash
