"""Login sessions (``POST /api/v1/login``'s ``X-BDS-SESSION``): timeouts, logout, audit."""

from __future__ import annotations

import pytest

from kiln.auth.service import SESSION_PATH
from kiln.entities.auth import Role
from kiln.errors import NotFound, PermissionDenied, TooManyRequests, Unauthenticated
from kiln.testing.auth_world import ADMIN_PASSWORD, MINUTE, World


def test_login_gives_a_session_header(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    session, header = world.service.login("alice", password)
    assert header.startswith(SESSION_PATH)
    assert (session.user, session.tenant) == ("alice", "team-a")
    assert session.expires_at == world.clock.now + 12 * 60 * MINUTE
    for value in (header, header.removeprefix(SESSION_PATH), f"  {header} "):
        identity = world.service.identity_for_session(value)
        assert identity is not None
        assert (identity.user, identity.via, identity.bound_tenant) == (
            "alice",
            "session",
            "team-a",
        )
    assert world.service.session_info(header) == session
    login = world.audit.list_events(action="auth.login").items
    assert [(e.actor, e.tenant, e.after) for e in login] == [
        ("alice", "team-a", {"session_id": session.session_id})
    ]
    assert header.removeprefix(SESSION_PATH) not in repr(login)  # never the secret


def test_a_session_ends_when_idle_or_at_its_absolute_end(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    _, header = world.service.login("alice", password)
    alive = []
    for _ in range(15):  # used every 50 minutes: the idle timeout (60) never passes ...
        world.clock.advance(50 * MINUTE)
        alive.append(world.service.identity_for_session(header) is not None)
    assert alive == [True] * 14 + [False]  # ... but the absolute end (12 h) does
    _, header = world.service.login("alice", password)
    world.clock.advance(60 * MINUTE)
    assert world.service.identity_for_session(header) is None
    with pytest.raises(Unauthenticated, match="log in again"):
        world.service.session_info(header)


def test_logout(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    session, header = world.service.login("alice", password)
    assert world.service.logout(header)
    assert world.service.identity_for_session(header) is None
    assert not world.service.logout(header)
    assert not world.service.logout("not-a-session")
    logout = world.audit.list_events(action="auth.logout").items
    assert [(e.actor, e.before) for e in logout] == [("alice", {"session_id": session.session_id})]


def test_a_disabled_users_session_stops(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    _, header = world.service.login("alice", password)
    world.service.disable_user(world.admin, "alice")
    assert world.service.identity_for_session(header) is None


def test_a_session_is_bound_to_its_tenant(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    world.service.grant(world.admin, "alice", "team-b", Role.VIEWER)
    session, header = world.service.login("alice", password, "team-b")
    assert session.tenant == "team-b"
    identity = world.service.identity_for_session(header)
    assert identity is not None
    assert world.service.principal(identity, None).role == Role.VIEWER
    with pytest.raises(PermissionDenied, match="this session is for workspace 'team-b'"):
        world.service.principal(identity, "team-a")


def test_a_session_switches_to_a_tenant_its_user_may_act_in(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    world.service.grant(world.admin, "alice", "team-b", Role.VIEWER)
    session, header = world.service.login("alice", password, "team-a")
    moved = world.service.switch_session_tenant(header, "team-b")
    assert (moved.session_id, moved.tenant, moved.expires_at) == (
        session.session_id,
        "team-b",
        session.expires_at,
    )
    identity = world.service.identity_for_session(header)
    assert identity is not None
    assert identity.bound_tenant == "team-b"
    assert world.service.principal(identity, None).role == Role.VIEWER
    switched = world.audit.list_events(action="auth.switch_tenant").items
    assert [(e.actor, e.tenant, e.before, e.after) for e in switched] == [
        (
            "alice",
            "team-b",
            {"session_id": session.session_id, "tenant": "team-a"},
            {"session_id": session.session_id, "tenant": "team-b"},
        )
    ]
    # where alice has no role, or no such tenant: refused, the session stays
    world.service.revoke(world.admin, "alice", "team-a")
    for tenant in ("team-a", "nowhere"):
        with pytest.raises(NotFound, match=f"workspace '{tenant}' not found"):
            world.service.switch_session_tenant(header, tenant)
    assert world.service.session_info(header).tenant == "team-b"
    assert len(world.audit.list_events(action="auth.switch_tenant").items) == 1


def test_an_admin_switches_to_any_tenant_and_an_ended_session_to_none(world: World) -> None:
    _, header = world.service.login("admin", ADMIN_PASSWORD)
    assert world.service.switch_session_tenant(header, "team-b").tenant == "team-b"
    identity = world.service.identity_for_session(header)
    assert identity is not None
    assert world.service.principal(identity, None).tenant == "team-b"
    with pytest.raises(NotFound, match="workspace 'gone' not found"):
        world.service.switch_session_tenant(header, "gone")
    world.service.logout(header)
    with pytest.raises(Unauthenticated, match="log in again"):
        world.service.switch_session_tenant(header, "team-a")
    with pytest.raises(Unauthenticated, match="log in again"):
        world.service.switch_session_tenant("not-a-session", "team-a")


def test_a_login_lands_in_a_tenant_its_user_holds_a_role_in(world: World) -> None:
    password = world.user("alice", "team-b", Role.MEMBER)
    world.service.grant(world.admin, "alice", "team-a", Role.VIEWER)
    session, header = world.service.login("alice", password)
    assert session.tenant == "default"  # two tenants, none named: no role there
    assert world.service.land_session(header).tenant == "team-a"  # the first by name
    assert world.service.land_session(header).tenant == "team-a"  # stays
    _, admin = world.service.login("admin", ADMIN_PASSWORD)
    assert world.service.land_session(admin).tenant == "default"  # an admin acts anywhere
    world.service.logout(header)
    with pytest.raises(Unauthenticated, match="log in again"):
        world.service.land_session(header)


def test_wrong_logins(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    with pytest.raises(NotFound, match="workspace 'team-b' not found"):
        world.service.login("alice", password, "team-b")
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        world.service.login("alice", "wrong-password")
    _, token = world.service.create_token(world.as_user("alice", password))
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        world.service.login("alice", token)  # a session is for a password, not a token
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        world.service.login("nobody", "wrong-password")
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        world.service.login("alice", "wrong-again")
    with pytest.raises(TooManyRequests, match="user 'alice'"):
        # three failures for alice: throttled (her password, verified a moment ago and
        # still in the cache, would pass: a guesser does not lock out who knows it)
        world.service.login("alice", "another-guess")
    failed = world.audit.list_events(action="auth.login_failed").items
    assert sorted(e.actor for e in failed) == ["alice", "alice", "alice", "nobody"]
    assert world.actions().count("auth.login") == 0


def test_a_disabled_user_hears_what_a_wrong_password_hears(world: World) -> None:
    password = world.user("dora", "team-a", Role.MEMBER)
    world.service.disable_user(world.admin, "dora")
    with pytest.raises(Unauthenticated) as refused:
        world.service.login("dora", password)  # the right password: nothing given away
    assert refused.value.message == "wrong user name or password"


def test_ended_sessions_are_deleted_at_a_later_login(world: World) -> None:
    from kiln.auth.tokens import token_hash

    password = world.user("alice", "team-a", Role.MEMBER)
    _, first = world.service.login("alice", password)
    world.clock.advance(61 * MINUTE)  # idle too long: ended, still stored
    digest = token_hash(first.removeprefix(SESSION_PATH))
    assert world.store.inner.session_by_hash(digest) is not None
    _, second = world.service.login("alice", password)
    assert world.store.inner.session_by_hash(digest) is None
    assert world.service.identity_for_session(second) is not None


def test_setting_a_password_ends_the_users_sessions(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    bob_password = world.user("bob", "team-a", Role.MEMBER)
    _, header = world.service.login("alice", password)
    _, other = world.service.login("alice", password, "team-a")
    _, bobs = world.service.login("bob", bob_password)
    world.service.set_password(world.admin, "alice", "a-new-password")
    for value in (header, other):  # opened with the old password: gone, not just refused
        assert world.service.identity_for_session(value) is None
        with pytest.raises(Unauthenticated, match="log in again"):
            world.service.session_info(value)
    assert world.service.identity_for_session(bobs) is not None  # only alice's
    assert world.service.identity_for_password("alice", password) is None  # cache dropped
    _, fresh = world.service.login("alice", "a-new-password")
    assert world.service.identity_for_session(fresh) is not None


def test_disabling_a_user_ends_its_sessions_for_good(world: World) -> None:
    password = world.user("alice", "team-a", Role.MEMBER)
    _, header = world.service.login("alice", password)
    world.service.disable_user(world.admin, "alice")
    world.service.enable_user(world.admin, "alice")
    assert world.service.identity_for_session(header) is None  # enabling brings none back
    _, fresh = world.service.login("alice", password)
    assert world.service.identity_for_session(fresh) is not None
