"""Ezmeral-style login sessions over HTTP (kiln.server.session_routes); real SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.testing.auth_app import KILN_API, AuthServer, auth_server

LOGIN = "/api/v1/login"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def kiln(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path, max_failed_logins=3, failed_login_window_seconds=60) as server:
        server.tenant("team-a")
        yield server


def login(kiln: AuthServer, body: object, headers: dict[str, str] | None = None) -> object:
    """POST the login as ``curl -d @login.json`` does (a form Content-Type)."""
    return kiln.http.post(LOGIN, content=json.dumps(body).encode(), headers=headers or FORM)


def test_login_with_a_form_content_type_opens_a_session(kiln: AuthServer) -> None:
    password = kiln.user("sam", "team-a", "member")
    answer = kiln.http.post(
        LOGIN, content=json.dumps({"name": "sam", "password": password}), headers=FORM
    )
    assert answer.status_code == 201
    location = answer.headers["location"]
    assert location.startswith("/api/v1/session/")
    assert answer.json()["user"] == "sam"
    assert answer.json()["tenant"] == "team-a"
    assert location.rsplit("/", 1)[1] not in answer.text  # the secret is only in Location
    who = kiln.http.get(f"{KILN_API}/whoami", headers={"X-BDS-SESSION": location}).json()
    assert (who["user"], who["tenant"], who["role"], who["via"]) == (
        "sam",
        "team-a",
        "member",
        "session",
    )
    shown = kiln.http.get(location)
    assert shown.status_code == 200
    assert shown.json()["session_id"] == answer.json()["session_id"]
    assert shown.json()["expires_at"] > shown.json()["created_at"]
    assert kiln.http.delete(location).status_code == 204
    assert kiln.http.get(location).status_code == 401
    assert kiln.http.delete(location).status_code == 401
    gone = kiln.http.get(f"{KILN_API}/whoami", headers={"X-BDS-SESSION": location})
    assert gone.status_code == 401


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
def test_login_reads_json_whatever_the_content_type(kiln: AuthServer, content_type: str) -> None:
    body = {"name": "admin", "password": "admin-password-1"}
    answer = kiln.http.post(LOGIN, content=json.dumps(body), headers={"Content-Type": content_type})
    assert answer.status_code == 201


def test_login_in_a_named_tenant(kiln: AuthServer) -> None:
    password = kiln.user("tia", "team-a", "viewer")
    kiln.tenant("team-b")
    ok = kiln.http.post(LOGIN, json={"name": "tia", "password": password, "tenant": "team-a"})
    assert ok.json()["tenant"] == "team-a"
    elsewhere = kiln.http.post(
        LOGIN, json={"name": "tia", "password": password, "tenant": "team-b"}
    )
    assert elsewhere.status_code == 404


def test_cross_site_login_is_refused(kiln: AuthServer) -> None:
    body = json.dumps({"name": "admin", "password": "admin-password-1"})
    answer = kiln.http.post(
        LOGIN,
        content=body,
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert kiln.service.store.list_users()  # nothing else happened
    assert not [e for e in kiln.service.audit.list_events().items if e.action == "auth.login"]


def test_wrong_password_is_401_then_throttled_while_others_log_in(kiln: AuthServer) -> None:
    password = kiln.user("ann", "team-a", "member")
    for _ in range(3):
        wrong = kiln.http.post(LOGIN, json={"name": "ann", "password": "wrong-password"})
        assert wrong.status_code == 401
        assert wrong.json()["error_code"] == "UNAUTHENTICATED"
    throttled = kiln.http.post(LOGIN, json={"name": "ann", "password": password})
    assert throttled.status_code == 429
    assert throttled.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    other = kiln.http.post(LOGIN, json={"name": "admin", "password": "admin-password-1"})
    assert other.status_code == 201
    failed = [e for e in kiln.service.audit.list_events().items if e.action == "auth.login_failed"]
    assert len(failed) >= 3


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"not json", "malformed JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"name": "admin"}', "'password'"),
        (b'{"name": 5, "password": "x"}', "'name' must be a string"),
        (b"", "'name'"),
    ],
)
def test_bad_login_bodies_are_400(kiln: AuthServer, raw: bytes, match: str) -> None:
    answer = kiln.http.post(LOGIN, content=raw, headers=FORM)
    assert answer.status_code == 400
    assert match in answer.json()["message"]


def test_a_huge_login_body_is_refused_unread(kiln: AuthServer) -> None:
    answer = kiln.http.post(LOGIN, content=b"{" + b" " * (65 * 1024) + b"}", headers=FORM)
    assert answer.status_code == 400
    assert "larger than 65536 bytes" in answer.json()["message"]


@pytest.mark.parametrize(("secret", "status"), [("nope", 401), ("x" * 500, 401), ("%00", 401)])
def test_unknown_sessions_are_401(kiln: AuthServer, secret: str, status: int) -> None:
    assert kiln.http.get(f"/api/v1/session/{secret}").status_code == status
    assert kiln.http.delete(f"/api/v1/session/{secret}").status_code == status
