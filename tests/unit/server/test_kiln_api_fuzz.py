"""Hostile input to Kiln's own API and the workspace API: any body, query or path
parameter answers 2xx or 4xx with MLflow's error envelope, never 5xx (real SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.testing.auth_app import ADMIN_PASSWORD, AuthServer, auth_server

ROUTES = [
    ("GET", "/api/kiln/v1/whoami"),
    ("GET", "/api/kiln/v1/admin/tenants"),
    ("POST", "/api/kiln/v1/admin/tenants"),
    ("GET", "/api/kiln/v1/admin/tenants/{p}"),
    ("PATCH", "/api/kiln/v1/admin/tenants/{p}"),
    ("DELETE", "/api/kiln/v1/admin/tenants/{p}"),
    ("GET", "/api/kiln/v1/admin/tenants/{p}/members"),
    ("PUT", "/api/kiln/v1/admin/tenants/{p}/members/{q}"),
    ("DELETE", "/api/kiln/v1/admin/tenants/{p}/members/{q}"),
    ("GET", "/api/kiln/v1/admin/tenants/{p}/quota"),
    ("PUT", "/api/kiln/v1/admin/tenants/{p}/quota"),
    ("GET", "/api/kiln/v1/admin/tenants/{p}/groups"),
    ("PUT", "/api/kiln/v1/admin/tenants/{p}/groups"),
    ("DELETE", "/api/kiln/v1/admin/tenants/{p}/groups"),
    ("GET", "/api/kiln/v1/admin/users"),
    ("POST", "/api/kiln/v1/admin/users"),
    ("POST", "/api/kiln/v1/admin/users/{p}/password"),
    ("POST", "/api/kiln/v1/admin/users/{p}/disable"),
    ("GET", "/api/kiln/v1/tokens"),
    ("POST", "/api/kiln/v1/tokens"),
    ("DELETE", "/api/kiln/v1/tokens/{p}"),
    ("GET", "/api/kiln/v1/audit"),
    ("GET", "/api/kiln/v1/audit/verify"),
    ("POST", "/api/v1/login"),
    ("GET", "/api/v1/session/{p}"),
    ("DELETE", "/api/v1/session/{p}"),
    ("GET", "/api/3.0/mlflow/workspaces"),
    ("POST", "/api/3.0/mlflow/workspaces"),
    ("GET", "/api/3.0/mlflow/workspaces/{p}"),
    ("PATCH", "/api/3.0/mlflow/workspaces/{p}"),
    ("DELETE", "/api/3.0/mlflow/workspaces/{p}"),
]
FIELDS = [
    "name",
    "password",
    "tenant",
    "workspace",
    "role",
    "admin",
    "disabled",
    "description",
    "default_artifact_root",
    "trace_archival_config",
    "cpus",
    "gpus",
    "memory_mb",
    "group",
    "expires_in_days",
    "all",
    "force",
    "mode",
    "max_results",
    "page_token",
    "resource",
    "actor",
    "action",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["team-a", "default", "member", "project-admin", "RESTRICT", "*", "true"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=5)
segments = st.text(max_size=40) | st.sampled_from(["team-a", "default", "admin", "x" * 300])
queries = st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=20), max_size=3)


@pytest.fixture(scope="module")
def kiln(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AuthServer, dict[str, str]]]:
    with auth_server(tmp_path_factory.mktemp("fuzz")) as server:
        server.tenant("team-a")
        token = server.token("admin", ADMIN_PASSWORD)
        yield server, {"Authorization": f"Bearer {token}"}


def _path(template: str, p: str, q: str) -> str:
    return template.replace("{p}", quote(p, safe="") or "x").replace(
        "{q}", quote(q, safe="") or "y"
    )


def _check(answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        body = answer.json()
        assert set(body) >= {"error_code", "message"}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    body=bodies,
    query=queries,
    p=segments,
    q=segments,
)
def test_json_bodies_never_5xx(
    kiln: tuple[AuthServer, dict[str, str]],
    route: tuple[str, str],
    body: dict[str, Any],
    query: dict[str, str],
    p: str,
    q: str,
) -> None:
    server, admin = kiln
    method, template = route
    content = json.dumps(body).encode() if method in ("POST", "PUT", "PATCH", "DELETE") else None
    headers = {**admin, "Content-Type": "application/json"}
    _check(
        server.http.request(
            method, _path(template, p, q), params=query, content=content, headers=headers
        )
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from([r for r in ROUTES if r[0] != "GET"]), raw=st.binary(max_size=200))
def test_raw_bodies_never_5xx(
    kiln: tuple[AuthServer, dict[str, str]], route: tuple[str, str], raw: bytes
) -> None:
    server, admin = kiln
    method, template = route
    headers = {**admin, "Content-Type": "application/json"}
    _check(
        server.http.request(
            method, _path(template, "team-a", "admin"), content=raw, headers=headers
        )
    )
