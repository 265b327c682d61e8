"""The case table of the cross-tenant matrix: one ``Case`` per (method, path template).

Each case says what the route does in a tenant (the ``Action`` its policy must
demand, or ``PUBLIC``/``SIGNED_IN``), how its ids are used (``kind``) and how to
build a request from a tenant's seeded objects (``kiln.testing.tenancy.Objects``).
``test_tenancy_matrix`` walks the app's whole route table (every Starlette route,
per method, and the fast lane) and fails for a route that has no case here: a new
route must say how it is scoped before it can land.

Kinds, for a user of tenant A calling with B's objects:

* ``ids``: the request names B's objects -> 404 (403 when A's role is too low);
* ``search``: a search over B's ids -> 404, or 200 with nothing of B;
* ``free``: the request names no object (creates with A's fresh names, lists) ->
  judged by the role alone; the answer must hold nothing of B;
* ``path-tenant``: the tenant is a path parameter (B's): a token bound to A -> 403,
  a password -> 404 (or 403 when the route is for admins only);
* ``proxy``: an artifact path into B's ``workspaces/<b>/`` folder -> 4xx;
* ``public``: no credentials needed; nothing of B in the answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.auth.roles import Action
from kiln.testing.tenancy import API, KILN_API, MODEL_FILE, PROXY, Objects, strings_in

PUBLIC = "public"
SIGNED_IN = "signed-in"
Need = Action | str  # an Action, PUBLIC or SIGNED_IN

_fresh = itertools.count()


def fresh(prefix: str) -> str:
    """A name nobody used yet in this process (creates must not collide)."""
    return f"{prefix}-{next(_fresh)}"


@dataclass(frozen=True)
class Call:
    """One request: ``path`` is absolute (below the ``/api/2.0`` prefix for MLflow's)."""

    method: str
    path: str
    query: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    content: bytes | None = None

    def sent_strings(self) -> list[str]:
        """Every string the request carries (an error may echo them back)."""
        found = [s for s in self.path.split("/") if s] + strings_in(self.query, self.json)
        return sorted(found, key=len, reverse=True)


@dataclass(frozen=True)
class Ctx:
    """What a case builds its request from: the target tenant's objects and names."""

    objects: Objects
    tenant: str  # the tenant whose objects these are
    user: str  # a user of that tenant (for per-user routes)
    token_id: str  # a token id of that tenant
    spare_user: str  # a user a project-admin of the tenant may grant and revoke


Build = Callable[[Ctx], Call]


@dataclass(frozen=True)
class Case:
    need: Need
    kind: str
    build: Build
    # statuses a sufficient role may get in its own tenant besides 2xx (a write
    # that an earlier case's delete made impossible, a state the route refuses)
    own_ok: frozenset[int] = field(default_factory=frozenset)


M = f"{API}"
EXP, RUNS, RM, MV, LM = (
    f"{M}/experiments",
    f"{M}/runs",
    f"{M}/registered-models",
    f"{M}/model-versions",
    f"{M}/logged-models",
)
TENANTS = f"{KILN_API}/admin/tenants"
USERS = f"{KILN_API}/admin/users"
WORKSPACES = "/api/3.0/mlflow/workspaces"
GONE = frozenset({400, 404})  # an object an earlier case deleted or renamed


def _run_case(o: Objects, **body: Any) -> dict[str, Any]:
    return {"run_id": o.run_id, **body}


def proxy_of(ctx: Ctx) -> str:
    """The seeded file's path below the proxy, inside the tenant's ``workspaces/`` folder."""
    path = ctx.objects.proxy_path
    prefix = f"workspaces/{ctx.tenant}/"
    return path if path.startswith(prefix) else prefix + path


CASES: dict[tuple[str, str], Case] = {
    # ---- experiments
    ("POST", f"{EXP}/create"): Case(
        Action.WRITE, "free", lambda c: Call("POST", f"{EXP}/create", json={"name": fresh("exp")})
    ),
    ("GET", f"{EXP}/get"): Case(
        Action.READ,
        "ids",
        lambda c: Call("GET", f"{EXP}/get", query={"experiment_id": c.objects.experiment_id}),
    ),
    ("GET", f"{EXP}/get-by-name"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET", f"{EXP}/get-by-name", query={"experiment_name": c.objects.experiment_name}
        ),
    ),
    ("POST", f"{EXP}/search"): Case(
        Action.READ,
        "free",
        lambda c: Call("POST", f"{EXP}/search", json={"max_results": 1000, "view_type": "ALL"}),
    ),
    ("GET", f"{EXP}/search"): Case(
        Action.READ,
        "free",
        lambda c: Call("GET", f"{EXP}/search", query={"max_results": 1000, "view_type": "ALL"}),
    ),
    ("POST", f"{EXP}/update"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{EXP}/update",
            json={"experiment_id": c.objects.experiment_id, "new_name": fresh("renamed")},
        ),
    ),
    ("POST", f"{EXP}/set-experiment-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{EXP}/set-experiment-tag",
            json={"experiment_id": c.objects.experiment_id, "key": "k", "value": "v"},
        ),
    ),
    ("POST", f"{EXP}/delete-experiment-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{EXP}/delete-experiment-tag",
            json={"experiment_id": c.objects.experiment_id, "key": "k"},
        ),
        own_ok=GONE,
    ),
    # ---- runs
    ("POST", f"{RUNS}/create"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call("POST", f"{RUNS}/create", json={"experiment_id": c.objects.experiment_id}),
    ),
    ("GET", f"{RUNS}/get"): Case(
        Action.READ, "ids", lambda c: Call("GET", f"{RUNS}/get", query={"run_id": c.objects.run_id})
    ),
    ("POST", f"{RUNS}/update"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call("POST", f"{RUNS}/update", json=_run_case(c.objects, status="RUNNING")),
    ),
    ("POST", f"{RUNS}/log-metric"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{RUNS}/log-metric",
            json=_run_case(c.objects, key="m", value=1.0, timestamp=1, step=0),
        ),
    ),
    ("POST", f"{RUNS}/log-parameter"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST", f"{RUNS}/log-parameter", json=_run_case(c.objects, key=fresh("p"), value="1")
        ),
    ),
    ("POST", f"{RUNS}/set-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call("POST", f"{RUNS}/set-tag", json=_run_case(c.objects, key="k", value="v")),
    ),
    ("POST", f"{RUNS}/delete-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call("POST", f"{RUNS}/delete-tag", json=_run_case(c.objects, key="k")),
        own_ok=GONE,
    ),
    ("POST", f"{RUNS}/log-batch"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{RUNS}/log-batch",
            json=_run_case(c.objects, metrics=[{"key": "b", "value": 1, "timestamp": 1}]),
        ),
    ),
    ("POST", f"{RUNS}/log-inputs"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{RUNS}/log-inputs",
            json=_run_case(
                c.objects,
                datasets=[
                    {"dataset": {"name": "d", "digest": "x", "source_type": "local", "source": "s"}}
                ],
            ),
        ),
    ),
    ("POST", f"{RUNS}/search"): Case(
        Action.READ,
        "search",
        lambda c: Call(
            "POST",
            f"{RUNS}/search",
            json={"experiment_ids": [c.objects.experiment_id], "run_view_type": "ALL"},
        ),
    ),
    ("GET", f"{M}/metrics/get-history"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET",
            f"{M}/metrics/get-history",
            query={"run_id": c.objects.run_id, "metric_key": c.objects.metric_key},
        ),
    ),
    ("GET", f"{M}/metrics/get-history-bulk-interval"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET",
            f"{M}/metrics/get-history-bulk-interval",
            query={"run_ids": c.objects.run_id, "metric_key": c.objects.metric_key},
        ),
    ),
    ("POST", f"{RUNS}/outputs"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{RUNS}/outputs",
            json=_run_case(c.objects, models=[{"model_id": c.objects.logged_model_id, "step": 0}]),
        ),
        own_ok=GONE,
    ),
    # ---- artifacts
    ("GET", f"{M}/artifacts/list"): Case(
        Action.READ,
        "ids",
        lambda c: Call("GET", f"{M}/artifacts/list", query={"run_id": c.objects.run_id}),
    ),
    ("GET", PROXY): Case(
        Action.READ,
        "proxy",
        lambda c: Call("GET", PROXY, query={"path": proxy_of(c).rsplit("/", 1)[0]}),
    ),
    ("GET", f"{PROXY}/{{path:path}}"): Case(
        Action.READ, "proxy", lambda c: Call("GET", f"{PROXY}/{proxy_of(c)}")
    ),
    ("PUT", f"{PROXY}/{{path:path}}"): Case(
        Action.WRITE,
        "proxy",
        lambda c: Call("PUT", f"{PROXY}/{proxy_of(c).rsplit('/', 1)[0]}/x.txt", content=b"x"),
    ),
    # ---- logged models
    ("POST", f"{LM}/search"): Case(
        Action.READ,
        "search",
        lambda c: Call("POST", f"{LM}/search", json={"experiment_ids": [c.objects.experiment_id]}),
    ),
    ("POST", LM): Case(
        Action.WRITE,
        "ids",
        lambda c: Call("POST", LM, json={"experiment_id": c.objects.experiment_id}),
    ),
    ("GET", f"{LM}/{{model_id}}"): Case(
        Action.READ, "ids", lambda c: Call("GET", f"{LM}/{c.objects.logged_model_id}")
    ),
    ("PATCH", f"{LM}/{{model_id}}"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "PATCH", f"{LM}/{c.objects.logged_model_id}", json={"status": "LOGGED_MODEL_READY"}
        ),
        own_ok=GONE,
    ),
    ("PATCH", f"{LM}/{{model_id}}/tags"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "PATCH",
            f"{LM}/{c.objects.logged_model_id}/tags",
            json={"tags": [{"key": "k", "value": "v"}]},
        ),
        own_ok=GONE,
    ),
    ("DELETE", f"{LM}/{{model_id}}/tags/{{tag_key:path}}"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call("DELETE", f"{LM}/{c.objects.logged_model_id}/tags/k"),
        own_ok=GONE,
    ),
    ("POST", f"{LM}/{{model_id}}/params"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{LM}/{c.objects.logged_model_id}/params",
            json={"params": [{"key": fresh("p"), "value": "1"}]},
        ),
        own_ok=GONE,
    ),
    ("GET", f"{LM}/{{model_id}}/artifacts/directories"): Case(
        Action.READ,
        "ids",
        lambda c: Call("GET", f"{LM}/{c.objects.logged_model_id}/artifacts/directories"),
    ),
    ("GET", f"{LM}/{{model_id}}/artifacts/files"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET",
            f"{LM}/{c.objects.logged_model_id}/artifacts/files",
            query={"artifact_file_path": MODEL_FILE},
        ),
    ),
    # ---- registered models
    ("POST", f"{RM}/create"): Case(
        Action.WRITE, "free", lambda c: Call("POST", f"{RM}/create", json={"name": fresh("rm")})
    ),
    ("GET", f"{RM}/get"): Case(
        Action.READ, "ids", lambda c: Call("GET", f"{RM}/get", query={"name": c.objects.model_name})
    ),
    ("PATCH", f"{RM}/update"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "PATCH", f"{RM}/update", json={"name": c.objects.model_name, "description": "d"}
        ),
        own_ok=GONE,
    ),
    ("GET", f"{RM}/search"): Case(
        Action.READ, "free", lambda c: Call("GET", f"{RM}/search", query={"max_results": 1000})
    ),
    ("GET", f"{RM}/get-latest-versions"): Case(
        Action.READ,
        "ids",
        lambda c: Call("GET", f"{RM}/get-latest-versions", query={"name": c.objects.model_name}),
    ),
    ("POST", f"{RM}/get-latest-versions"): Case(
        Action.READ,
        "ids",
        lambda c: Call("POST", f"{RM}/get-latest-versions", json={"name": c.objects.model_name}),
    ),
    ("POST", f"{RM}/set-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST", f"{RM}/set-tag", json={"name": c.objects.model_name, "key": "k", "value": "v"}
        ),
        own_ok=GONE,
    ),
    ("DELETE", f"{RM}/delete-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "DELETE", f"{RM}/delete-tag", json={"name": c.objects.model_name, "key": "k"}
        ),
        own_ok=GONE,
    ),
    ("POST", f"{RM}/alias"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{RM}/alias",
            json={"name": c.objects.model_name, "alias": "staging-x", "version": c.objects.version},
        ),
        own_ok=GONE,
    ),
    ("DELETE", f"{RM}/alias"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "DELETE", f"{RM}/alias", json={"name": c.objects.model_name, "alias": "staging-x"}
        ),
        own_ok=GONE,
    ),
    ("GET", f"{RM}/alias"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET", f"{RM}/alias", query={"name": c.objects.model_name, "alias": c.objects.alias}
        ),
    ),
    # ---- model versions
    ("POST", f"{MV}/create"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{MV}/create",
            json={
                "name": c.objects.model_name,
                "source": f"models:/{c.objects.logged_model_id}",
                "run_id": c.objects.run_id,
            },
        ),
        own_ok=GONE,
    ),
    ("GET", f"{MV}/get"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET", f"{MV}/get", query={"name": c.objects.model_name, "version": c.objects.version}
        ),
    ),
    ("PATCH", f"{MV}/update"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "PATCH",
            f"{MV}/update",
            json={"name": c.objects.model_name, "version": c.objects.version, "description": "d"},
        ),
        own_ok=GONE,
    ),
    ("POST", f"{MV}/transition-stage"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{MV}/transition-stage",
            json={
                "name": c.objects.model_name,
                "version": c.objects.version,
                "stage": "Staging",
                "archive_existing_versions": False,
            },
        ),
        own_ok=GONE,
    ),
    ("GET", f"{MV}/get-download-uri"): Case(
        Action.READ,
        "ids",
        lambda c: Call(
            "GET",
            f"{MV}/get-download-uri",
            query={"name": c.objects.model_name, "version": c.objects.version},
        ),
    ),
    ("GET", f"{MV}/search"): Case(
        Action.READ,
        "search",
        lambda c: Call("GET", f"{MV}/search", query={"filter": f"name='{c.objects.model_name}'"}),
    ),
    ("POST", f"{MV}/set-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST",
            f"{MV}/set-tag",
            json={
                "name": c.objects.model_name,
                "version": c.objects.version,
                "key": "k",
                "value": "v",
            },
        ),
        own_ok=GONE,
    ),
    ("DELETE", f"{MV}/delete-tag"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "DELETE",
            f"{MV}/delete-tag",
            json={"name": c.objects.model_name, "version": c.objects.version, "key": "k"},
        ),
        own_ok=GONE,
    ),
    # ---- deletes and restores last: the in-tenant pass runs the table in order
    ("POST", f"{RUNS}/delete"): Case(
        Action.DELETE,
        "ids",
        lambda c: Call("POST", f"{RUNS}/delete", json=_run_case(c.objects)),
    ),
    ("POST", f"{RUNS}/restore"): Case(
        Action.DELETE,
        "ids",
        lambda c: Call("POST", f"{RUNS}/restore", json=_run_case(c.objects)),
    ),
    ("DELETE", f"{PROXY}/{{path:path}}"): Case(
        Action.DELETE,
        "proxy",
        lambda c: Call("DELETE", f"{PROXY}/{proxy_of(c).rsplit('/', 1)[0]}/x.txt"),
        own_ok=GONE,
    ),
    ("DELETE", f"{LM}/{{model_id}}"): Case(
        Action.DELETE, "ids", lambda c: Call("DELETE", f"{LM}/{c.objects.logged_model_id}")
    ),
    ("DELETE", f"{MV}/delete"): Case(
        Action.DELETE,
        "ids",
        lambda c: Call(
            "DELETE",
            f"{MV}/delete",
            json={"name": c.objects.model_name, "version": c.objects.version},
        ),
    ),
    ("POST", f"{RM}/rename"): Case(
        Action.WRITE,
        "ids",
        lambda c: Call(
            "POST", f"{RM}/rename", json={"name": c.objects.model_name, "new_name": fresh("rm")}
        ),
        # 403: a member renaming a model that still carries the protected alias (MANAGE)
        own_ok=GONE | {403},
    ),
    ("DELETE", f"{RM}/delete"): Case(
        Action.DELETE,
        "ids",
        lambda c: Call("DELETE", f"{RM}/delete", json={"name": c.objects.model_name}),
        own_ok=GONE,
    ),
    ("POST", f"{EXP}/delete"): Case(
        Action.DELETE,
        "ids",
        lambda c: Call("POST", f"{EXP}/delete", json={"experiment_id": c.objects.experiment_id}),
    ),
    ("POST", f"{EXP}/restore"): Case(
        Action.DELETE,
        "ids",
        lambda c: Call("POST", f"{EXP}/restore", json={"experiment_id": c.objects.experiment_id}),
    ),
    # ---- the server's own
    ("GET", "/health"): Case(PUBLIC, "public", lambda c: Call("GET", "/health")),
    ("GET", "/version"): Case(PUBLIC, "public", lambda c: Call("GET", "/version")),
    ("GET", "/metrics"): Case(PUBLIC, "public", lambda c: Call("GET", "/metrics")),
    ("GET", "/api/3.0/mlflow/server-info"): Case(
        PUBLIC, "public", lambda c: Call("GET", "/api/3.0/mlflow/server-info")
    ),
    ("GET", "/openapi.json"): Case(PUBLIC, "public", lambda c: Call("GET", "/openapi.json")),
    # ---- Kiln's API
    ("GET", f"{KILN_API}/whoami"): Case(
        SIGNED_IN, "free", lambda c: Call("GET", f"{KILN_API}/whoami")
    ),
    ("GET", TENANTS): Case(Action.ADMIN, "free", lambda c: Call("GET", TENANTS)),
    ("POST", TENANTS): Case(
        Action.ADMIN, "free", lambda c: Call("POST", TENANTS, json={"name": fresh("tenant-x")})
    ),
    ("GET", f"{TENANTS}/{{tenant}}"): Case(
        Action.ADMIN, "path-tenant", lambda c: Call("GET", f"{TENANTS}/{c.tenant}")
    ),
    ("PATCH", f"{TENANTS}/{{tenant}}"): Case(
        Action.ADMIN,
        "path-tenant",
        lambda c: Call("PATCH", f"{TENANTS}/{c.tenant}", json={"description": "d"}),
    ),
    ("DELETE", f"{TENANTS}/{{tenant}}"): Case(
        Action.ADMIN, "path-tenant", lambda c: Call("DELETE", f"{TENANTS}/{c.tenant}")
    ),
    ("GET", f"{TENANTS}/{{tenant}}/members"): Case(
        Action.MANAGE, "path-tenant", lambda c: Call("GET", f"{TENANTS}/{c.tenant}/members")
    ),
    ("PUT", f"{TENANTS}/{{tenant}}/members/{{user}}"): Case(
        Action.MANAGE,
        "path-tenant",
        lambda c: Call(
            "PUT", f"{TENANTS}/{c.tenant}/members/{c.spare_user}", json={"role": "viewer"}
        ),
    ),
    ("DELETE", f"{TENANTS}/{{tenant}}/members/{{user}}"): Case(
        Action.MANAGE,
        "path-tenant",
        lambda c: Call("DELETE", f"{TENANTS}/{c.tenant}/members/{c.spare_user}"),
        own_ok=frozenset({404}),
    ),
    # a tenant's members see its quota (the cluster's admission tells them)
    ("GET", f"{TENANTS}/{{tenant}}/quota"): Case(
        Action.READ, "path-tenant", lambda c: Call("GET", f"{TENANTS}/{c.tenant}/quota")
    ),
    ("PUT", f"{TENANTS}/{{tenant}}/quota"): Case(
        Action.ADMIN,
        "path-tenant",
        lambda c: Call("PUT", f"{TENANTS}/{c.tenant}/quota", json={"cpus": 1}),
    ),
    # LDAP group bindings are the admins' (a group spans tenants)
    ("GET", f"{TENANTS}/{{tenant}}/groups"): Case(
        Action.ADMIN, "path-tenant", lambda c: Call("GET", f"{TENANTS}/{c.tenant}/groups")
    ),
    ("PUT", f"{TENANTS}/{{tenant}}/groups"): Case(
        Action.ADMIN,
        "path-tenant",
        lambda c: Call(
            "PUT", f"{TENANTS}/{c.tenant}/groups", json={"group": "g", "role": "viewer"}
        ),
    ),
    ("DELETE", f"{TENANTS}/{{tenant}}/groups"): Case(
        Action.ADMIN,
        "path-tenant",
        lambda c: Call("DELETE", f"{TENANTS}/{c.tenant}/groups", json={"group": "g"}),
    ),
    ("GET", USERS): Case(Action.ADMIN, "free", lambda c: Call("GET", USERS)),
    ("POST", USERS): Case(
        Action.ADMIN, "free", lambda c: Call("POST", USERS, json={"name": fresh("u")})
    ),
    ("POST", f"{USERS}/{{user}}/password"): Case(
        Action.ADMIN, "free", lambda c: Call("POST", f"{USERS}/{c.spare_user}/password", json={})
    ),
    ("POST", f"{USERS}/{{user}}/disable"): Case(
        Action.ADMIN,
        "free",
        lambda c: Call("POST", f"{USERS}/{c.spare_user}/disable", json={"disabled": False}),
    ),
    ("GET", f"{KILN_API}/tokens"): Case(
        SIGNED_IN, "free", lambda c: Call("GET", f"{KILN_API}/tokens")
    ),
    ("POST", f"{KILN_API}/tokens"): Case(
        SIGNED_IN,
        "free",
        lambda c: Call("POST", f"{KILN_API}/tokens", json={"name": fresh("t")}),
    ),
    ("DELETE", f"{KILN_API}/tokens/{{token_id}}"): Case(
        SIGNED_IN,
        "ids",
        lambda c: Call("DELETE", f"{KILN_API}/tokens/{c.token_id}"),
        own_ok=frozenset({403, 404}),
    ),
    ("GET", f"{KILN_API}/audit"): Case(
        Action.MANAGE,
        "free",
        lambda c: Call("GET", f"{KILN_API}/audit", query={"max_results": 500}),
    ),
    ("GET", f"{KILN_API}/audit/verify"): Case(
        Action.ADMIN, "free", lambda c: Call("GET", f"{KILN_API}/audit/verify")
    ),
    ("POST", "/api/v1/login"): Case(
        PUBLIC,
        "public",
        lambda c: Call("POST", "/api/v1/login", json={"name": "nobody", "password": "wrong-pass"}),
    ),
    ("GET", "/api/v1/session/{session_id}"): Case(
        PUBLIC, "public", lambda c: Call("GET", "/api/v1/session/not-a-session")
    ),
    ("DELETE", "/api/v1/session/{session_id}"): Case(
        PUBLIC, "public", lambda c: Call("DELETE", "/api/v1/session/not-a-session")
    ),
    # ---- MLflow 3's workspace API
    ("GET", WORKSPACES): Case(SIGNED_IN, "free", lambda c: Call("GET", WORKSPACES)),
    ("POST", WORKSPACES): Case(
        Action.ADMIN, "free", lambda c: Call("POST", WORKSPACES, json={"name": fresh("ws")})
    ),
    ("GET", f"{WORKSPACES}/{{workspace_name}}"): Case(
        Action.READ, "path-tenant", lambda c: Call("GET", f"{WORKSPACES}/{c.tenant}")
    ),
    ("PATCH", f"{WORKSPACES}/{{workspace_name}}"): Case(
        Action.ADMIN,
        "path-tenant",
        lambda c: Call("PATCH", f"{WORKSPACES}/{c.tenant}", json={"description": "d"}),
    ),
    ("DELETE", f"{WORKSPACES}/{{workspace_name}}"): Case(
        Action.ADMIN, "path-tenant", lambda c: Call("DELETE", f"{WORKSPACES}/{c.tenant}")
    ),
}

# Route prefixes served as aliases of the ones the table names (MLflow's web UI's).
ALIASES = {"/ajax-api/2.0/": "/api/2.0/", "/ajax-api/3.0/": "/api/3.0/"}


def canonical(path: str) -> str:
    """The table's spelling of a route path (``/ajax-api/...`` -> ``/api/...``)."""
    for alias, name in ALIASES.items():
        if path.startswith(alias):
            return name + path.removeprefix(alias)
    return path


__all__ = ["CASES", "PUBLIC", "SIGNED_IN", "Call", "Case", "Ctx", "canonical", "fresh"]
