"""Signing in to the web UI (kiln.server.ui.login_pages): the login form and its
cookie, CSRF on every post, logout, no open redirect, the workspace switcher, and
the API's credentials on pages; in process over a real SQLite store with auth on.

A probe page (``/t/probe``: GET is READ, POST is WRITE) says who a request acts as,
so these tests do not depend on what the other pages show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.responses import PlainTextResponse, Response

from kiln.entities.auth import Role
from kiln.errors import Unauthenticated
from kiln.server.app import create_app
from kiln.server.policy import READ, WRITE
from kiln.server.ui.core import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_VALUE_PREFIX,
    Page,
    UiContext,
    build,
    ui_route,
)
from kiln.server.ui.login_pages import safe_next
from kiln.server.ui.pages import NAV
from kiln.server.ui.render import Templates
from kiln.testing.auth_app import ADMIN_PASSWORD, AuthServer, auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import bearer_auth, in_workspace


def _probe(page: Page) -> Response:
    """Who the request acts as; ``?render=1``: the page layout (the account block)."""
    if page.field("render"):
        return page.render("base.html")
    role = page.principal.role.label if page.principal.role is not None else "-"
    return PlainTextResponse(f"{page.principal.user}:{page.principal.tenant}:{role}")


def _add_probe(app: Any, ctx: UiContext) -> None:
    ctx.templates.env.globals["nav"] = NAV
    route = ui_route("/t/probe", _probe, policy={"GET": READ, "POST": WRITE})
    app.router.routes.insert(0, build(route, ctx))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path, max_failed_logins=3) as made:
        _add_probe(made.http.app, UiContext(made.service, None, _no_stores, Templates()))
        made.http.follow_redirects = False
        yield made


def _no_stores(scope: Any) -> Any:
    return None  # the probe reads no store


def _csrf(http: Any) -> str:
    """The CSRF token a page gave this browser (asking the login form first)."""
    if CSRF_COOKIE not in http.cookies:
        assert http.get("/login").status_code in (200, 303)
    token: str = http.cookies[CSRF_COOKIE]
    return token


def _login(http: Any, name: str, password: str, **more: str) -> Any:
    fields = {"name": name, "password": password, "csrf_token": _csrf(http), **more}
    return http.post("/login", data=fields)


def _set_cookies(answer: Any) -> dict[str, str]:
    """The Set-Cookie headers of ``answer`` by cookie name."""
    found = {}
    for header in answer.headers.get_list("set-cookie"):
        found[header.split("=", 1)[0]] = header
    return found


def test_a_page_asked_without_signing_in_goes_to_the_login_form(server: AuthServer) -> None:
    http = server.http
    home = http.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/experiments")
    for path in ("/experiments", "/t/probe?x=1&y=a%20b"):
        answer = http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"
    http.cookies.clear()  # a first visit: the form sets the CSRF cookie
    form = http.get("/login", params={"next": "/t/probe?x=1"})
    assert form.status_code == 200
    assert 'name="next" value="/t/probe?x=1"' in form.text
    assert 'name="csrf_token"' in form.text
    assert "js/login.js" in form.text
    assert "Sign out" not in form.text  # nobody is signed in: no account block
    assert "HttpOnly" in _set_cookies(form)[CSRF_COOKIE]
    # a post from nobody is refused (401), not sent to the login form
    assert http.post("/t/probe", data={"csrf_token": _csrf(http)}).status_code == 401


def test_signing_in_sets_an_httponly_lax_session_cookie_and_goes_on(server: AuthServer) -> None:
    http = server.http
    answer = _login(http, "admin", ADMIN_PASSWORD, next="/t/probe?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/t/probe?x=1"
    cookie = _set_cookies(answer)[SESSION_COOKIE]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    max_age = int(cookie.lower().split("max-age=")[1].split(";")[0])
    assert 12 * 3600 - 60 <= max_age <= 12 * 3600  # never past the session's absolute end
    secret = http.cookies[SESSION_COOKIE]
    assert server.service.session_info(SESSION_VALUE_PREFIX + secret).user == "admin"
    assert http.get("/t/probe").text == "admin:default:project-admin"
    page = http.get("/t/probe", params={"render": 1})
    assert "Sign out" in page.text
    assert 'action="/workspace"' in page.text
    assert secret not in page.text  # the page's script can never read the secret
    assert http.get("/login").headers["location"] == "/experiments"  # signed in already
    logins = server.service.audit.list_events(action="auth.login").items
    assert [e.actor for e in logins] == ["admin"]


def test_an_mlflow_fragment_survives_the_login(server: AuthServer) -> None:
    http = server.http
    fragment = "#/experiments/1/runs/0123abc"
    answer = _login(http, "admin", ADMIN_PASSWORD, next="/experiments", hash=fragment)
    assert answer.headers["location"] == "/experiments" + fragment
    http.cookies.clear()
    for bad in ("#javascript:alert(1)", '#/"><script>', "#/a b", "/x"):
        answer = _login(http, "admin", ADMIN_PASSWORD, next="/experiments", hash=bad)
        assert answer.headers["location"] == "/experiments", bad
        http.cookies.clear()


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/experiments",
        "https://evil.example",
        "http://127.0.0.1.evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "experiments",
        "",
        "/login?next=/login",
        "/" + "a" * 3000,
    ],
)
def test_no_open_redirect(server: AuthServer, target: str) -> None:
    assert safe_next(target) == "/experiments"
    answer = _login(server.http, "admin", ADMIN_PASSWORD, next=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/experiments"


def test_a_local_next_is_kept() -> None:
    for target in ("/runs/abc", "/experiments/1?filter=metrics.rmse%20%3C%201&view=all", "/"):
        assert safe_next(target) == target


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    server: AuthServer,
) -> None:
    http = server.http
    server.tenant("team-a")
    _csrf(http)  # the browser holds a CSRF cookie, but the forms below leave it out
    refused = http.post("/login", data={"name": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    assert SESSION_COOKIE not in http.cookies
    assert _login(http, "admin", ADMIN_PASSWORD).status_code == 303
    value = SESSION_VALUE_PREFIX + http.cookies[SESSION_COOKIE]
    wrong = {"csrf_token": "w" * 43}
    for path, fields in (("/workspace", {"workspace": "team-a"}), ("/logout", {})):
        for sent in (fields, {**fields, **wrong}):
            assert http.post(path, data=sent).status_code == 403, (path, sent)
    assert server.service.session_info(value).tenant == "default"  # neither switched ...
    assert http.get("/t/probe").text == "admin:default:project-admin"  # ... nor ended
    assert not server.service.audit.list_events(action="auth.switch_tenant").items


def test_a_wrong_password_shows_the_form_again_with_401(server: AuthServer) -> None:
    http = server.http
    password = server.user("alice", "default", "member")
    answer = _login(http, "alice", "not-her-password", next="/t/probe")
    assert answer.status_code == 401
    assert "wrong user name or password" in answer.text
    assert 'value="alice"' in answer.text
    assert 'value="/t/probe"' in answer.text
    assert SESSION_COOKIE not in _set_cookies(answer)
    assert SESSION_COOKIE not in http.cookies
    assert _login(http, "nobody", "x").status_code == 401
    assert _login(http, "alice", password).status_code == 303  # not yet throttled


def test_a_throttled_user_hears_429_with_the_reason(server: AuthServer) -> None:
    http = server.http
    password = server.user("alice", "default", "member")
    for _ in range(3):
        assert _login(http, "alice", "guess-guess-1").status_code == 401
    answer = _login(http, "alice", password)
    assert answer.status_code == 429
    assert "alert-error" in answer.text
    assert SESSION_COOKIE not in http.cookies


def test_logout_ends_the_session_for_good(server: AuthServer) -> None:
    http = server.http
    assert _login(http, "admin", ADMIN_PASSWORD).status_code == 303
    secret = http.cookies[SESSION_COOKIE]
    answer = http.post("/logout", data={"csrf_token": _csrf(http)})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    cleared = _set_cookies(answer)[SESSION_COOKIE]
    assert 'kiln_session="";' in cleared or "kiln_session=;" in cleared
    assert "max-age=0" in cleared.lower()
    with pytest.raises(Unauthenticated, match="log in again"):
        server.service.session_info(SESSION_VALUE_PREFIX + secret)
    http.cookies.clear()
    http.cookies.set(SESSION_COOKIE, secret)  # a copy of the old cookie does not work
    assert http.get("/t/probe").headers["location"].startswith("/login?next=")
    assert [e.actor for e in server.service.audit.list_events(action="auth.logout").items] == [
        "admin"
    ]


def test_a_second_login_ends_the_browsers_first_session(server: AuthServer) -> None:
    http = server.http
    _login(http, "admin", ADMIN_PASSWORD)
    first = SESSION_VALUE_PREFIX + http.cookies[SESSION_COOKIE]
    _login(http, "admin", ADMIN_PASSWORD)
    with pytest.raises(Unauthenticated, match="log in again"):
        server.service.session_info(first)
    assert http.get("/t/probe").status_code == 200


def test_the_workspace_switcher_moves_the_session(server: AuthServer) -> None:
    http = server.http
    for tenant in ("team-a", "team-b", "team-c"):
        server.tenant(tenant)
    password = server.user("alice", "team-a", "member")
    server.service.grant(_admin(server), "alice", "team-b", Role.VIEWER)
    # alice holds roles in two workspaces and names none: she lands in the first
    assert _login(http, "alice", password).status_code == 303
    assert http.get("/t/probe").text == "alice:team-a:member"
    page = http.get("/t/probe", params={"render": 1}).text
    assert '<option value="team-a" selected>' in page
    assert '<option value="team-b" >' in page
    assert "team-c" not in page
    assert ">default<" not in page
    assert "js/account.js" in page
    token = _csrf(http)
    moved = http.post(
        "/workspace",
        data={"workspace": "team-b", "csrf_token": token},
        headers={"Referer": "http://127.0.0.1/models/some-model/versions/3"},
    )
    assert (moved.status_code, moved.headers["location"]) == (303, "/models")
    assert http.get("/t/probe").text == "alice:team-b:viewer"
    # a workspace she holds no role in, or none at all: not found, and she stays
    for tenant in ("team-c", "default", "no-such-team", "BAD NAME"):
        refused = http.post("/workspace", data={"workspace": tenant, "csrf_token": token})
        assert refused.status_code in (400, 403, 404), tenant
        assert "team-c" not in refused.text or tenant == "team-c"
    assert http.get("/t/probe").text == "alice:team-b:viewer"
    back = http.post("/workspace", data={"workspace": "team-a", "csrf_token": token})
    assert back.headers["location"] == "/experiments"  # no Referer
    assert http.get("/t/probe").text == "alice:team-a:member"
    switches = server.service.audit.list_events(action="auth.switch_tenant").items
    assert [(e.actor, e.tenant) for e in reversed(switches)] == [
        ("alice", "team-a"),  # the landing at login
        ("alice", "team-b"),
        ("alice", "team-a"),
    ]


def test_the_login_page_moves_a_session_whose_workspace_took_the_role_away(
    server: AuthServer,
) -> None:
    http = server.http
    for tenant in ("team-a", "team-b"):
        server.tenant(tenant)
    password = server.user("alice", "team-b", "member")
    server.service.grant(_admin(server), "alice", "team-a", Role.VIEWER)
    _login(http, "alice", password, next="/t/probe")
    http.post("/workspace", data={"workspace": "team-b", "csrf_token": _csrf(http)})
    assert http.get("/t/probe").text == "alice:team-b:member"
    server.service.revoke(_admin(server), "alice", "team-b")
    assert http.get("/t/probe").status_code == 404  # workspace 'team-b' not found
    again = http.get("/login", params={"next": "/t/probe"})
    assert (again.status_code, again.headers["location"]) == (303, "/t/probe")
    assert http.get("/t/probe").text == "alice:team-a:viewer"


def test_an_admin_switches_to_any_workspace(server: AuthServer) -> None:
    http = server.http
    server.tenant("team-a")
    _login(http, "admin", ADMIN_PASSWORD)
    page = http.get("/t/probe", params={"render": 1}).text
    assert '<option value="team-a" >' in page
    assert '<option value="default" selected>' in page
    answer = http.post("/workspace", data={"workspace": "team-a", "csrf_token": _csrf(http)})
    assert answer.status_code == 303
    assert http.get("/t/probe").text == "admin:team-a:project-admin"


def test_bearer_tokens_and_basic_still_work_on_pages(server: AuthServer) -> None:
    http = server.http
    server.tenant("team-a")
    password = server.user("alice", "team-a", "member")
    token = server.token("alice", password, "team-a")
    assert http.get("/t/probe", headers=bearer_auth(token)).text == "alice:team-a:member"
    basic = in_workspace(server.admin, "team-a")
    assert http.get("/t/probe", headers=basic).text == "admin:team-a:project-admin"
    page = http.get("/t/probe", params={"render": 1}, headers=bearer_auth(token)).text
    assert 'action="/workspace"' not in page  # no session to switch: the tenant shown
    assert '<span class="tenant" title="workspace">team-a</span>' in page
    csrf = {"csrf_token": _csrf(http)}
    assert http.post("/t/probe", data=csrf, headers=bearer_auth(token)).status_code == 200
    refused = http.post("/workspace", data={**csrf, "workspace": "team-a"}, headers=basic)
    assert refused.status_code == 400
    wrong = http.get("/t/probe", headers=bearer_auth("kiln_pat_wrong"))
    assert wrong.headers["location"].startswith("/login?next=")  # a page: sign in


def _admin(server: AuthServer) -> Any:
    identity = server.service.identity_for_password("admin", ADMIN_PASSWORD)
    assert identity is not None
    return server.service.principal(identity, None)


def test_with_auth_off_there_is_no_login(tmp_path: Path) -> None:
    app = create_app(sqlite_settings(tmp_path))
    _add_probe(app, UiContext(None, None, _no_stores, Templates()))
    with asgi_client(app, raise_server_exceptions=False, follow_redirects=False) as http:
        answer = http.get("/login", params={"next": "/runs/x"})
        assert (answer.status_code, answer.headers["location"]) == (303, "/experiments")
        token = http.cookies[CSRF_COOKIE]
        for path in ("/login", "/logout", "/workspace"):
            sent = {"csrf_token": token, "name": "admin", "password": "x", "workspace": "a"}
            refused = http.post(path, data=sent)
            assert refused.status_code == 404, path
            assert "without auth" in refused.text
        assert SESSION_COOKIE not in http.cookies
        page = http.get("/t/probe", params={"render": 1})
        assert page.status_code == 200
        assert "Sign out" not in page.text
        assert "/workspace" not in page.text


def test_a_login_gives_the_browser_a_new_csrf_token(server: AuthServer) -> None:
    http = server.http
    planted = _csrf(http)
    answer = _login(http, "admin", ADMIN_PASSWORD)
    assert answer.status_code == 303
    assert _set_cookies(answer)[CSRF_COOKIE] != planted
    assert http.cookies[CSRF_COOKIE] != planted


def test_signing_out_of_an_ended_session_still_clears_its_cookie(server: AuthServer) -> None:
    http = server.http
    assert _login(http, "admin", ADMIN_PASSWORD).status_code == 303
    session = http.cookies[SESSION_COOKIE]
    server.service.logout(SESSION_VALUE_PREFIX + session)  # ended on the server side
    answer = http.post("/logout", data={"csrf_token": _csrf(http)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert SESSION_COOKIE not in http.cookies
