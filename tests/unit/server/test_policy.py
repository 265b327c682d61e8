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

from kiln.auth.roles import Action
from kiln.config import Settings
from kiln.server import registry_routes
from kiln.server.app import API_ROUTES, PROXY_ARTIFACT_ROOT, create_app
from kiln.server.fastlane import lane_table
from kiln.server.policy import (
    ADMIN,
    PUBLIC,
    READ,
    SIGNED_IN,
    WRITE,
    MissingPolicy,
    PolicyRoute,
    check_policies,
    policy_route,
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
