"""The UI's route builder, static files and headers (kiln.server.ui.core, render)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.responses import PlainTextResponse, Response

from kiln.server.app import create_app
from kiln.server.policy import READ, WRITE, PolicyRoute
from kiln.server.ui import core
from kiln.server.ui.core import CSRF_COOKIE, Page, build, ui_route
from kiln.server.ui.pages import page_routes
from kiln.server.ui.render import PAGE_CSP, Templates, page_url, static_url
from kiln.testing.auth_app import sqlite_settings
from kiln.testing.server import asgi_client


@pytest.fixture
def http(tmp_path: Path) -> Any:
    with asgi_client(
        create_app(sqlite_settings(tmp_path)), raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def test_home_redirects_to_experiments_and_sets_an_httponly_csrf_cookie(http: Any) -> None:
    answer = http.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/experiments"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert answer.headers["content-security-policy"] == PAGE_CSP
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_static_files_are_served_with_a_long_cache_and_nothing_outside(http: Any) -> None:
    vendored = http.get(static_url("vendor/htmx-2.0.11.min.js"))
    assert vendored.status_code == 200
    assert "immutable" in vendored.headers["cache-control"]
    assert vendored.headers["x-content-type-options"] == "nosniff"
    assert http.get(static_url("vendor/LICENSE.uPlot")).status_code == 200
    for bad in ("../core.py", "..%2Fcore.py", "%2e%2e/core.py", "", "vendor", "/etc/passwd"):
        assert http.get(f"/ui/static/{bad}").status_code == 404, bad


def test_every_ui_route_has_a_policy_for_each_method(tmp_path: Path) -> None:
    app = create_app(sqlite_settings(tmp_path))  # check_policies ran: it would raise
    ui_paths = {route.path for route in page_routes()}
    served = {r.path for r in app.routes if isinstance(r, PolicyRoute)}
    assert ui_paths <= served
    for route in page_routes():
        assert route.policies, route.path


def _echo(page: Page) -> Response:
    return PlainTextResponse(f"{page.principal.user}:{page.field('x')}")


def _app_with(tmp_path: Path, *routes: core.UiRoute) -> Any:
    app = create_app(sqlite_settings(tmp_path))
    ctx = core.UiContext(None, None, lambda scope: None, Templates())  # type: ignore[arg-type,return-value]
    for route in routes:
        app.router.routes.insert(0, build(route, ctx))
    return app


def test_an_unsafe_request_needs_the_csrf_cookie_and_the_same_token(tmp_path: Path) -> None:
    route = ui_route("/t/echo", _echo, policy={"GET": READ, "POST": WRITE})
    app = _app_with(tmp_path, route)
    with asgi_client(app, raise_server_exceptions=False, follow_redirects=False) as http:
        first = http.get("/t/echo?x=1")
        assert first.status_code == 200
        token = http.cookies[CSRF_COOKIE]
        assert http.post("/t/echo", data={"x": "2"}).status_code == 403
        assert http.post("/t/echo", data={"x": "2", "csrf_token": "w" * 43}).status_code == 403
        posted = http.post("/t/echo", data={"x": "2", "csrf_token": token})
        assert posted.status_code == 200
        assert posted.text.endswith(":2")
        by_header = http.post("/t/echo", data={"x": "3"}, headers={"X-CSRF-Token": token})
        assert by_header.text.endswith(":3")
        http.cookies.clear()  # a fresh browser: no cookie, so no token can match
        assert http.post("/t/echo", data={"x": "4", "csrf_token": token}).status_code == 403


def test_page_url_keeps_non_empty_values_and_repeats_lists() -> None:
    assert page_url("/compare", run=["a", "b"], diff="", x=None) == "/compare?run=a&run=b"
    assert page_url("/e", filter="metrics.rmse < 0.8") == "/e?filter=metrics.rmse+%3C+0.8"


def test_a_signed_in_users_error_page_keeps_the_navigation_and_account(tmp_path: Path) -> None:
    from kiln.testing.auth_app import auth_server

    with auth_server(tmp_path) as server:
        answer = server.http.get("/runs/" + "0" * 32, headers=server.admin)
        assert answer.status_code == 404
        assert 'href="/models"' in answer.text
        assert "Sign out" in answer.text


def test_the_login_page_shows_no_navigation_before_sign_in(tmp_path: Path) -> None:
    from kiln.testing.auth_app import auth_server

    with auth_server(tmp_path) as server:
        login = server.http.get("/login", follow_redirects=False)
        assert login.status_code == 200
        assert 'href="/models"' not in login.text
