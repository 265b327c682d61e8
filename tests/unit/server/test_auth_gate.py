"""``kiln server --auth`` in-process: credentials and roles at the door.

The app of ``kiln.testing.auth_server`` (SQLite, auth on; tenants ``team-a`` and
``team-b``, a viewer, a member and a project-admin in ``team-a``). Each test
checks one rule of ``kiln.server.gate`` through the real routes: the fast lane
(JSON routes of fixed paths), the Starlette routes (paths with parameters), the
artifact proxy and routes of Kiln's own kind (``policy_route``).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiln.auth.roles import Action
from kiln.entities.auth import Role
from kiln.server.errors import WWW_AUTHENTICATE
from kiln.server.gate import BAD_CREDENTIALS
from kiln.server.policy import ADMIN, SIGNED_IN, Policy, policy_route, principal_of
from kiln.testing.auth_server import (
    ADMIN_PASSWORD,
    API,
    PASSWORD,
    PROXY,
    World,
)
from kiln.testing.tenancy import basic_auth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{API}/experiments/search"),  # the fast lane
        ("GET", f"{API}/logged-models/m-1"),  # a Starlette route with a parameter
        ("GET", f"{PROXY}/x.txt"),  # the proxy (the handler reads the request)
    ],
)
def test_no_credentials_is_401_with_a_challenge(world: World, method: str, path: str) -> None:
    answer = world.client.request(method, path, json={} if method == "POST" else None)
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
    assert "credentials" in answer.json()["message"]
    assert answer.headers["www-authenticate"] == WWW_AUTHENTICATE


def test_public_routes_need_no_credentials(world: World) -> None:
    assert world.client.get("/health").text == "OK"
    info = world.client.get("/api/3.0/mlflow/server-info").json()
    assert info["workspaces_enabled"] is True


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Authorization": "Bearer kiln_pat_typo"}, BAD_CREDENTIALS),
        ({"Authorization": "Basic !!!"}, "malformed Basic credentials"),
        ({"Authorization": "Digest abc"}, "unsupported Authorization scheme"),
        ({"X-BDS-SESSION": "/api/v1/session/nope"}, BAD_CREDENTIALS),
        (basic_auth("meg", "wrong-password-1"), "wrong user name or password"),
        (basic_auth("nobody", "wrong-password-1"), "wrong user name or password"),
        (basic_auth("meg", "kiln_pat_typo"), BAD_CREDENTIALS),
    ],
)
def test_bad_credentials_are_401(world: World, headers: dict[str, str], says: str) -> None:
    answer = world.client.post(f"{API}/experiments/search", json={}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
    assert answer.json()["message"].startswith(says)


def test_a_token_a_password_and_a_session_each_sign_in(world: World) -> None:
    experiment = world.create_experiment("signed-in", world.bearer("meg"))
    token_as_password = basic_auth("anything", world.tokens["meg"])
    _, session = world.service.login("meg", PASSWORD, "team-a")
    for headers in (
        world.bearer("meg"),
        {**basic_auth("meg", PASSWORD), "X-MLFLOW-WORKSPACE": "team-a"},
        {**token_as_password, "X-MLFLOW-WORKSPACE": "team-a"},
        {"X-BDS-SESSION": session},
    ):
        answer = world.client.get(
            f"{API}/experiments/get", params={"experiment_id": experiment}, headers=headers
        )
        assert answer.status_code == 200, (headers, answer.text)
        assert answer.json()["experiment"]["name"] == "signed-in"


def test_the_audit_actor_is_the_signed_in_user(world: World) -> None:
    experiment = world.create_experiment("audited", world.bearer("pam"))
    answer = world.client.post(
        f"{API}/experiments/delete", json={"experiment_id": experiment}, headers=world.bearer("pam")
    )
    assert answer.status_code == 200, answer.text
    events = world.service.audit.list_events(tenant="team-a", action="experiment.delete").items
    assert [e.actor for e in events if e.resource == f"experiment:{experiment}"] == ["pam"]


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "says"),
    [
        (
            "vic",
            "POST",
            f"{API}/experiments/create",
            {"name": "viewer-writes"},
            "vic is a viewer in workspace 'team-a'; writing needs member",
        ),
        (
            "meg",
            "POST",
            f"{API}/experiments/delete",
            {"experiment_id": "1"},
            "meg is a member in workspace 'team-a'; deleting needs project-admin",
        ),
        (
            "meg",
            "POST",
            f"{API}/registered-models/alias",
            {"name": "m", "alias": "champion"},
            "meg is a member in workspace 'team-a'; moving the protected alias 'champion' "
            "needs project-admin",
        ),
        (
            "vic",
            "PUT",
            f"{PROXY}/1/x.txt",
            None,
            "vic is a viewer in workspace 'team-a'; writing needs member",
        ),
    ],
)
def test_a_role_too_low_is_403(
    world: World, user: str, method: str, path: str, body: dict[str, Any] | None, says: str
) -> None:
    answer = world.client.request(
        method, path, json=body, content=b"x" if body is None else None, headers=world.bearer(user)
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert answer.json()["message"] == says


def test_moving_a_version_out_of_production_needs_a_project_admin(world: World) -> None:
    pam, meg = world.bearer("pam"), world.bearer("meg")
    client = world.client
    created = client.post(f"{API}/registered-models/create", json={"name": "prod-m"}, headers=pam)
    assert created.status_code == 200, created.text
    version = client.post(
        f"{API}/model-versions/create", json={"name": "prod-m", "source": "s3://b/m"}, headers=pam
    ).json()["model_version"]["version"]
    move = {"name": "prod-m", "version": version, "stage": "Production"}
    assert (
        client.post(f"{API}/model-versions/transition-stage", json=move, headers=meg).status_code
        == 403
    )
    assert (
        client.post(f"{API}/model-versions/transition-stage", json=move, headers=pam).status_code
        == 200
    )
    back = {**move, "stage": "Staging"}
    answer = client.post(f"{API}/model-versions/transition-stage", json=back, headers=meg)
    assert answer.status_code == 403, answer.text
    assert answer.json()["message"] == (
        "meg is a member in workspace 'team-a'; moving a version out of the 'Production' "
        "stage needs project-admin"
    )
    assert (
        client.post(f"{API}/model-versions/transition-stage", json=back, headers=pam).status_code
        == 200
    )


def test_a_user_with_no_role_anywhere_is_told_to_ask_for_one(world: World) -> None:
    world.service.create_user(world.admin, "carol", password=PASSWORD)
    search = f"{API}/experiments/search"
    answer = world.client.post(search, json={}, headers=basic_auth("carol", PASSWORD))
    assert answer.status_code == 404, answer.text
    assert answer.json()["message"] == (
        "user 'carol' has no role in any workspace; ask an administrator for one "
        "(kiln admin grant carol WORKSPACE ROLE)"
    )
    for workspace in ("team-b", "no-such"):  # named: nothing said about whether it exists
        named = basic_auth("carol", PASSWORD) | {"X-MLFLOW-WORKSPACE": workspace}
        answer = world.client.post(search, json={}, headers=named)
        assert answer.status_code == 404
        assert answer.json()["message"] == f"workspace {workspace!r} not found"


def test_another_tenant_is_404_and_its_data_unseen(world: World) -> None:
    world.create_experiment("only-in-a", world.bearer("meg"))
    # meg has no role in team-b: as if it did not exist
    answer = world.client.post(
        f"{API}/experiments/search",
        json={},
        headers=basic_auth("meg", PASSWORD) | {"X-MLFLOW-WORKSPACE": "team-b"},
    )
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # a token bound to team-a naming team-b is refused outright
    answer = world.client.post(
        f"{API}/experiments/search", json={}, headers=world.bearer("meg", "team-b")
    )
    assert answer.status_code == 403
    # the admin sees team-b, which holds nothing of team-a
    admin = basic_auth("admin", ADMIN_PASSWORD) | {"X-MLFLOW-WORKSPACE": "team-b"}
    found = world.client.post(f"{API}/experiments/search", json={}, headers=admin).json()
    assert "only-in-a" not in str(found)
    in_a = world.client.post(
        f"{API}/experiments/search", json={}, headers=world.bearer("vic")
    ).json()
    assert "only-in-a" in str(in_a)


def _probe(request: Request) -> Response:
    principal = principal_of(request.scope)
    assert principal is not None
    role = principal.role.label if principal.role is not None else None
    return JSONResponse({"user": principal.user, "tenant": principal.tenant, "role": role})


async def _endpoint(request: Request) -> Response:
    return _probe(request)


@pytest.fixture(scope="module")
def probed(world: World) -> World:
    """Routes of Kiln's own kind (``policy_route``) added to the app under test."""
    routes = world.client.app.router.routes
    routes.append(
        policy_route(
            "/probe/tenants/{tenant}/members",
            _endpoint,
            policy=Policy(Action.MANAGE, tenant_param="tenant"),
        )
    )
    routes.append(policy_route("/probe/whoami", _endpoint, policy=SIGNED_IN))
    routes.append(policy_route("/probe/admin", _endpoint, policy=ADMIN))
    return world


@pytest.mark.parametrize(
    ("user", "tenant", "status"),
    [
        ("pam", "team-a", 200),
        ("meg", "team-a", 403),
        ("pam", "team-b", 404),
        ("admin", "team-b", 200),
    ],
)
def test_a_tenant_path_parameter_names_the_tenant(
    probed: World, user: str, tenant: str, status: int
) -> None:
    headers = basic_auth(user, ADMIN_PASSWORD if user == "admin" else PASSWORD)
    answer = probed.client.get(f"/probe/tenants/{tenant}/members", headers=headers)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json()["tenant"] == tenant


def test_signed_in_needs_no_role_and_admin_needs_an_admin(probed: World) -> None:
    client = probed.client
    answer = client.get(
        "/probe/whoami", headers=basic_auth("meg", PASSWORD) | {"X-MLFLOW-WORKSPACE": "team-b"}
    )
    assert answer.json() == {"user": "meg", "tenant": "team-b", "role": None}
    assert client.get("/probe/whoami").status_code == 401
    assert client.get("/probe/admin", headers=probed.bearer("pam")).status_code == 403
    assert (
        client.get("/probe/admin", headers=basic_auth("admin", ADMIN_PASSWORD)).status_code == 200
    )


def test_a_disabled_user_and_a_closed_session_are_401(world: World) -> None:
    world.service.create_user(world.admin, "dora", password=PASSWORD)
    world.service.grant(world.admin, "dora", "team-a", Role.MEMBER)
    _, session = world.service.login("dora", PASSWORD, "team-a")
    search = f"{API}/experiments/search"
    assert world.client.post(search, json={}, headers={"X-BDS-SESSION": session}).status_code == 200
    world.service.logout(session)
    assert world.client.post(search, json={}, headers={"X-BDS-SESSION": session}).status_code == 401
    headers = basic_auth("dora", PASSWORD) | {"X-MLFLOW-WORKSPACE": "team-a"}
    assert world.client.post(search, json={}, headers=headers).status_code == 200
    world.service.disable_user(world.admin, "dora")
    assert world.client.post(search, json={}, headers=headers).status_code == 401
