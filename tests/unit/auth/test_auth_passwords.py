"""argon2id hashing, the verification gate, generated passwords."""

from __future__ import annotations

import threading
import time

import pytest

from kiln.auth.passwords import (
    HashGate,
    burn_verification,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_and_verify() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct hors")
    assert not verify_password(stored, "")
    assert not needs_rehash(stored)
    assert hash_password("correct horse") != stored  # salted


def test_unreadable_or_missing_hashes_never_verify() -> None:
    assert not verify_password(None, "x")
    assert not verify_password("", "")
    assert not verify_password("not-a-hash", "x")
    assert needs_rehash("not-a-hash")


def test_weaker_hashes_need_a_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert verify_password(weak, "pw")
    assert needs_rehash(weak)


def test_an_unknown_user_costs_a_verification() -> None:
    stored = hash_password("pw")
    started = time.perf_counter()
    verify_password(stored, "wrong")
    one = time.perf_counter() - started
    started = time.perf_counter()
    burn_verification("wrong")
    burned = time.perf_counter() - started
    assert burned > one / 4  # same argon2 work, not an early return


def test_the_gate_bounds_concurrent_verifications() -> None:
    """While every slot is held, a verification waits; it runs once one is free."""
    gate = HashGate(1)
    stored = hash_password("pw")
    answers: list[bool] = []
    waiting = threading.Thread(
        target=lambda: answers.append(verify_password(stored, "pw", gate=gate))
    )
    with gate:
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()
        assert answers == []
    waiting.join(timeout=20)
    assert answers == [True]


def test_generated_passwords() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 20 and p.isalnum() for p in passwords)
    with pytest.raises(ValueError, match="at least 20"):
        generate_password(12)
