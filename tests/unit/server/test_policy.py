"""Every route has a policy, or the server does not start (fail closed).

``check_policies`` walks the app's Starlette routes and its fast lane; a route
made without ``policy_route`` or an ``ApiRoute`` without a policy is named in
the refusal. The refinements raise WRITE to MANAGE from the request's fields
(protected aliases, stages) without calling the handler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kiln.auth.principal import Identity, Principal, Via
from kiln.auth.roles import Action
from kiln.config import Settings
from kiln.entities.auth import Role
from kiln.errors import PermissionDenied
from kiln.server import registry_routes
from kiln.server.app import API_ROUTES, PROXY_ARTIFACT_ROOT, create_app
from kiln.server.fastlane import lane_table
from kiln.server.policy import (
    ADMIN,
    MANAGE,
    PUBLIC,
    READ,
    SIGNED_IN,
    WRITE,
    MissingPolicy,
    Need,
    Policy,
    PolicyRoute,
    check_policies,
    policy_route,
    require,
)
from kiln.server.routing import ApiRoute
from kiln.server.stores import Stores
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import open_memory_store


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def _app(tmp_path: Path) -> Any:
    store = open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT, workspace="default")
    settings = Settings(home=tmp_path, tracking_uri="unused")
    return create_app(settings, store=store, destination=LocalArtifactStore(str(tmp_path / "a")))


def test_every_route_of_the_server_has_a_policy(tmp_path: Path) -> None:
    app = _app(tmp_path)
    check_policies(app)  # create_app ran it too; it passes again on the same app
    routes = [r for r in app.routes if isinstance(r, PolicyRoute)]
    assert len(routes) == len(app.routes)
    by_path = {r.path: r for r in routes}
    assert by_path["/health"].policies["GET"] is PUBLIC
    assert by_path["/api/2.0/mlflow/runs/get"].policies["GET"] is READ
    assert by_path["/api/2.0/mlflow/runs/get"].policies["HEAD"] is READ
    assert by_path["/ajax-api/2.0/mlflow/runs/log-metric"].policies["POST"] is WRITE
    lane_policies = {t.policy for m in app.lane.values() for t in m.values()}
    assert READ in lane_policies
    assert WRITE in lane_policies


def test_a_route_without_a_policy_is_refused(tmp_path: Path) -> None:
    app = _app(tmp_path)
    app.router.routes.append(Route("/sneaky", _ok, methods=["GET", "POST"]))
    with pytest.raises(MissingPolicy, match=r"GET /sneaky, POST /sneaky"):
        check_policies(app)


def test_a_policy_route_missing_one_method_is_refused(tmp_path: Path) -> None:
    app = _app(tmp_path)
    route = policy_route("/half", _ok, methods=("GET",), policy=SIGNED_IN)
    route.methods = {"GET", "HEAD", "DELETE"}  # a method added behind the policy's back
    app.router.routes.append(route)
    with pytest.raises(MissingPolicy, match=r"DELETE /half"):
        check_policies(app)


def test_a_lane_target_without_a_policy_is_refused(tmp_path: Path) -> None:
    app = _app(tmp_path)
    bare = ApiRoute("/mlflow/bare", "POST", lambda stores, fields: {}, policy=None)  # type: ignore[arg-type]

    def stores_for(scope: Any) -> Stores:
        raise AssertionError("never resolved")

    app.lane = {**app.lane, **lane_table([bare], stores_for)}
    with pytest.raises(MissingPolicy, match=r"POST /api/2.0/mlflow/bare"):
        check_policies(app)


def test_an_api_route_needs_a_policy() -> None:
    with pytest.raises(TypeError, match="policy"):
        ApiRoute("/mlflow/x", "GET", lambda stores, fields: {})  # type: ignore[call-arg]


def test_policy_route_takes_one_policy_per_method() -> None:
    route = policy_route(
        "/x", _ok, methods=("GET", "DELETE"), policy={"GET": READ, "DELETE": ADMIN}
    )
    assert route.policies == {"GET": READ, "DELETE": ADMIN, "HEAD": READ}
    assert route.methods == {"GET", "HEAD", "DELETE"}


def _policy(path: str, method: str) -> Any:
    (route,) = [r for r in API_ROUTES if r.path == path and r.method == method]
    return route.policy


@pytest.mark.parametrize(
    ("method", "alias", "action"),
    [
        ("POST", "challenger", Action.WRITE),
        ("POST", "Champion", Action.MANAGE),
        ("POST", " production ", Action.MANAGE),
        ("DELETE", "prod", Action.MANAGE),
        ("DELETE", "staging", Action.WRITE),
    ],
)
def test_protected_aliases_need_manage(method: str, alias: str, action: Action) -> None:
    policy = _policy(f"{registry_routes.RM}/alias", method)
    assert policy.action_for({"name": "m", "alias": alias, "version": "1"}) is action


@pytest.mark.parametrize(
    ("stage", "action"),
    [("Staging", Action.WRITE), ("Production", Action.MANAGE), ("archived", Action.WRITE)],
)
def test_moving_into_production_needs_manage(stage: str, action: Action) -> None:
    policy = _policy(f"{registry_routes.MV}/transition-stage", "POST")
    assert policy.action_for({"name": "m", "version": "1", "stage": stage}) is action
    assert policy.refine_stored is not None  # moving *out of* Production: read from the store


def test_reads_and_deletes_keep_their_policy() -> None:
    assert _policy("/mlflow/runs/search", "POST").action is Action.READ
    assert _policy("/mlflow/experiments/delete", "POST").action is Action.DELETE
    assert _policy("/mlflow/runs/delete-tag", "POST").action is Action.WRITE
    assert _policy(f"{registry_routes.RM}/alias", "GET").action_for({"alias": "prod"}) is (
        Action.READ
    )


def test_a_tenant_param_must_be_a_path_parameter(tmp_path: Path) -> None:
    app = _app(tmp_path)
    policy = Policy(Action.MANAGE, tenant_param="tenant")
    app.router.routes.append(policy_route("/t/{tenant}/members", _ok, policy=policy))
    check_policies(app)
    app.router.routes.append(policy_route("/t/members", _ok, policy=policy))
    with pytest.raises(MissingPolicy, match=r"GET /t/members$"):
        check_policies(app)


def _principal(
    role: Role | None, *, via: Via = "password", held: Role | None = None, admin: bool = False
) -> Principal:
    cap = role if via == "token" else None
    identity = Identity("alice", is_admin=admin, via=via, role_cap=cap, tenant_role=held)
    return Principal(identity, "team-a", role)


@pytest.mark.parametrize(
    ("method", "alias", "deed"),
    [
        ("POST", "champion", "moving the protected alias 'champion'"),
        ("DELETE", " Prod ", "removing the protected alias 'Prod'"),
        ("POST", "challenger", "writing"),
    ],
)
def test_a_refusal_names_the_protected_alias(method: str, alias: str, deed: str) -> None:
    need = _policy(f"{registry_routes.RM}/alias", method).need_for({"name": "m", "alias": alias})
    assert need is not None
    viewer = _principal(Role.VIEWER)
    with pytest.raises(PermissionDenied) as refused:
        require(viewer, need.action, need.doing)
    needed = "project-admin" if need.action is Action.MANAGE else "member"
    assert refused.value.message == (
        f"alice is a viewer in workspace 'team-a'; {deed} needs {needed}"
    )


def test_a_refusal_names_the_production_stage() -> None:
    policy = _policy(f"{registry_routes.MV}/transition-stage", "POST")
    need = policy.need_for({"name": "m", "version": "1", "stage": "Production"})
    assert need == Need(Action.MANAGE, "moving a version into the 'Production' stage")
    with pytest.raises(PermissionDenied, match=r"^alice is a member in workspace 'team-a'; moving"):
        require(_principal(Role.MEMBER), need.action, need.doing)


@pytest.mark.parametrize(
    ("role", "action", "message"),
    [
        (
            Role.MEMBER,
            Action.DELETE,
            "alice is a member in workspace 'team-a'; deleting needs project-admin",
        ),
        (
            Role.VIEWER,
            Action.WRITE,
            "alice is a viewer in workspace 'team-a'; writing needs member",
        ),
        (None, Action.READ, "alice has no role in workspace 'team-a'; reading needs viewer"),
        (
            Role.MEMBER,
            Action.MANAGE,
            "alice is a member in workspace 'team-a'; managing members needs project-admin",
        ),
        (
            Role.PROJECT_ADMIN,
            Action.ADMIN,
            "alice is not a global admin; this needs a global admin",
        ),
    ],
)
def test_a_role_too_low_says_who_one_is_and_what_the_action_needs(
    role: Role | None, action: Action, message: str
) -> None:
    with pytest.raises(PermissionDenied) as refused:
        require(_principal(role), action)
    assert refused.value.message == message
    require(_principal(Role.PROJECT_ADMIN), Action.DELETE)  # allowed: no raise
    require(_principal(None, admin=True), action)


def test_a_token_below_its_users_role_says_the_token_is_the_limit() -> None:
    capped = _principal(Role.VIEWER, via="token", held=Role.PROJECT_ADMIN)
    with pytest.raises(PermissionDenied) as refused:
        require(capped, Action.WRITE)
    assert refused.value.message == (
        "alice's token is limited to viewer in workspace 'team-a'; writing needs member"
    )
    same = _principal(Role.MEMBER, via="token", held=Role.MEMBER)
    with pytest.raises(PermissionDenied, match=r"^alice is a member in workspace 'team-a'; del"):
        require(same, Action.DELETE)


def test_the_audit_log_refusal_says_reading_the_audit_log(tmp_path: Path) -> None:
    need = MANAGE.saying("reading the audit log").need_for({})
    assert need == Need(Action.MANAGE, "reading the audit log")
    assert MANAGE.need_for({}) == Need(Action.MANAGE, "managing members")
    assert PUBLIC.need_for({}) is None
