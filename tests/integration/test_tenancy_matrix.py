"""The cross-tenant matrix, generated from the app's route table (issue 13's Acceptance).

One server with auth on per backend (SQLite, PostgreSQL), in-process: tenants A
and B, a user of every role in each (``kiln.testing.tenancy.seed_users``), one
object of every kind in each (``seed_objects``), B's with a canary string in every
name, tag and description. Every (method, path) the app serves -- each Starlette
route per method, and the fast lane -- has a case in ``tenancy_cases.CASES``; a
route without one fails ``test_every_route_has_a_case``. For every case:

* no credentials -> 401 (unless public);
* every role of A, with B's ids -> 404 (403 when the role is too low), never 2xx,
  with a token (bound to A), with a password and with a login session;
* A's password with ``X-MLFLOW-WORKSPACE: B`` -> 404; A's token or login session
  (both bound to A) with it -> 403;
* no answer to A holds B's canary (other than what A's own request sent);
* inside A, the role table holds: too low -> 403, enough -> served;
* B's objects, rows and artifact listings are unchanged after all of it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route
from tenancy_cases import ALIASES, CASES, PUBLIC, SIGNED_IN, Call, Case, Ctx, canonical

from kiln.auth.roles import Action, role_allows
from kiln.entities.auth import Role
from kiln.server.ui.core import PageRoute
from kiln.testing.postgres import temporary_database
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import (
    KILN_API,
    Credential,
    Objects,
    auth_app,
    basic_auth,
    seed_objects,
    seed_users,
    snapshot,
)

pytestmark = [pytest.mark.integration]

TENANT_A, TENANT_B = "team-a", "team-b"
CANARY = "zqcanary7b"  # in every name, tag and description of B's objects
MARK_A = "alphaseed"
PASSWORD = "matrix-Passw0rd-1"
ADMIN_PASSWORD = "matrix-Admin-Passw0rd-1"
SPARE = "spare-user"
ERROR_CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}


@dataclass
class World:
    app: Any
    http: httpx.Client
    admin: dict[str, str]
    creds: dict[tuple[str, Role], Credential]
    objects: dict[str, Objects]
    spare_tokens: dict[str, str]  # tenant -> id of a token its project-admin owns
    b_before: dict[str, Any]

    def ctx(self, tenant: str, user: str) -> Ctx:
        return Ctx(self.objects[tenant], tenant, user, self.spare_tokens[tenant], SPARE)

    def b_snapshot(self) -> dict[str, Any]:
        return snapshot(self.http, self.creds[TENANT_B, Role.PROJECT_ADMIN].bearer(), self.b_obj)

    @property
    def b_obj(self) -> Objects:
        return self.objects[TENANT_B]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root = tmp_path_factory.mktemp(f"matrix-{request.param}")
    if request.param == "sqlite":
        with _world(f"sqlite:///{root / 'kiln.db'}", root) as found:
            yield found
        return
    postgres_url = request.getfixturevalue("postgres_url")
    with temporary_database(postgres_url) as uri, _world(uri, root) as found:
        yield found


@contextlib.contextmanager
def _world(db_uri: str, root: Path) -> Iterator[World]:
    app = auth_app(db_uri, root, ADMIN_PASSWORD)
    with asgi_client(app, raise_server_exceptions=False) as http:
        admin = basic_auth("admin", ADMIN_PASSWORD)
        creds = seed_users(http, admin, [TENANT_A, TENANT_B], PASSWORD)
        made = http.post(
            f"{KILN_API}/admin/users", json={"name": SPARE, "password": PASSWORD}, headers=admin
        )
        assert made.status_code == 201, made.text
        objects, spare_tokens = {}, {}
        for tenant, marker in ((TENANT_A, MARK_A), (TENANT_B, CANARY)):
            owner = creds[tenant, Role.PROJECT_ADMIN]
            objects[tenant] = seed_objects(http, owner.bearer(), marker)
            spare = http.post(f"{KILN_API}/tokens", json={"name": "spare"}, headers=owner.bearer())
            assert spare.status_code == 201, spare.text
            spare_tokens[tenant] = spare.json()["info"]["token_id"]
        world = World(app, http, admin, creds, objects, spare_tokens, {})
        world.b_before = world.b_snapshot()
        yield world


# ---- the route table ------------------------------------------------------------


def served(app: Any) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves: its Starlette routes per method
    (HEAD is GET's) and its fast lane, in the case table's spelling."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        assert isinstance(route, Route), f"a route the matrix cannot walk: {route!r}"
        if isinstance(route, PageRoute) or route.path.startswith("/ui/static/"):
            continue  # the web UI's pages: their own matrix, tests/unit/ui/test_ui_tenancy.py
        for method in route.methods or ():
            if method == "HEAD":
                assert "GET" in (route.methods or ()), f"HEAD without GET: {route.path}"
                continue
            found.add((method, canonical(route.path)))
    for path, methods in app.lane.items():
        for method in methods:
            if method != "HEAD":
                found.add((method, canonical(path)))
    return found


def test_every_route_has_a_case(world: World) -> None:
    routes = served(world.app)
    missing = sorted(routes - CASES.keys())
    assert not missing, f"routes without a case in tenancy_cases.CASES: {missing}"
    stale = sorted(CASES.keys() - routes)
    assert not stale, f"cases for routes the app does not serve: {stale}"
    assert len(routes) > 60


# ---- running one case -----------------------------------------------------------


def send(
    http: httpx.Client, call: Call, headers: dict[str, str], prefix: str = ""
) -> httpx.Response:
    path = call.path
    if prefix:
        for alias, name in ALIASES.items():
            if alias.startswith(prefix) and path.startswith(name):
                path = alias + path.removeprefix(name)
    kwargs: dict[str, Any] = {"headers": headers, "params": call.query}
    if call.json is not None:
        kwargs["content"] = json.dumps(call.json).encode()
        kwargs["headers"] = {**headers, "Content-Type": "application/json"}
    elif call.content is not None:
        kwargs["content"] = call.content
    return http.request(call.method, path, **kwargs)


def describe(call: Call, response: httpx.Response, who: str) -> str:
    answer = f"{response.status_code} {response.text[:300]}"
    return f"{who}: {call.method} {call.path} {call.query or ''} -> {answer}"


def assert_no_canary(call: Call, response: httpx.Response, who: str) -> None:
    """Nothing of B in the answer, once what the request itself sent is taken out
    (a 404 may name the id it was asked for)."""
    text = response.text
    for sent in call.sent_strings():
        if CANARY in sent:
            text = text.replace(sent, "")
    assert CANARY not in text, describe(call, response, who)


def assert_status(call: Call, response: httpx.Response, expected: set[int], who: str) -> None:
    assert response.status_code in expected, describe(call, response, who)
    code = ERROR_CODES.get(response.status_code)
    if code is not None and response.headers.get("content-type", "").startswith("application/json"):
        assert response.json().get("error_code") == code, describe(call, response, who)


OK = set(range(200, 300))


def needs_tenant(case: Case) -> bool:
    """The route acts in the request's tenant (its policy's action is judged there)."""
    return isinstance(case.need, Action) and case.need is not Action.ADMIN


def cross_expected(case: Case, role: Role, via: str) -> set[int]:
    """What a user of A with ``role`` gets from a case built with B's objects."""
    if case.need == PUBLIC:
        return set(range(200, 500))
    if case.need == SIGNED_IN:
        return {404} if case.kind == "ids" else OK
    if case.need is Action.ADMIN:
        return {403}
    if case.kind == "path-tenant":  # tokens and sessions are bound to A
        return {404} if via == "password" else {403}
    assert isinstance(case.need, Action)
    if not role_allows(role, case.need):
        return {403}
    return {
        "ids": {404},
        "search": {200, 404},
        "proxy": {400, 403, 404},
        "free": OK,
    }[case.kind]


def own_expected(case: Case, role: Role) -> set[int]:
    """What a user of A with ``role`` gets from a case built with A's own objects."""
    if case.need == PUBLIC:
        return set(range(200, 500))
    if case.need == SIGNED_IN:
        return OK | set(case.own_ok)
    assert isinstance(case.need, Action)
    if not role_allows(role, case.need):
        return {403}
    return OK | set(case.own_ok)


def a_ctx(world: World, role: Role, tenant: str) -> Ctx:
    return world.ctx(tenant, world.creds[TENANT_A, role].user)


# ---- the matrix -----------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/ajax-api"])
def test_no_credentials_is_401(world: World, prefix: str) -> None:
    for key, case in CASES.items():
        call = case.build(a_ctx(world, Role.VIEWER, TENANT_B))
        response = send(world.http, call, {}, prefix)
        if case.need == PUBLIC:
            assert response.status_code < 500, describe(call, response, "anonymous")
            assert_no_canary(call, response, "anonymous")
            continue
        assert_status(call, response, {401}, "anonymous")
        assert "Basic" in response.headers.get("www-authenticate", ""), key


@pytest.mark.parametrize("via", ["token", "password", "session"])
def test_a_with_b_ids_never_gets_them(world: World, via: str) -> None:
    for case in CASES.values():
        for role in Role:
            cred = world.creds[TENANT_A, role]
            headers = {"token": cred.bearer, "password": cred.basic, "session": cred.by_session}[
                via
            ]()
            call = case.build(a_ctx(world, role, TENANT_B))
            response = send(world.http, call, headers)
            who = f"{cred.user} ({via})"
            assert_status(call, response, cross_expected(case, role, via), who)
            assert_no_canary(call, response, who)


def test_a_naming_workspace_b(world: World) -> None:
    """A's password with B's workspace header -> 404 (no such workspace for A); A's
    token or session (bound to A) with it -> 403; on every route that acts in a tenant."""
    for case in CASES.values():
        for role in Role:
            cred = world.creds[TENANT_A, role]
            call = case.build(a_ctx(world, role, TENANT_A))
            by_password = send(world.http, call, cred.basic(TENANT_B))
            by_token = send(world.http, call, cred.bearer(TENANT_B))
            by_session = send(world.http, call, cred.by_session(TENANT_B))
            answers = (("password", by_password), ("token", by_token), ("session", by_session))
            for via, response in answers:
                assert_no_canary(call, response, f"{cred.user} ({via}, workspace B)")
            if not needs_tenant(case) or case.kind == "path-tenant":
                continue
            assert_status(call, by_password, {404}, f"{cred.user} (password, workspace B)")
            assert_status(call, by_token, {403}, f"{cred.user} (token, workspace B)")
            assert_status(call, by_session, {403}, f"{cred.user} (session, workspace B)")


def test_lists_and_searches_as_a_hold_nothing_of_b(world: World) -> None:
    """Every read of A, its own tenant's lists included, holds no canary; B's admin
    sees it (the check can fail)."""
    own = snapshot(world.http, world.creds[TENANT_A, Role.VIEWER].bearer(), world.objects[TENANT_A])
    for name, answer in own.items():
        assert answer["status"] == 200, (name, answer)
        assert CANARY not in answer["body"], (name, answer)
        assert TENANT_B not in answer["body"], (name, answer)
    theirs = snapshot(world.http, world.creds[TENANT_B, Role.VIEWER].bearer(), world.b_obj)
    assert CANARY in theirs["experiments"]["body"]
    assert CANARY in theirs["models"]["body"]
    workspaces = world.http.get(
        "/api/3.0/mlflow/workspaces", headers=world.creds[TENANT_A, Role.MEMBER].bearer()
    )
    assert workspaces.status_code == 200, workspaces.text
    assert TENANT_A in workspaces.text
    assert TENANT_B not in workspaces.text


def test_audit_log_of_a_holds_nothing_of_b(world: World) -> None:
    """A's project-admin reads A's audit log only: naming B's tenant (or every tenant)
    is refused, and a filter on B's model finds nothing. B's admin finds it (the
    check can fail)."""
    audit = f"{KILN_API}/audit"
    b_model = f"model:{world.b_obj.model_name}"
    for headers in (
        world.creds[TENANT_A, Role.PROJECT_ADMIN].bearer(),
        world.creds[TENANT_A, Role.PROJECT_ADMIN].basic(),
    ):
        for query in ({"tenant": TENANT_B}, {"tenant": "*"}):
            refused = world.http.get(audit, params=query, headers=headers)
            assert refused.status_code in (403, 404), refused.text
            assert CANARY not in refused.text
        own = world.http.get(audit, params={"max_results": 1000}, headers=headers)
        assert own.status_code == 200, own.text
        assert own.json()["events"], own.text
        assert CANARY not in own.text
        assert TENANT_B not in own.text
        probe = world.http.get(audit, params={"resource": b_model}, headers=headers)
        assert probe.status_code == 200, probe.text
        assert probe.json().get("events", []) == [], probe.text
    theirs = world.http.get(
        audit,
        params={"resource": b_model},
        headers=world.creds[TENANT_B, Role.PROJECT_ADMIN].bearer(),
    )
    assert theirs.status_code == 200, theirs.text
    assert CANARY in theirs.text


def test_protected_alias_and_stage_need_a_project_admin(world: World) -> None:
    """Moving ``production`` (an alias or a stage) is a project-admin's; other aliases
    and stages are a member's."""
    o = world.objects[TENANT_A]
    member = world.creds[TENANT_A, Role.MEMBER].bearer()
    admin = world.creds[TENANT_A, Role.PROJECT_ADMIN].bearer()
    api = "/api/2.0/mlflow"

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        return world.http.post(f"{api}/{path}", json=body, headers=headers).status_code

    protected = {"name": o.model_name, "alias": "production", "version": o.version}
    assert post("registered-models/alias", protected, member) == 403
    assert post("registered-models/alias", protected, admin) == 200
    plain = {"name": o.model_name, "alias": "candidate", "version": o.version}
    assert post("registered-models/alias", plain, member) == 200
    stage = {"name": o.model_name, "version": o.version, "archive_existing_versions": False}
    assert post("model-versions/transition-stage", {**stage, "stage": "Production"}, member) == 403
    assert post("model-versions/transition-stage", {**stage, "stage": "Staging"}, member) == 200
    assert post("model-versions/transition-stage", {**stage, "stage": "Production"}, admin) == 200
    # out of Production is a project-admin's too
    assert post("model-versions/transition-stage", {**stage, "stage": "Archived"}, member) == 403
    assert post("model-versions/transition-stage", {**stage, "stage": "Archived"}, admin) == 200


def test_a_demotion_takes_effect_at_once_for_existing_tokens(world: World) -> None:
    member = world.creds[TENANT_A, Role.MEMBER]
    o = world.objects[TENANT_A]
    tag = {"run_id": o.run_id, "key": "demoted", "value": "x"}
    api = "/api/2.0/mlflow/runs/set-tag"
    assert world.http.post(api, json=tag, headers=member.bearer()).status_code == 200
    grant = f"{KILN_API}/admin/tenants/{TENANT_A}/members/{member.user}"
    assert world.http.put(grant, json={"role": "viewer"}, headers=world.admin).status_code == 200
    try:
        refused = world.http.post(api, json=tag, headers=member.bearer())
        assert refused.status_code == 403, refused.text
    finally:
        assert (
            world.http.put(grant, json={"role": "member"}, headers=world.admin).status_code == 200
        )
    assert world.http.post(api, json=tag, headers=member.bearer()).status_code == 200


def test_role_table_inside_own_tenant(world: World) -> None:
    """Too low a role -> 403; enough -> served. Runs the table in order (deletes
    last), each case for viewer, member, project-admin in turn."""
    for case in CASES.values():
        for role in Role:
            cred = world.creds[TENANT_A, role]
            call = case.build(a_ctx(world, role, TENANT_A))
            response = send(world.http, call, cred.bearer())
            who = f"{cred.user} (own tenant)"
            assert_status(call, response, own_expected(case, role), who)
            assert_no_canary(call, response, who)


def test_b_is_unchanged_after_everything_a_did(world: World) -> None:
    """Runs last in the module: B's rows and artifact listings as before A's requests."""
    after = world.b_snapshot()
    assert after.keys() == world.b_before.keys()
    for name in after:
        assert after[name] == world.b_before[name], name
    assert all(answer["status"] == 200 for answer in after.values()), after
