"""LdapDirectory against a real OpenLDAP (kiln.testing.slapd): binds, filters, groups."""

from __future__ import annotations

import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from kiln.auth.directory import Directory
from kiln.auth.ldap import LdapDirectory
from kiln.auth.settings import LdapSettings
from kiln.errors import DriverMissing, InvalidInput, StoreUnavailable
from kiln.testing.slapd import Slapd

pytestmark = [pytest.mark.ldap, pytest.mark.integration]


def _settings(slapd: Slapd, *, service_account: bool = True) -> LdapSettings:
    return LdapSettings(
        url=slapd.url,
        user_base_dn=slapd.people_dn,
        group_base_dn=slapd.groups_dn,
        bind_dn=slapd.root_dn if service_account else None,
        bind_password=slapd.root_password if service_account else None,
        timeout_s=3.0,
    )


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["service-account", "anonymous-search"])
def directory(request: pytest.FixtureRequest, slapd: Slapd) -> LdapDirectory:
    return LdapDirectory(_settings(slapd, service_account=request.param == "service-account"))


def test_it_is_a_directory(slapd: Slapd) -> None:
    assert isinstance(LdapDirectory(_settings(slapd)), Directory)


def test_good_password_gives_the_user_and_its_groups(directory: LdapDirectory) -> None:
    user = directory.authenticate("alice", "alice-pw-1")  # stored as {SSHA}
    assert user is not None
    assert user.name == "alice"
    assert user.dn == "uid=alice,ou=people,dc=kiln,dc=test"
    assert user.groups == {
        "ml-team",
        "cn=ml-team,ou=groups,dc=kiln,dc=test",
        "platform",
        "cn=platform,ou=groups,dc=kiln,dc=test",
    }


def test_plain_stored_password_binds_too(directory: LdapDirectory) -> None:
    user = directory.authenticate("bob", "bob-pw-2")
    assert user is not None
    assert user.groups == {"ml-team", "cn=ml-team,ou=groups,dc=kiln,dc=test"}


def test_the_name_comes_back_as_the_directory_spells_it(directory: LdapDirectory) -> None:
    user = directory.authenticate("ALICE", "alice-pw-1")  # uid matches case-insensitively
    assert user is not None
    assert user.name == "alice"


def test_wrong_password_and_unknown_user_give_none(directory: LdapDirectory) -> None:
    assert directory.authenticate("alice", "bob-pw-2") is None
    assert directory.authenticate("alice", "alice-pw-1 ") is None
    assert directory.authenticate("nobody", "alice-pw-1") is None


def test_empty_password_is_refused_before_any_connection(slapd: Slapd) -> None:
    # Against slapd an empty password is an unauthenticated bind that succeeds; pointed
    # at a closed port, any connection attempt would raise StoreUnavailable: None
    # proves the refusal came first.
    closed = LdapDirectory(replace(_settings(slapd), url=f"ldap://127.0.0.1:{_closed_port()}"))
    assert closed.authenticate("alice", "") is None
    assert closed.authenticate("", "alice-pw-1") is None
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        closed.authenticate("alice", "alice-pw-1")
    assert LdapDirectory(_settings(slapd)).authenticate("alice", "") is None


@pytest.mark.parametrize(
    "name", ["*", "*)(uid=*", "admin)(|(uid=*", "alice)(uid=*", "a*", "*))%00", "\\2a"]
)
def test_filter_injection_in_the_name_finds_nobody(directory: LdapDirectory, name: str) -> None:
    # each password is a real one, so a filter that matched any entry would bind
    for password in ("alice-pw-1", "admin-pw-6"):
        assert directory.authenticate(name, password) is None


def test_the_admin_entry_still_logs_in_by_its_own_name(directory: LdapDirectory) -> None:
    user = directory.authenticate("admin", "admin-pw-6")
    assert user is not None
    assert user.groups == frozenset()


def test_a_user_in_no_group(directory: LdapDirectory) -> None:
    user = directory.authenticate("carol", "carol-pw-3")
    assert user is not None
    assert user.groups == frozenset()


def test_dns_with_filter_characters_are_escaped_in_the_group_filter(
    directory: LdapDirectory,
) -> None:
    dana = directory.authenticate("dana", "dana-pw-4")  # cn=Dana (Ops),...
    assert dana is not None
    assert dana.dn == "cn=Dana (Ops),ou=people,dc=kiln,dc=test"
    assert dana.groups == {"ops", "cn=ops,ou=groups,dc=kiln,dc=test"}
    erin = directory.authenticate("erin", "erin-pw-5")  # cn=Smith\, Erin,...
    assert erin is not None
    assert "ml-team" in erin.groups


def test_no_group_base_means_no_groups(slapd: Slapd) -> None:
    directory = LdapDirectory(replace(_settings(slapd), group_base_dn=None))
    user = directory.authenticate("alice", "alice-pw-1")
    assert user is not None
    assert user.groups == frozenset()


def test_start_tls_against_a_server_without_tls_is_a_clear_error(slapd: Slapd) -> None:
    directory = LdapDirectory(replace(_settings(slapd), start_tls=True))
    with pytest.raises(StoreUnavailable, match="StartTLS"):
        directory.authenticate("alice", "alice-pw-1")


def test_unreachable_server_is_unavailable_not_a_wrong_password(slapd: Slapd) -> None:
    port = _closed_port()
    directory = LdapDirectory(replace(_settings(slapd), url=f"ldap://127.0.0.1:{port}"))
    with pytest.raises(StoreUnavailable, match=rf"ldap://127\.0\.0\.1:{port} cannot be reached"):
        directory.authenticate("alice", "alice-pw-1")


def test_a_service_account_that_cannot_bind_is_a_configuration_error(slapd: Slapd) -> None:
    directory = LdapDirectory(replace(_settings(slapd), bind_password="wrong"))
    with pytest.raises(StoreUnavailable, match=r"service account .* could not bind"):
        directory.authenticate("alice", "alice-pw-1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "http://127.0.0.1:389"}, "must look like ldap://"),
        ({"url": "ldaps://127.0.0.1:636", "start_tls": True}, "already TLS"),
        ({"user_filter": "uid={name}"}, "filter in parentheses"),
    ],
)
def test_bad_settings_are_refused_at_construction(
    slapd: Slapd, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        LdapDirectory(replace(_settings(slapd), **change))  # type: ignore[arg-type]


def _tls_settings(server: Slapd, **change: object) -> LdapSettings:
    assert server.ca_file is not None
    settings = replace(_settings(server), ca_file=str(server.ca_file))
    return replace(settings, **change)  # type: ignore[arg-type]


def test_start_tls_with_the_servers_ca_logs_in(slapd_tls: Slapd) -> None:
    directory = LdapDirectory(_tls_settings(slapd_tls, start_tls=True))
    user = directory.authenticate("alice", "alice-pw-1")
    assert user is not None
    assert "platform" in user.groups
    assert directory.authenticate("alice", "wrong") is None


def test_ldaps_with_the_servers_ca_logs_in(slapd_tls: Slapd) -> None:
    assert slapd_tls.ldaps_url is not None
    directory = LdapDirectory(_tls_settings(slapd_tls, url=slapd_tls.ldaps_url))
    user = directory.authenticate("bob", "bob-pw-2")
    assert user is not None
    assert user.name == "bob"


@pytest.mark.parametrize("mode", ["start_tls", "ldaps"])
def test_a_certificate_from_an_unknown_ca_is_refused(slapd_tls: Slapd, mode: str) -> None:
    assert slapd_tls.ldaps_url is not None
    change: dict[str, object] = (
        {"start_tls": True} if mode == "start_tls" else {"url": slapd_tls.ldaps_url}
    )
    directory = LdapDirectory(_tls_settings(slapd_tls, ca_file=None, **change))
    with pytest.raises(StoreUnavailable, match="certificate verify failed"):
        directory.authenticate("alice", "alice-pw-1")


def test_a_certificate_for_another_name_is_refused(slapd_tls: Slapd) -> None:
    # the certificate names 127.0.0.1 and localhost; 127.0.0.2 reaches the same slapd
    assert slapd_tls.ldaps_url is not None
    url = slapd_tls.ldaps_url.replace("127.0.0.1", "127.0.0.2")
    directory = LdapDirectory(_tls_settings(slapd_tls, url=url))
    with pytest.raises(StoreUnavailable, match="IP address mismatch"):
        directory.authenticate("alice", "alice-pw-1")


def test_a_missing_ca_file_is_refused_at_construction(slapd: Slapd, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(InvalidInput, match=r"CA file .* does not exist"):
        LdapDirectory(replace(_settings(slapd), ca_file=str(missing)))


def test_without_ldap3_the_error_says_what_to_install(
    slapd: Slapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ldap3", None)  # what Python does for a missing module
    with pytest.raises(DriverMissing, match=r"pip install 'kiln-mlops\[ldap\]'"):
        LdapDirectory(_settings(slapd))


def test_logins_at_once_from_many_threads(slapd: Slapd) -> None:
    directory = LdapDirectory(_settings(slapd))
    attempts = [
        ("alice", "alice-pw-1"),
        ("bob", "bob-pw-2"),
        ("bob", "wrong"),
        ("dana", "dana-pw-4"),
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda a: directory.authenticate(*a), attempts * 8))
    names = [r.name if r else None for r in results]
    assert names == ["alice", "bob", None, "dana"] * 8


def test_a_directory_that_demands_tls_is_not_a_wrong_password(slapd_tls: Slapd) -> None:
    # slapd_tls refuses password binds in clear text (confidentialityRequired)
    plain = LdapDirectory(replace(_tls_settings(slapd_tls), bind_dn=None, bind_password=None))
    with pytest.raises(StoreUnavailable, match=r"user .* could not bind .*confidentialityRequired"):
        plain.authenticate("alice", "alice-pw-1")
    service = LdapDirectory(_tls_settings(slapd_tls))  # the service account's bind, likewise
    with pytest.raises(StoreUnavailable, match=r"service account .*confidentialityRequired"):
        service.authenticate("alice", "alice-pw-1")


def test_a_base_dn_that_does_not_exist_is_a_configuration_error(slapd: Slapd) -> None:
    wrong = LdapDirectory(replace(_settings(slapd), user_base_dn="ou=nobody,dc=kiln,dc=test"))
    with pytest.raises(StoreUnavailable, match=r"'ou=nobody,dc=kiln,dc=test' does not exist"):
        wrong.authenticate("alice", "alice-pw-1")
