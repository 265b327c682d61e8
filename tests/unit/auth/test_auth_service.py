"""AuthService on the real memory stores: tokens, Basic passwords, sessions, and the
tenant and role every request acts with."""

from __future__ import annotations

import time

import pytest

from kiln.auth.principal import Identity
from kiln.auth.roles import Action
from kiln.auth.tokens import TOKEN_PREFIX
from kiln.entities.auth import Role
from kiln.errors import NotFound, PermissionDenied, TooManyRequests
from kiln.testing.auth_world import ADMIN_PASSWORD, MINUTE, World

# --- tokens -------------------------------------------------------------------------------


def test_a_token_request_costs_one_store_read(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    _, secret = world.service.create_token(world.as_user("alice", password), name="ci")
    world.store.calls.clear()
    identity = world.service.identity_for_token(secret)
    assert identity is not None
    principal = world.service.principal(identity, None)
    assert (principal.user, principal.tenant, principal.role) == ("alice", "team-a", Role.MEMBER)
    assert world.store.calls == ["token_grant", "touch_token"]  # first use is recorded
    world.store.calls.clear()
    world.clock.advance(MINUTE - 1)
    identity = world.service.identity_for_token(secret)
    assert identity is not None
    world.service.principal(identity, "team-a")
    assert world.store.calls == ["token_grant"]  # last_used_at moves once a minute at most
    world.clock.advance(1)
    world.store.calls.clear()
    world.service.identity_for_token(secret)
    assert world.store.calls == ["token_grant", "touch_token"]


def test_a_malformed_token_costs_no_lookup(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    _, secret = world.service.create_token(world.as_user("alice", password))
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    world.store.calls.clear()
    assert world.service.identity_for_token(typo) is None
    assert world.service.identity_for_token("kiln_pat_short") is None
    assert world.service.identity_for_token(ADMIN_PASSWORD) is None
    assert world.store.calls == []


def test_the_token_role_is_re_read_on_every_request(world: World) -> None:
    password = world.user("alice", "team-a", Role.PROJECT_ADMIN)
    _, secret = world.service.create_token(world.as_user("alice", password), role=Role.MEMBER)

    def role_now() -> Role | None:
        identity = world.service.identity_for_token(secret)
        assert identity is not None
        return world.service.principal(identity, None).role

    assert role_now() == Role.MEMBER  # capped by the token
    world.service.grant(world.admin, "alice", "team-a", Role.VIEWER)
    assert role_now() == Role.VIEWER  # the demotion counts at once
    world.service.revoke(world.admin, "alice", "team-a")
    with pytest.raises(NotFound, match="user 'alice' has no role in any workspace"):
        role_now()
    world.service.grant(world.admin, "alice", "team-b", Role.MEMBER)
    with pytest.raises(NotFound, match=r"^workspace 'team-a' not found$"):
        role_now()  # a role elsewhere: the token's workspace is simply not hers


def test_revoked_expired_and_disabled_tokens_stop_at_once(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    alice = world.as_user("alice", password)
    token, secret = world.service.create_token(alice, name="a")
    _, short_secret = world.service.create_token(alice, name="b", expires_in_days=1)
    assert world.service.identity_for_token(short_secret) is not None
    world.clock.advance(86_400_000)
    assert world.service.identity_for_token(short_secret) is None
    assert world.service.identity_for_token(secret) is not None
    world.service.disable_user(world.admin, "alice")
    assert world.service.identity_for_token(secret) is None
    world.service.enable_user(world.admin, "alice")
    assert world.service.identity_for_token(secret) is not None
    world.service.revoke_token(alice, token.token_id)
    assert world.service.identity_for_token(secret) is None
    assert world.actions().count("token.create") == 2
    assert world.actions().count("token.revoke") == 1  # the store writes it, once


def test_a_token_is_bound_to_its_tenant(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    world.service.grant(world.admin, "alice", "team-b", Role.MEMBER)
    _, secret = world.service.create_token(world.as_user("alice", password, "team-a"))
    identity = world.service.identity_for_token(secret)
    assert identity is not None
    with pytest.raises(
        PermissionDenied, match="this token is for workspace 'team-a', not 'team-b'"
    ):
        world.service.principal(identity, "team-b")


def test_a_token_cannot_outrank_its_creator(world: World) -> None:
    password = world.user("vera", "team-a", Role.VIEWER)
    vera = world.as_user("vera", password)
    with pytest.raises(PermissionDenied, match="role member: yours in 'team-a' is viewer"):
        world.service.create_token(vera, role=Role.MEMBER)
    token, _ = world.service.create_token(vera)
    assert token.role == Role.VIEWER
    with pytest.raises(NotFound, match="workspace 'team-b' not found"):
        world.service.create_token(vera, tenant="team-b")


def test_an_admins_tokens(world: World) -> None:
    full, full_secret = world.service.create_token(world.admin, name="admin")
    assert (full.tenant, full.role) == ("default", Role.PROJECT_ADMIN)
    identity = world.service.identity_for_token(full_secret)
    assert identity is not None
    assert world.service.principal(identity, "team-b").allows(Action.ADMIN)  # acts as admin
    _, viewer_secret = world.service.create_token(world.admin, role=Role.VIEWER)
    identity = world.service.identity_for_token(viewer_secret)
    assert identity is not None
    capped = world.service.principal(identity, None)
    assert (capped.is_admin, capped.role) == (False, Role.VIEWER)
    assert capped.allows(Action.READ)
    assert not capped.allows(Action.WRITE)
    with pytest.raises(PermissionDenied, match="not 'team-a'"):
        world.service.principal(identity, "team-a")


def test_who_may_revoke_a_token(world: World) -> None:
    alice = world.as_user("alice", world.user("alice", "team-a", Role.MEMBER))
    bob = world.as_user("bob", world.user("bob", "team-a", Role.MEMBER))
    boss = world.as_user("boss", world.user("boss", "team-a", Role.PROJECT_ADMIN))
    token, _ = world.service.create_token(alice)
    with pytest.raises(PermissionDenied, match="another user's"):
        world.service.revoke_token(bob, token.token_id)
    # from another tenant the id is not there at all (404, as an unknown id)
    outsider = world.as_user("carol", world.user("carol", "team-b", Role.PROJECT_ADMIN))
    with pytest.raises(NotFound, match="not found"):
        world.service.revoke_token(outsider, token.token_id)
    assert world.service.revoke_token(boss, token.token_id).revoked_at == world.clock.now
    with pytest.raises(NotFound, match="nope"):
        world.service.revoke_token(alice, "nope")
    assert [t.token_id for t in world.service.list_tokens(alice)] == [token.token_id]
    with pytest.raises(PermissionDenied, match="administrator"):
        world.service.list_tokens(alice, all_users=True)
    assert len(world.service.list_tokens(world.admin, all_users=True)) == 1


# --- Basic passwords ------------------------------------------------------------------------


def test_a_kiln_pat_password_is_a_token(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    _, secret = world.service.create_token(world.as_user("alice", password))
    identity = world.service.identity_for_password("anything", secret)
    assert identity is not None
    assert (identity.user, identity.via) == ("alice", "token")
    assert secret.startswith(TOKEN_PREFIX)


def test_a_verified_password_is_cached(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    started = time.perf_counter()
    assert world.service.identity_for_password("alice", password) is not None
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(10):
        assert world.service.identity_for_password("alice", password) is not None
    cached = (time.perf_counter() - started) / 10
    assert cached < first / 5, (cached, first)  # no argon2 on a hit
    assert world.service.identity_for_password("alice", password + "x") is None
    world.clock.advance(60_000)  # password_cache_seconds: verified again, still right
    assert world.service.identity_for_password("alice", password) is not None


def test_a_cached_password_request_costs_one_store_read(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    world.as_user("alice", password)  # verified once (argon2), then cached
    for tenant in (None, "team-a"):  # the only membership's tenant, or the one named
        world.store.calls.clear()
        principal = world.as_user("alice", password, tenant)
        assert (principal.tenant, principal.role) == ("team-a", Role.MEMBER)
        assert world.store.calls == ["password_grant"]
    world.service.grant(world.admin, "alice", "team-a", Role.VIEWER)
    assert world.as_user("alice", password).role == Role.VIEWER  # current on every request


def test_a_new_password_ends_the_old_one_at_once(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    assert world.service.identity_for_password("alice", password) is not None
    new = world.service.set_password(world.admin, "alice")
    assert new is not None
    assert world.service.identity_for_password("alice", password) is None
    assert world.service.identity_for_password("alice", new) is not None
    # changed by another process (another service on the same store): the cached entry
    # was verified against another hash, so it stops too
    from kiln.auth.passwords import hash_password

    world.store.inner.set_password_hash("alice", hash_password("elsewhere-1"))
    assert world.service.identity_for_password("alice", new) is None
    assert world.service.identity_for_password("alice", "elsewhere-1") is not None


def test_a_disabled_user_stops_at_once(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    assert world.service.identity_for_password("alice", password) is not None
    world.store.inner.set_user_flags("alice", disabled=True)  # not through the service
    assert world.service.identity_for_password("alice", password) is None


def test_failed_logins_throttle_that_user_only(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    bob = world.user("bob", "team-a", Role.MEMBER)
    for _ in range(3):
        assert world.service.identity_for_password("alice", "wrong-password") is None
    with pytest.raises(TooManyRequests, match="user 'alice'; try again in 60 seconds"):
        world.service.identity_for_password("alice", password)
    assert world.service.identity_for_password("bob", bob) is not None
    assert world.service.throttle.retry_after("alice") == 60
    world.clock.advance(60_000)
    assert world.service.identity_for_password("alice", password) is not None
    failed = [e for e in world.audit.list_events().items if e.action == "auth.login_failed"]
    assert [(e.actor, e.resource) for e in failed] == [("alice", "user:alice")] * 3


def test_unknown_users_and_bad_names_get_no_identity(world: World) -> None:
    assert world.service.identity_for_password("nobody", "whatever-1") is None
    assert world.service.identity_for_password("-rf", "whatever-1") is None
    assert world.service.identity_for_password("", "") is None
    assert world.actions().count("auth.login_failed") == 1  # bad names are not logged


# --- the tenant and role of a request --------------------------------------------------------


def test_the_tenant_is_the_requested_then_the_only_membership_then_default(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    identity = world.service.identity_for_password("alice", password)
    assert identity is not None
    assert world.service.principal(identity, None).tenant == "team-a"
    world.service.grant(world.admin, "alice", "default", Role.VIEWER)
    identity = world.service.identity_for_password("alice", password)  # the next request
    assert identity is not None
    assert world.service.principal(identity, None).tenant == "default"
    assert world.service.principal(identity, "team-a").role == Role.MEMBER


def test_a_tenant_missing_or_not_yours_is_not_found_alike(world: World) -> None:
    identity = world.service.identity_for_password("alice", world.user("alice"))
    assert identity is not None
    for tenant in ("team-b", "no-such", "default"):
        with pytest.raises(NotFound, match=rf"^workspace '{tenant}' not found$"):
            world.service.principal(identity, tenant)
    admin = world.admin.identity
    assert world.service.principal(admin, "team-b").is_admin
    with pytest.raises(NotFound, match="workspace 'no-such' not found"):
        world.service.principal(admin, "no-such")


def test_a_user_with_no_role_anywhere_is_told_to_ask_for_one(world: World) -> None:
    identity = world.service.identity_for_password("carol", world.user("carol"))
    assert identity is not None
    with pytest.raises(NotFound) as refused:
        world.service.principal(identity, None)  # named no workspace
    assert refused.value.message == (
        "user 'carol' has no role in any workspace; ask an administrator for one "
        "(kiln admin grant carol WORKSPACE ROLE)"
    )
    # a login session made before any role, used with no workspace named: the same
    _, header = world.service.login("carol", world.service.set_password(world.admin, "carol") or "")
    session = world.service.identity_for_session(header)
    assert session is not None
    with pytest.raises(NotFound, match=r"^user 'carol' has no role in any workspace"):
        world.service.principal(session, None)
    # naming one says nothing about whether it exists
    with pytest.raises(NotFound, match=r"^workspace 'team-a' not found$"):
        world.service.principal(identity, "team-a")
    # an admin with no membership acts in default
    world.service.set_admin(world.admin, "carol", True)
    admin = world.service.identity_for_session(header)
    assert admin is not None
    assert world.service.principal(admin, None).tenant == "default"


def test_anonymous_acts_in_default(world: World) -> None:
    principal = world.service.principal(Identity("os-user", is_admin=True, via="anonymous"), None)
    assert (principal.tenant, principal.role, principal.is_admin) == (
        "default",
        Role.PROJECT_ADMIN,
        True,
    )


def test_an_old_hash_is_upgraded_at_the_next_login(world: World) -> None:
    from argon2 import PasswordHasher

    from kiln.auth.passwords import needs_rehash

    world.user("alice", "team-a", Role.MEMBER)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("alice-password")
    world.store.inner.set_password_hash("alice", weak)
    assert world.service.identity_for_password("alice", "alice-password") is not None
    stored = world.store.inner.get_password_hash("alice")
    assert stored != weak
    assert stored is not None
    assert not needs_rehash(stored)
    assert world.service.identity_for_password("alice", "alice-password") is not None


def test_a_burst_with_a_new_password_pays_argon2_once(world: World) -> None:
    import threading

    from kiln.auth.passwords import HashGate

    class CountingGate(HashGate):
        def __init__(self) -> None:
            super().__init__(4)
            self.entered = 0

        def __enter__(self) -> HashGate:
            self.entered += 1
            return super().__enter__()

    password = world.user("alice", "team-a", Role.MEMBER)
    gate = CountingGate()
    world.service.gate = gate
    start = threading.Barrier(8)
    answers: list[bool] = []

    def request() -> None:
        start.wait()
        answers.append(world.service.identity_for_password("alice", password) is not None)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [True] * 8
    assert gate.entered == 1
