"""Holes in password logins found by the security review of issue 13 (the throttle,
the argon2 gate, LDAP), each proved against the real service or server (SQLite,
uvicorn on 127.0.0.1, a real slapd) and kept closed here."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from kiln.auth.ldap import LdapDirectory
from kiln.auth.principal import Identity
from kiln.auth.settings import AuthSettings, LdapSettings
from kiln.errors import TooManyRequests
from kiln.server.app import create_app
from kiln.testing.auth_app import ADMIN_PASSWORD, KILN_API, sqlite_auth_service, sqlite_settings
from kiln.testing.server import serve_in_thread
from kiln.testing.slapd import Slapd
from kiln.testing.tenancy import API, auth_app, basic_auth, bearer_auth


@pytest.mark.ldap
def test_the_throttle_counts_a_directory_name_in_any_case(tmp_path: Path, slapd: Slapd) -> None:
    """LDAP finds ``BOB`` as ``bob``: with the throttle keyed on the name as typed,
    each spelling in another case got its own failures, so a guesser had 2**len(name)
    times as many tries, and ``BOB`` logged in while ``bob`` was throttled."""
    ldap = LdapSettings(
        url=slapd.url, user_base_dn=slapd.people_dn, group_base_dn=slapd.groups_dn, timeout_s=3.0
    )
    with sqlite_auth_service(
        tmp_path, AuthSettings(ldap=ldap, max_failed_logins=3), directory=LdapDirectory(ldap)
    ) as service:
        assert service.identity_for_password("bob", slapd.user("bob").password) is not None
        for _ in range(3):
            assert service.identity_for_password("bob", "wrong-password") is None
        for spelling in ("Bob", "BOB", "bOb"):
            with pytest.raises(TooManyRequests, match="Too many failed logins"):
                service.identity_for_password(spelling, "wrong-password")
        with pytest.raises(TooManyRequests, match="Too many failed logins"):
            service.identity_for_password("BOB", slapd.user("bob").password)
        assert service.throttle.retry_after("Bob") is not None
        # other users are not slowed
        assert service.identity_for_password("alice", slapd.user("alice").password) is not None


def test_concurrent_guesses_cannot_outrun_the_throttle(tmp_path: Path) -> None:
    """The throttle was checked before argon2 and counted after it: guesses sent at
    once all passed the check while the first were still hashing, so a client
    with many connections got as many guesses per window as it had requests in
    flight, not ``max_failed_logins``."""
    with sqlite_auth_service(
        tmp_path, AuthSettings(max_failed_logins=3, max_concurrent_hashes=2)
    ) as service:
        admin = service.principal(Identity("admin", is_admin=True), "default")
        service.create_user(admin, "victim", password="right-password-1")
        guesses = 12
        barrier = threading.Barrier(guesses)

        def guess(i: int) -> str:
            barrier.wait()
            try:
                found = service.identity_for_password("victim", f"wrong-guess-{i}")
            except TooManyRequests:
                return "throttled"
            return "refused" if found is None else "in"

        with ThreadPoolExecutor(guesses) as pool:
            results = list(pool.map(guess, range(guesses)))
        assert results.count("refused") == 3, results  # argon2 ran for three guesses only
        assert results.count("throttled") == guesses - 3
        with pytest.raises(TooManyRequests, match="Too many failed logins"):
            service.identity_for_password("victim", "right-password-1")
        # another user is not slowed, and a success (after the window) clears the count
        assert service.identity_for_password("admin", ADMIN_PASSWORD) is not None


SEARCH = f"{API}/experiments/search"
FLOOD = 80


def _token_request_behind_a_flood(
    url: str, http: httpx.Client, token: dict[str, str]
) -> tuple[httpx.Response, float, list[int]]:
    """``FLOOD`` clients send Basic logins of made-up names at once, then ``http``
    sends one token request: its answer, the seconds it took, the flood's statuses."""
    clients = [httpx.Client(base_url=url, timeout=120) for _ in range(FLOOD)]
    ready = threading.Barrier(FLOOD + 1)

    def flood(i: int) -> int:
        headers = basic_auth(f"nobody-{i}", f"guess-{i}-password")
        ready.wait()
        with clients[i] as own:
            return own.get(SEARCH, params={"max_results": 1}, headers=headers).status_code

    with ThreadPoolExecutor(FLOOD) as pool:
        answers = pool.map(flood, range(FLOOD))
        ready.wait()
        time.sleep(1.0)  # the flood is in
        started = time.perf_counter()
        served = http.get(SEARCH, params={"max_results": 1}, headers=token)
        waited = time.perf_counter() - started
        statuses = list(answers)
    return served, waited, statuses


def test_a_flood_of_passwords_does_not_starve_token_requests(tmp_path: Path) -> None:
    """Each Basic request with a new (user, password) waits for the argon2 gate on a
    handler thread; a flood of them, needing no account at all, held every one of
    the server's threads and a token request queued behind them for seconds. Past
    a few waiting checks the gate now answers 429 at once."""
    db_uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    settings = AuthSettings(max_concurrent_hashes=1)
    app = auth_app(db_uri, tmp_path, ADMIN_PASSWORD, settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        made = http.post(f"{KILN_API}/tokens", json={}, headers=basic_auth("admin", ADMIN_PASSWORD))
        assert made.status_code == 201, made.text
        token = bearer_auth(made.json()["token"], "default")
        assert http.get(SEARCH, params={"max_results": 1}, headers=token).status_code == 200
        served, waited, statuses = _token_request_behind_a_flood(url, http, token)
        assert served.status_code == 200, served.text
        assert waited < 2.0, f"a token request waited {waited:.1f} s behind the flood"
        assert set(statuses) <= {401, 429}
        assert 429 in statuses


def test_a_flood_of_directory_logins_does_not_starve_token_requests(tmp_path: Path) -> None:
    """With LDAP on, a name Kiln does not know is looked up in the directory on a
    handler thread, outside the argon2 gate: a slow directory (here one that never
    answers) and a flood of made-up names held every thread for ``timeout_s``."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(256)  # connections complete in the backlog; nothing ever answers
    ldap = LdapSettings(
        url=f"ldap://127.0.0.1:{silent.getsockname()[1]}", user_base_dn="dc=kiln", timeout_s=2.0
    )
    with (
        silent,
        sqlite_auth_service(
            tmp_path,
            AuthSettings(ldap=ldap, max_concurrent_hashes=1),
            directory=LdapDirectory(ldap),
        ) as service,
    ):
        app = create_app(sqlite_settings(tmp_path), auth=service)
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as http:
            admin = basic_auth("admin", ADMIN_PASSWORD)
            made = http.post(f"{KILN_API}/tokens", json={}, headers=admin)
            assert made.status_code == 201, made.text
            token = bearer_auth(made.json()["token"], "default")
            served, waited, statuses = _token_request_behind_a_flood(url, http, token)
            assert served.status_code == 200, served.text
            assert waited < 1.5, f"a token request waited {waited:.1f} s behind the flood"
            assert set(statuses) <= {429, 503}  # refused at once, or the directory timed out
            assert 429 in statuses


@pytest.mark.ldap
def test_a_wrong_password_takes_as_long_for_any_name(tmp_path: Path, slapd: Slapd) -> None:
    """With LDAP on, a name Kiln did not know failed after a directory lookup (a few
    ms) and a local user's wrong password after argon2 (~0.1 s): timing told which
    local users exist (``admin``). A directory refusal now costs a verification too."""
    ldap = LdapSettings(url=slapd.url, user_base_dn=slapd.people_dn, timeout_s=3.0)
    with sqlite_auth_service(
        tmp_path, AuthSettings(ldap=ldap, max_failed_logins=100), directory=LdapDirectory(ldap)
    ) as service:

        def median_failure(name: str) -> float:
            times = []
            for i in range(5):
                started = time.perf_counter()
                assert service.identity_for_password(name, f"wrong-password-{i}") is None
                times.append(time.perf_counter() - started)
            return sorted(times)[2]

        local = median_failure("admin")
        for name in ("nobody-here", "carol"):  # unknown anywhere; a directory user
            assert median_failure(name) > 0.5 * local, name


def test_a_guesser_does_not_lock_out_a_client_that_knows_the_password(tmp_path: Path) -> None:
    """Five wrong passwords from anyone locked the user out for the window, the CI job
    using the right one included (and again every window). A password verified
    within the cache period now passes; every other try is still throttled."""
    with sqlite_auth_service(tmp_path, AuthSettings(max_failed_logins=3)) as service:
        admin = service.principal(Identity("admin", is_admin=True), "default")
        service.create_user(admin, "ci", password="right-password-1")
        assert service.identity_for_password("ci", "right-password-1") is not None
        for i in range(3):
            assert service.identity_for_password("ci", f"wrong-guess-{i}") is None
        with pytest.raises(TooManyRequests, match="Too many failed logins"):
            service.identity_for_password("ci", "wrong-guess-4")
        assert service.identity_for_password("ci", "right-password-1") is not None
        session, _ = service.login("ci", "right-password-1")
        assert session.user == "ci"
        with pytest.raises(TooManyRequests, match="Too many failed logins"):
            service.identity_for_password("ci", "wrong-guess-5")
