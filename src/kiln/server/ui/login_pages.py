"""Signing in to the web UI: ``/login``, ``/logout`` and ``/workspace`` (auth on only).

``POST /login`` checks the password with ``AuthService.login`` (the throttle and
the audit line of the API's login) and puts the new session's secret in the
``kiln_session`` cookie (``HttpOnly; SameSite=Lax``, no longer than the session's
absolute end; the server ends it sooner when idle). Then the browser goes to
``next``, a path of this site only (never ``//host`` or ``https://...``: no open
redirect), with the MLflow ``#/...`` fragment the login page's script kept, since a
fragment is not sent with a form post. ``/workspace`` moves the session to another
tenant the user holds a role in (a browser sends no ``X-MLFLOW-WORKSPACE``).

With auth off there is nobody to sign in: ``/login`` sends the browser on to the
experiments and the posts answer 404.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response

from kiln.auth.service import AuthService
from kiln.errors import InvalidInput, NotFound, TooManyRequests, Unauthenticated
from kiln.server.policy import PUBLIC, SIGNED_IN
from kiln.server.ui.core import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_VALUE_PREFIX,
    Page,
    UiRoute,
    ui_route,
)

HOME = "/experiments"
MAX_NEXT_CHARS = 2000
# what ``next`` may be: a path of this site ("/x", never "//x" nor "/\x", which
# browsers read as another host), printable ASCII without a backslash
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*")
# the MLflow link fragment kept across the login (``#/experiments/1/runs/x``)
_HASH = re.compile(r"#/[A-Za-z0-9/_\-.~%?=&:+,;@!$'()*\[\]]*")
# sections a workspace switch goes back to (an object's page is the old tenant's)
_SECTIONS = ("/experiments", "/models")


def safe_next(target: str) -> str:
    """``target`` when it is a path of this site (not the login page), else the home."""
    if len(target) > MAX_NEXT_CHARS or not _LOCAL_PATH.fullmatch(target):
        return HOME
    if target == "/login" or target.startswith(("/login?", "/login#")):
        return HOME
    return target


def _with_hash(target: str, fragment: str) -> str:
    if "#" in target or len(fragment) > MAX_NEXT_CHARS or not _HASH.fullmatch(fragment):
        return target
    return target + fragment


def _auth(page: Page) -> AuthService:
    """The server's ``AuthService``; a 404 with auth off (there are no accounts)."""
    if page.ctx.auth is None:
        raise NotFound("there is no sign-in: this server runs without auth")
    return page.ctx.auth


def _session_value(page: Page) -> str | None:
    """The ``X-BDS-SESSION`` value of the browser's session cookie, if it sent one."""
    secret = page.request.cookies.get(SESSION_COOKIE, "")
    return SESSION_VALUE_PREFIX + secret if secret else None


def login_page(page: Page) -> Response:
    """GET: the form; POST: sign in."""
    return login(page) if page.request.method == "POST" else login_form(page)


def login_form(page: Page) -> Response:
    auth = page.ctx.auth
    target = safe_next(page.field("next"))
    if auth is None:
        return RedirectResponse(HOME, status_code=303)
    value = _session_value(page)
    if value is not None and auth.identity_for_session(value) is not None:
        # signed in already; a session whose workspace took the user's role away
        # moves to one the user still holds (else every page would be not found)
        auth.land_session(value)
        return RedirectResponse(target, status_code=303)
    return _form(page, target)


def _form(
    page: Page, target: str, *, name: str = "", error: str = "", status: int = 200
) -> Response:
    return page.render("login.html", status, next=target, name=name, error=error)


def login(page: Page) -> Response:
    auth = _auth(page)
    name, target = page.field("name").strip(), safe_next(page.field("next"))
    try:
        session, value = auth.login(name, page.field("password"))
    except Unauthenticated as exc:
        return _form(page, target, name=name, error=str(exc), status=401)
    except TooManyRequests as exc:
        return _form(page, target, name=name, error=str(exc), status=429)
    session = auth.land_session(value)
    previous = _session_value(page)
    if previous is not None:
        auth.logout(previous)  # the browser's older session ends with its cookie
    lifetime_s = max(0, (session.expires_at - auth.clock()) // 1000)
    page.cookies.append((SESSION_COOKIE, value.removeprefix(SESSION_VALUE_PREFIX), lifetime_s))
    # a new CSRF token with the new session: one planted before the login is worth nothing
    page.cookies.append((CSRF_COOKIE, secrets.token_urlsafe(32), None))
    return page.redirect(_with_hash(target, page.field("hash")))


def logout(page: Page) -> Response:
    auth = _auth(page)
    value = _session_value(page)
    if value is not None:
        auth.logout(value)
    page.cookies.append((SESSION_COOKIE, "", 0))
    return page.redirect("/login")


def switch_workspace(page: Page) -> Response:
    auth = _auth(page)
    value = _session_value(page)
    if value is None:
        raise InvalidInput(
            "only a browser session switches workspaces; "
            "a token or password names one with the X-MLFLOW-WORKSPACE header"
        )
    auth.switch_session_tenant(value, page.field("workspace"))
    if page.field("next"):  # a link into that workspace (core's workspace_link page)
        return page.redirect(safe_next(page.field("next")))
    return page.redirect(_section_of(page.request.headers.get("referer", "")))


def _section_of(referer: str) -> str:
    """The section of the page the switch was made on (its list page): an
    experiment, run or model of the old workspace is not found in the new one."""
    try:
        path = urlsplit(referer).path
    except ValueError:
        return HOME
    for section in _SECTIONS:
        if path == section or path.startswith(section + "/"):
            return section
    return HOME


ROUTES: list[UiRoute] = [
    # the login page and its post are public: nobody is signed in yet (the post is
    # still CSRF-checked: the form carries the token of the page that showed it)
    ui_route("/login", login_page, policy={"GET": PUBLIC, "POST": PUBLIC}, name="ui-login"),
    # public: signing out of a session that already ended must still clear its cookie
    # (the post is CSRF-checked, so no other site can sign a user out)
    ui_route("/logout", logout, policy=PUBLIC, methods=("POST",), name="ui-logout"),
    ui_route(
        "/workspace", switch_workspace, policy=SIGNED_IN, methods=("POST",), name="ui-workspace"
    ),
]

__all__ = ["ROUTES", "safe_next"]
