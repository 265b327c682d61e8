"""AuthService on the SQL stores (SQLite, PostgreSQL): what a token request costs in
statements, and each change's audit line written once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from kiln.auth.passwords import hash_password
from kiln.auth.principal import Principal
from kiln.auth.service import AuthService
from kiln.auth.settings import AuthSettings
from kiln.entities.auth import Role
from kiln.store.open import close_store, open_audit_log, open_auth_store
from kiln.store.protocols.auth import AuthStore
from kiln.testing.auth_world import ADMIN_PASSWORD, MINUTE, Clock, CountingStore


@pytest.fixture(params=["sqlite", "postgresql"])
def uri(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kiln.db'}"
    return str(request.getfixturevalue("postgres_db_uri"))


@pytest.fixture
def service(uri: str) -> Iterator[AuthService]:
    store = open_auth_store(uri)
    audit = open_audit_log(uri)
    clock = Clock()
    service = AuthService(store, audit, AuthSettings(), clock=clock)
    assert service.bootstrap_admin(ADMIN_PASSWORD)
    yield service
    close_store(audit)
    close_store(store)


def _admin_and_member_alice(service: AuthService) -> tuple[Principal, str | None]:
    """The admin signed in with its password, and the one-time password of ``alice``,
    made a member of the new tenant ``team-a``."""
    identity = service.identity_for_password("admin", ADMIN_PASSWORD)
    assert identity is not None
    admin = service.principal(identity, None)
    service.create_tenant(admin, "team-a")
    _, password = service.create_user(admin, "alice")
    service.grant(admin, "alice", "team-a", Role.MEMBER)
    return admin, password


def test_a_token_request_is_one_store_read(service: AuthService) -> None:
    """One ``token_grant`` (A's store answers it with one SELECT on the driver's
    cursor, its contract checks that) and nothing for ``principal``."""
    admin, password = _admin_and_member_alice(service)
    alice_identity = service.identity_for_password("alice", str(password))
    assert alice_identity is not None
    _, secret = service.create_token(service.principal(alice_identity, None), name="ci")
    service.identity_for_token(secret)  # first use: touches last_used_at
    counting = CountingStore(service.store)
    service.store = cast(AuthStore, counting)
    assert isinstance(service.clock, Clock)
    service.clock.advance(MINUTE // 2)
    identity = service.identity_for_token(secret)
    assert identity is not None
    principal = service.principal(identity, None)
    assert (principal.user, principal.tenant, principal.role) == ("alice", "team-a", Role.MEMBER)
    assert counting.calls == ["token_grant"]
    service.grant(admin, "alice", "team-a", Role.VIEWER)
    identity = service.identity_for_token(secret)
    assert identity is not None
    assert service.principal(identity, None).role == Role.VIEWER  # current on every request


def test_a_cached_password_request_is_one_store_read(service: AuthService) -> None:
    """One ``password_grant`` (one SELECT: the store's contract checks it) per
    request once the password is cached, which still sees a new role, a disabled
    user and a new password hash at once."""
    admin, password = _admin_and_member_alice(service)
    assert service.identity_for_password("alice", str(password)) is not None  # argon2
    counting = CountingStore(service.store)
    service.store = cast(AuthStore, counting)
    identity = service.identity_for_password("alice", str(password))
    assert identity is not None
    principal = service.principal(identity, None)
    assert (principal.tenant, principal.role) == ("team-a", Role.MEMBER)
    assert counting.calls == ["password_grant"]
    service.grant(admin, "alice", "team-a", Role.VIEWER)
    identity = service.identity_for_password("alice", str(password))
    assert identity is not None
    assert service.principal(identity, "team-a").role == Role.VIEWER
    counting.inner.set_password_hash("alice", hash_password("elsewhere-1"))  # another process
    assert service.identity_for_password("alice", str(password)) is None
    assert service.identity_for_password("alice", "elsewhere-1") is not None
    counting.inner.set_user_flags("alice", disabled=True)
    assert service.identity_for_password("alice", "elsewhere-1") is None


def test_each_change_is_audited_once(service: AuthService) -> None:
    admin, password = _admin_and_member_alice(service)
    token, _ = service.create_token(admin, name="t")
    service.revoke_token(admin, token.token_id)
    _, header = service.login("alice", str(password))
    service.grant(admin, "alice", "default", Role.VIEWER)
    service.switch_session_tenant(header, "default")
    service.logout(header)
    assert service.identity_for_password("alice", "wrong-password") is None
    events = list(reversed(service.audit.list_events(max_results=1000).items))
    assert [(e.action, e.actor) for e in events] == [
        ("user.create", "admin"),  # bootstrap
        ("tenant.create", "admin"),
        ("user.create", "admin"),
        ("member.grant", "admin"),
        ("token.create", "admin"),
        ("token.revoke", "admin"),
        ("auth.login", "alice"),
        ("member.grant", "admin"),
        ("auth.switch_tenant", "alice"),
        ("auth.logout", "alice"),
        ("auth.login_failed", "alice"),
    ]
    assert service.audit.verify() is None
    assert str(password) not in repr(events)
