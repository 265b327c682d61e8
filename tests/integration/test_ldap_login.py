"""LDAP login end to end: AuthService on a SQLite auth store with the LdapDirectory of
a real slapd (kiln.testing.slapd) and group bindings."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from kiln.auth.ldap import LdapDirectory
from kiln.auth.principal import Identity, Principal
from kiln.auth.service import AuthService
from kiln.auth.settings import AuthSettings, LdapSettings
from kiln.entities.auth import Role
from kiln.errors import NotFound, StoreUnavailable
from kiln.store.open import open_audit_log, open_auth_store
from kiln.testing.slapd import Slapd

pytestmark = [pytest.mark.ldap, pytest.mark.integration]

ADMIN_PASSWORD = "Kiln-admin-password-1"


def _ldap(slapd: Slapd) -> LdapSettings:
    return LdapSettings(
        url=slapd.url,
        user_base_dn=slapd.people_dn,
        group_base_dn=slapd.groups_dn,
        timeout_s=3.0,
    )


def _service(tmp_path: Path, settings: LdapSettings) -> AuthService:
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    service = AuthService(
        open_auth_store(uri),
        open_audit_log(uri),
        AuthSettings(ldap=settings),
        directory=LdapDirectory(settings),
    )
    assert service.bootstrap_admin(ADMIN_PASSWORD)
    return service


@pytest.fixture
def service(tmp_path: Path, slapd: Slapd) -> AuthService:
    """Tenants research and platform; ml-team (by cn) is a member of research, the
    platform group (by DN) a project-admin of platform."""
    service = _service(tmp_path, _ldap(slapd))
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
