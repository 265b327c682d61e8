"""Password guessing: one user's wrong passwords are refused (429) once they pass the
limit, while another user logs in at the same moment as fast as before.

A real uvicorn server in a thread (``serve_in_thread``) over SQLite with auth on;
eight client threads guess one user's password through ``POST /api/v1/login`` and
through Basic auth while the main thread logs the other user in, both ways.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from kiln.auth.settings import AuthSettings
from kiln.testing.server import serve_in_thread
from kiln.testing.tenancy import KILN_API, auth_app, basic_auth

pytestmark = [pytest.mark.integration]

ADMIN_PASSWORD = "brute-Admin-Passw0rd-1"
BYSTANDER = "bystander"
HOWS = ("login", "basic")  # the victim of each way of guessing is its own user
PASSWORD = "right-Passw0rd-1"
GUESSES = 48
GUESSERS = 8
SETTINGS = AuthSettings(max_failed_logins=5, failed_login_window_seconds=300)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("brute-force")
    app = auth_app(f"sqlite:///{root / 'kiln.db'}", root, ADMIN_PASSWORD, SETTINGS)
    with serve_in_thread(app) as url:
        admin = basic_auth("admin", ADMIN_PASSWORD)
        with httpx.Client(base_url=url, timeout=30) as http:
            for user in (BYSTANDER, *(f"victim-{how}" for how in HOWS)):
                made = http.post(
                    f"{KILN_API}/admin/users",
                    json={"name": user, "password": PASSWORD},
                    headers=admin,
                )
                assert made.status_code == 201, made.text
                member = f"{KILN_API}/admin/tenants/default/members/{user}"
                assert http.put(member, json={"role": "viewer"}, headers=admin).status_code == 200
        yield url


def _guess(url: str, how: str, stop: threading.Event, found: Counter[int]) -> None:
    victim = f"victim-{how}"
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(GUESSES // GUESSERS):
            wrong = f"wrong-guess-{i}"
            if how == "login":
                answer = http.post("/api/v1/login", json={"name": victim, "password": wrong})
            else:
                answer = http.get(f"{KILN_API}/whoami", headers=basic_auth(victim, wrong))
            found[answer.status_code] += 1
            if stop.is_set():
                return


def _bystander(http: httpx.Client, how: str) -> float:
    start = time.perf_counter()
    if how == "login":
        answer = http.post("/api/v1/login", json={"name": BYSTANDER, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        assert answer.headers["location"].startswith("/api/v1/session/")
    else:
        answer = http.get(f"{KILN_API}/whoami", headers=basic_auth(BYSTANDER, PASSWORD))
        assert answer.status_code == 200, answer.text
        assert answer.json()["user"] == BYSTANDER
    return time.perf_counter() - start


@pytest.mark.parametrize("how", HOWS)
def test_guessing_one_password_is_refused_and_others_log_in(server_url: str, how: str) -> None:
    with httpx.Client(base_url=server_url, timeout=60) as http:
        quiet = [_bystander(http, how) for _ in range(3)]
        found: Counter[int] = Counter()
        stop = threading.Event()
        with ThreadPoolExecutor(GUESSERS) as pool:
            futures = [pool.submit(_guess, server_url, how, stop, found) for _ in range(GUESSERS)]
            busy = [_bystander(http, how) for _ in range(5)]
            for future in futures:
                future.result()
        assert set(found) <= {401, 429}, found
        # a few guesses may race past the limit before their failures are counted
        assert found[401] <= SETTINGS.max_failed_logins + GUESSERS, found
        assert found[429] >= GUESSES - SETTINGS.max_failed_logins - GUESSERS, found
        # the right password does not help while throttled
        victim = f"victim-{how}"
        if how == "login":
            right = http.post("/api/v1/login", json={"name": victim, "password": PASSWORD})
        else:
            right = http.get(f"{KILN_API}/whoami", headers=basic_auth(victim, PASSWORD))
        assert right.status_code == 429, right.text
        assert right.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    # the other user was not slowed down: a login takes what it took before, give or
    # take the machine's load (an argon2 verification is ~50 ms)
    assert statistics.median(busy) < max(1.0, 5 * statistics.median(quiet)), (quiet, busy)
