"""LDAP login end to end: AuthService on a SQLite auth store with the LdapDirectory of
a real slapd (kiln.testing.slapd) and group bindings."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from kiln.auth.ldap import LdapDirectory
from kiln.auth.principal import Identity, Principal
from kiln.auth.service import AuthService, now_ms
from kiln.auth.settings import AuthSettings, LdapSettings
from kiln.entities.auth import Role
from kiln.errors import NotFound, StoreUnavailable
from kiln.store.open import open_audit_log, open_auth_store
from kiln.testing.slapd import GROUPS, Slapd

pytestmark = [pytest.mark.ldap, pytest.mark.integration]

ADMIN_PASSWORD = "Kiln-admin-password-1"


def _ldap(slapd: Slapd) -> LdapSettings:
    return LdapSettings(
        url=slapd.url,
        user_base_dn=slapd.people_dn,
        group_base_dn=slapd.groups_dn,
        timeout_s=3.0,
    )


class Clock:
    """The service's clock, moved on by hand past the password cache (60 s)."""

    def __init__(self) -> None:
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


def _service(tmp_path: Path, settings: LdapSettings, clock: Clock | None = None) -> AuthService:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    service = AuthService(
        open_auth_store(uri),
        open_audit_log(uri),
        AuthSettings(ldap=settings),
        directory=LdapDirectory(settings),
        clock=clock or now_ms,
    )
    assert service.bootstrap_admin(ADMIN_PASSWORD)
    return service


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path: Path, slapd: Slapd, clock: Clock) -> AuthService:
    """Tenants research and platform; ml-team (by cn) is a member of research, the
    platform group (by DN) a project-admin of platform."""
    service = _service(tmp_path, _ldap(slapd), clock)
    admin = service.principal(Identity("admin", is_admin=True), "default")
    for tenant in ("research", "platform"):
        service.create_tenant(admin, tenant)
    service.bind_group(admin, "ML-Team", "research", Role.MEMBER)
    service.bind_group(
        admin, "cn=platform,ou=groups,dc=kiln,dc=test", "platform", Role.PROJECT_ADMIN
    )
    return service


def _principal(service: AuthService, name: str, password: str, tenant: str | None) -> Principal:
    identity = service.identity_for_password(name, password)
    assert identity is not None, f"{name} did not log in"
    return service.principal(identity, tenant)


def test_a_directory_user_gets_the_role_its_group_is_bound_to(service: AuthService) -> None:
    bob = _principal(service, "bob", "bob-pw-2", None)  # his only tenant
    assert (bob.user, bob.tenant, bob.role) == ("bob", "research", Role.MEMBER)
    assert not bob.is_admin
    user = service.store.get_user("bob")
    assert user.source == "ldap"
    assert service.store.get_password_hash("bob") is None  # Kiln keeps no copy


def test_bindings_by_dn_and_by_cn_both_apply(service: AuthService) -> None:
    research = _principal(service, "alice", "alice-pw-1", "research")
    platform = _principal(service, "alice", "alice-pw-1", "platform")
    assert research.role == Role.MEMBER
    assert platform.role == Role.PROJECT_ADMIN


def test_a_user_in_no_bound_group_logs_in_with_no_tenant(service: AuthService) -> None:
    identity = service.identity_for_password("carol", "carol-pw-3")
    assert identity is not None
    with pytest.raises(NotFound, match="workspace 'research' not found"):
        service.principal(identity, "research")


def test_a_wrong_or_empty_password_does_not_log_in(service: AuthService) -> None:
    assert service.identity_for_password("bob", "alice-pw-1") is None
    assert service.identity_for_password("bob", "") is None
    assert service.identity_for_password("*", "bob-pw-2") is None
    with pytest.raises(NotFound, match="not found"):
        service.store.get_user("bob")  # nobody was created


def test_the_directory_cannot_log_in_as_a_local_user(service: AuthService) -> None:
    # slapd holds an entry uid=admin with its own password; Kiln's admin is local
    assert service.identity_for_password("admin", "admin-pw-6") is None
    kiln_admin = service.identity_for_password("admin", ADMIN_PASSWORD)
    assert kiln_admin is not None
    assert kiln_admin.is_admin


def test_the_name_as_typed_in_another_case_is_the_same_user(service: AuthService) -> None:
    first = service.identity_for_password("bob", "bob-pw-2")
    again = service.identity_for_password("BOB", "bob-pw-2")  # uid matches any case
    assert first is not None
    assert again is not None
    assert again.user == "bob"
    assert [u.name for u in service.store.list_users() if u.source == "ldap"] == ["bob"]


def test_another_case_cannot_reach_a_local_user_through_the_directory(
    service: AuthService,
) -> None:
    # "ADMIN" is no Kiln user; the directory knows it as "admin", which is local
    assert service.identity_for_password("ADMIN", "admin-pw-6") is None
    assert [u.name for u in service.store.list_users()] == ["admin"]


def test_a_session_login_with_the_directory_password(service: AuthService) -> None:
    session, header = service.login("bob", "bob-pw-2", "research")
    assert header.startswith("/api/v1/session/")
    assert session.user == "bob"
    identity = service.identity_for_session(header)
    assert identity is not None
    assert service.principal(identity, None).role == Role.MEMBER


def test_an_unreachable_directory_is_unavailable_not_a_wrong_password(
    tmp_path: Path, slapd: Slapd
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = _service(tmp_path, replace(_ldap(slapd), url=f"ldap://127.0.0.1:{port}"))
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        service.identity_for_password("bob", "bob-pw-2")


# --- offboarding: roles from groups follow the directory, grants stay ------------------


def _ldapmodify(slapd: Slapd, group: str, change: str, uid: str) -> None:
    """``change`` (``add`` or ``delete``) ``uid`` as a member of ``group`` in slapd."""
    ldif = (
        f"dn: cn={group},{slapd.groups_dn}\nchangetype: modify\n{change}: member\n"
        f"member: {slapd.user(uid).dn}\n"
    )
    argv = ["ldapmodify", "-x", "-H", slapd.url, "-D", slapd.root_dn, "-w", slapd.root_password]
    done = subprocess.run(argv, input=ldif, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@contextmanager
def _out_of_group(slapd: Slapd, group: str, uid: str) -> Iterator[None]:
    """``uid`` taken out of ``group`` in the directory, and put back after (the slapd
    is the session's: other tests count on its seed)."""
    assert uid in next(g for g in GROUPS if g.cn == group).members
    _ldapmodify(slapd, group, "delete", uid)
    try:
        yield
    finally:
        _ldapmodify(slapd, group, "add", uid)


def _admin(service: AuthService) -> Principal:
    return service.principal(Identity("admin", is_admin=True), "default")


def test_leaving_a_group_takes_its_role_and_tokens_away_at_the_next_login(
    service: AuthService, slapd: Slapd, clock: Clock
) -> None:
    bob = _principal(service, "bob", "bob-pw-2", "research")
    assert bob.role == Role.MEMBER
    _, secret = service.create_token(bob, name="ci")
    token = service.identity_for_token(secret)
    assert token is not None
    assert service.principal(token, None).role == Role.MEMBER
    with _out_of_group(slapd, "ML-Team", "bob"):
        clock.now += 61_000  # past the password cache: the directory is asked again
        identity = service.identity_for_password("bob", "bob-pw-2")
        assert identity is not None  # still in the directory, in no bound group now
        with pytest.raises(NotFound, match="workspace 'research' not found"):
            service.principal(identity, "research")
        token = service.identity_for_token(secret)
        assert token is not None
        with pytest.raises(NotFound, match="workspace 'research' not found"):
            service.principal(token, "research")
        assert service.store.list_memberships(user="bob") == []
        revoked = service.audit.list_events(action="member.revoke").items
        assert [(e.actor, e.tenant, e.resource) for e in revoked] == [
            ("bob", "research", "user:bob")
        ]
    clock.now += 61_000
    assert _principal(service, "bob", "bob-pw-2", "research").role == Role.MEMBER  # back


def test_leaving_one_of_two_groups_lowers_the_role_to_the_other(
    service: AuthService, slapd: Slapd, clock: Clock
) -> None:
    admin = _admin(service)
    service.bind_group(admin, "platform", "research", Role.PROJECT_ADMIN)  # alice is in it
    assert _principal(service, "alice", "alice-pw-1", "research").role == Role.PROJECT_ADMIN
    _ldapmodify(slapd, "platform", "add", "dana")  # a groupOfNames keeps one member
    try:
        with _out_of_group(slapd, "platform", "alice"):
            clock.now += 61_000
            assert _principal(service, "alice", "alice-pw-1", "research").role == Role.MEMBER
            with pytest.raises(NotFound, match="workspace 'platform' not found"):
                _principal(service, "alice", "alice-pw-1", "platform")
    finally:
        _ldapmodify(slapd, "platform", "delete", "dana")


def test_unbinding_a_group_takes_its_role_and_tokens_away_at_once(
    service: AuthService,
) -> None:
    alice = _principal(service, "alice", "alice-pw-1", "platform")
    assert alice.role == Role.PROJECT_ADMIN
    _, secret = service.create_token(alice, name="deploy")
    service.unbind_group(_admin(service), "cn=platform,ou=groups,dc=kiln,dc=test", "platform")
    token = service.identity_for_token(secret)  # no login in between
    assert token is not None
    with pytest.raises(NotFound, match="workspace 'platform' not found"):
        service.principal(token, "platform")
    assert [(m.tenant, m.role, m.origin) for m in service.store.list_memberships(user="alice")] == [
        ("research", Role.MEMBER, "group")
    ]
    lines = service.audit.list_events(tenant="platform", max_results=2).items
    assert [(e.action, e.actor, e.resource) for e in lines] == [
        ("member.revoke", "admin", "user:alice"),
        ("group.unbind", "admin", "group:cn=platform,ou=groups,dc=kiln,dc=test"),
    ]


def test_a_manual_grant_survives_the_group_sync(
    service: AuthService, slapd: Slapd, clock: Clock
) -> None:
    admin = _admin(service)
    assert service.identity_for_password("carol", "carol-pw-3") is not None  # in no group
    service.grant(admin, "carol", "research", Role.VIEWER)
    assert _principal(service, "bob", "bob-pw-2", "research").role == Role.MEMBER
    service.grant(admin, "bob", "research", Role.VIEWER)  # a grant wins over the group's
    with _out_of_group(slapd, "ML-Team", "bob"):
        clock.now += 61_000
        assert _principal(service, "carol", "carol-pw-3", "research").role == Role.VIEWER
        assert _principal(service, "bob", "bob-pw-2", "research").role == Role.VIEWER
    service.unbind_group(admin, "ML-Team", "research")
    assert _principal(service, "bob", "bob-pw-2", "research").role == Role.VIEWER
    origins = {m.user: m.origin for m in service.store.list_memberships(tenant="research")}
    assert origins == {"bob": "grant", "carol": "grant"}
