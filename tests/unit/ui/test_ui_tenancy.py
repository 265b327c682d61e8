"""Every page of the web UI, two tenants and every role: the route matrix.

It walks ``kiln.server.ui.pages.page_routes()``, so a page added later is in it
without a line here (a new path parameter must be given a value in ``_params``,
else its test says so):

* every route has a policy for each method, and nothing but the login is a public
  write;
* a project-admin of ``team-a``, signed in with the browser's session cookie,
  asking any page with ``team-b``'s experiment, run or model gets 404 (never 200
  with b's data, never 500) and never sees b's canary strings; a write naming b's
  objects changes nothing of b;
* a viewer's pages carry no write control (no POST form but sign-out and the
  workspace switcher, no htmx write) and every write page refuses it with 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from markupsafe import escape
from starlette.routing import compile_path

from kiln.auth.roles import Action
from kiln.entities.auth import Role
from kiln.server.ui.core import CSRF_COOKIE, SESSION_COOKIE, SESSION_VALUE_PREFIX, UNSAFE, UiRoute
from kiln.server.ui.pages import page_routes
from kiln.testing.auth_app import AuthServer, auth_server
from kiln.testing.tenancy import Credential, Objects, seed_objects, seed_users, snapshot

PASSWORD = "tenancy-password-1"
CSRF = "c" * 43
# what every page may write as a viewer too: signing out, choosing a workspace
ACCOUNT_POSTS = frozenset({"/logout", "/workspace"})
SIGN_IN = frozenset({"/login", "/logout", "/workspace"})
_FORM = re.compile(r"<form\b[^>]*>", re.IGNORECASE)
_HTMX_WRITE = re.compile(r"\bhx-(post|put|patch|delete)\s*=", re.IGNORECASE)


@dataclass
class World:
    server: AuthServer
    users: dict[tuple[str, Role], Credential]
    a: Objects
    b: Objects

    @property
    def http(self) -> Any:
        return self.server.http

    def browser(self, tenant: str, role: Role) -> Any:
        """The client as that user's browser: its session cookie and a CSRF cookie."""
        http = self.server.http
        http.cookies.clear()
        secret = self.users[tenant, role].session.removeprefix(SESSION_VALUE_PREFIX)
        http.cookies.set(SESSION_COOKIE, secret)
        http.cookies.set(CSRF_COOKIE, CSRF)
        return http

    def state(self, tenant: str) -> dict[str, Any]:
        """Everything of ``tenant``, read through the API by its project-admin."""
        objects = self.a if tenant == "team-a" else self.b
        headers = self.users[tenant, Role.PROJECT_ADMIN].bearer()
        saved = dict(self.http.cookies)
        self.http.cookies.clear()
        try:
            return snapshot(self.http, headers, objects)
        finally:
            for name, value in saved.items():
                self.http.cookies.set(name, value)


def _world(root: Path) -> Iterator[World]:
    with auth_server(root) as server:
        server.http.follow_redirects = False
        users = seed_users(server.http, server.admin, ["team-a", "team-b"], PASSWORD)
        a = seed_objects(server.http, users["team-a", Role.PROJECT_ADMIN].bearer(), "cnryAq7z")
        b = seed_objects(server.http, users["team-b", Role.PROJECT_ADMIN].bearer(), "cnryBx4w")
        yield World(server, users, a, b)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Read-only tests share one world (no test here changes team-a or team-b)."""
    yield from _world(tmp_path_factory.mktemp("tenancy"))


@pytest.fixture
def fresh_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path)


def _params(route: UiRoute, objects: Objects) -> dict[str, str]:
    """A value of ``objects`` for each of the route's path parameters."""
    known = {
        "experiment_id": objects.experiment_id,
        "run_id": objects.run_id,
        "name": objects.model_name,
        "version": objects.version,
    }
    _, _, converters = compile_path(route.path)
    missing = set(converters) - set(known)
    if missing:
        pytest.fail(f"{route.path}: give its path parameters {sorted(missing)} a value here")
    return {name: known[name] for name in converters}


def _path(route: UiRoute, objects: Objects) -> str:
    path = route.path
    for name, value in _params(route, objects).items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def _query(objects: Objects) -> dict[str, str]:
    """What a page may take in its query string, naming ``objects``."""
    return {
        "run": objects.run_id,
        "key": objects.metric_key,
        "path": objects.artifact_file,
        "experiment_id": objects.experiment_id,
    }


def _hostile_query(objects: Objects) -> dict[str, str]:
    """``_query`` and a logged model of ``objects`` (browsed with ``?model=``)."""
    return {**_query(objects), "model": objects.logged_model_id}


def _fields(objects: Objects) -> dict[str, str]:
    """A write's form, naming ``objects`` wherever a field can."""
    return {
        "csrf_token": CSRF,
        "name": "pwned",
        "new_name": "pwned",
        "description": "pwned",
        "alias": objects.alias,
        "version": objects.version,
        "run": objects.run_id,
        "run_id": objects.run_id,
        "run_ids": objects.run_id,
        "experiment_id": objects.experiment_id,
    }


def _routes(method: str) -> list[UiRoute]:
    return [r for r in page_routes() if method in r.policies and r.path not in SIGN_IN]


def _ids(routes: list[UiRoute]) -> list[str]:
    return [r.path for r in routes]


def _without_echo(text: str, sent: list[str]) -> str:
    """``text`` without what the request itself carried (an error may echo it)."""
    for value in sorted(set(sent), key=len, reverse=True):
        for shown in (value, str(escape(value)), quote(value, safe=""), quote(value)):
            text = text.replace(shown, "")
    return text


def _to_login(answer: Any) -> bool:
    return str(answer.headers.get("location", "")).startswith("/login")


def _leaks(answer: Any, marker: str, sent: list[str]) -> bool:
    """Whether ``marker`` is in the answer, other than in what the request carried
    (only those values are taken out: an id like "4" must not cut the marker)."""
    headers = " ".join(f"{k}: {v}" for k, v in answer.headers.items())
    echoed = [value for value in sent if marker in value]
    return marker in _without_echo(answer.text + headers, echoed)


# --- (a) policies ----------------------------------------------------------------------


def test_every_page_has_a_policy_per_method_and_only_the_login_is_a_public_write() -> None:
    routes = page_routes()
    assert len({r.path for r in routes}) == len(routes), "a path is declared twice"
    for route in routes:
        assert route.policies, route.path
        for method, policy in route.policies.items():
            assert method in ("GET", "HEAD", *UNSAFE), (route.path, method)
            if method not in UNSAFE:
                continue
            if route.path in ("/login", "/logout"):  # nobody (or an ended session) yet
                assert policy.public
            elif route.path in ACCOUNT_POSTS:  # the user's own session only
                assert not policy.public
                assert not policy.tenant
            else:  # a write to the tenant's data: a tenant role that may write
                assert not policy.public, route.path
                assert policy.tenant, route.path
                assert policy.action not in (None, Action.READ), route.path


# --- (b) another tenant's objects ------------------------------------------------------


@pytest.mark.parametrize("route", _routes("GET"), ids=_ids(_routes("GET")))
def test_another_tenants_objects_are_not_found_on_any_page(world: World, route: UiRoute) -> None:
    http = world.browser("team-a", Role.PROJECT_ADMIN)
    b, a = world.b, world.a
    path = _path(route, b)
    queries: list[dict[str, Any]] = [_query(b), _hostile_query(b)]
    if "{" not in route.path:  # a page of ids in its query: b's alone, and mixed with a's
        queries.append({k: [_hostile_query(a)[k], v] for k, v in _hostile_query(b).items()})
    for query in queries:
        answer = http.get(path, params=query)
        sent = [path, *_params(route, b).values(), *(str(v) for v in query.values())]
        sent += [v for vs in query.values() if isinstance(vs, list) for v in vs]
        assert answer.status_code < 500, (path, query, answer.text[:300])
        assert not _to_login(answer), path  # signed in: the page itself answered
        if "{" in route.path:
            assert answer.status_code == 404, (path, answer.status_code, answer.text[:300])
        assert not _leaks(answer, b.marker, sent), (path, query, answer.text[:500])
    if "{" in route.path:  # not found as team-b's, yet the page finds team-a's own
        own = http.get(_path(route, a), params=_query(a))
        assert own.status_code not in (404, 500), (route.path, own.text[:300])
        # team-a's object in the path, team-b's ids in the query (a logged model, a run)
        mixed = http.get(_path(route, a), params=_hostile_query(b))
        assert mixed.status_code < 500, (route.path, mixed.text[:300])
        sent = list(_hostile_query(b).values())
        assert not _leaks(mixed, b.marker, sent), mixed.text[:500]


_OBJECT_WRITES = [r for r in _routes("POST") if "{" in r.path]


@pytest.mark.parametrize("route", _OBJECT_WRITES, ids=_ids(_OBJECT_WRITES))
def test_a_write_naming_another_tenants_objects_changes_nothing_there(
    world: World, route: UiRoute
) -> None:
    before = world.state("team-b")
    http = world.browser("team-a", Role.PROJECT_ADMIN)
    b = world.b
    path = _path(route, b)
    answer = http.post(path, data=_fields(b))
    assert answer.status_code in (400, 403, 404), (path, answer.status_code, answer.text[:300])
    assert "CSRF token is missing" not in answer.text
    sent = [path, *_params(route, b).values(), *_fields(b).values()]
    assert not _leaks(answer, b.marker, sent), answer.text[:500]
    assert world.state("team-b") == before


def test_a_write_in_ones_own_tenant_naming_the_others_objects_changes_nothing_there(
    fresh_world: World,
) -> None:
    """Each write page with team-a's objects in its path and team-b's in its form
    (run ids to delete, a version to alias): only team-a's own objects may change."""
    world = fresh_world
    before = world.state("team-b")
    http = world.browser("team-a", Role.PROJECT_ADMIN)
    for route in _routes("POST"):
        path = _path(route, world.a)
        answer = http.post(path, data=_fields(world.b))
        assert answer.status_code < 500, (path, answer.text[:300])
        assert not _leaks(answer, world.b.marker, list(_fields(world.b).values())), path
    assert world.state("team-b") == before


# --- (c) a viewer ----------------------------------------------------------------------


def _write_controls(html: str) -> list[str]:
    """The POST forms (but the account's) and htmx writes of a page."""
    found = []
    for form in _FORM.findall(html):
        method = re.search(r"""method\s*=\s*["']?(\w+)""", form, re.IGNORECASE)
        action = re.search(r"""action\s*=\s*["']([^"']*)""", form, re.IGNORECASE)
        posts = method is not None and method.group(1).lower() == "post"
        if posts and (action is None or action.group(1) not in ACCOUNT_POSTS):
            found.append(form)
    found.extend(m.group(0) for m in _HTMX_WRITE.finditer(html))
    return found


def test_a_viewers_pages_carry_no_write_control(world: World) -> None:
    a = world.a
    shown: dict[str, list[str]] = {}
    for role in (Role.VIEWER, Role.PROJECT_ADMIN):
        http = world.browser("team-a", role)
        for route in _routes("GET"):
            path = _path(route, a)
            answer = http.get(path, params=_query(a))
            assert answer.status_code < 500, (role, path, answer.text[:300])
            assert not _to_login(answer), path
            shown[f"{role.label} {path}"] = _write_controls(answer.text)
    viewer = {page: forms for page, forms in shown.items() if page.startswith("viewer ")}
    assert {page: forms for page, forms in viewer.items() if forms} == {}
    # the check sees write controls where there are some: a project-admin's pages
    assert any(forms for page, forms in shown.items() if page.startswith("project-admin "))


@pytest.mark.parametrize("route", _routes("POST"), ids=_ids(_routes("POST")))
def test_a_viewers_write_is_refused_with_403(world: World, route: UiRoute) -> None:
    before = world.state("team-a")
    http = world.browser("team-a", Role.VIEWER)
    path = _path(route, world.a)
    answer = http.post(path, data=_fields(world.a))
    assert answer.status_code == 403, (path, answer.status_code, answer.text[:300])
    assert "CSRF token is missing" not in answer.text  # refused for the role, not the form
    assert world.state("team-a") == before
