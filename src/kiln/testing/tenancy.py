"""A tenant's world for the cross-tenant tests: one object of every kind, and its snapshot.

``seed_objects(http, headers, marker)`` creates, through the server's own REST API
(so the tenant is the one the headers pick), an experiment, a run with params,
metrics, tags, a dataset input and an artifact file, a registered model with a
version and two aliases (one protected), and a logged model with tags and
params. ``marker`` is put in every name, tag, value and description, so that a
test can look for it in every answer another tenant gets (the *canary*).

``snapshot(http, headers, objects)`` reads all of it back (searches with every
view type, the artifact listings and file) into one JSON document: equal before
and after another tenant's requests means nothing of this tenant changed.

``seed_users(http, admin, tenants, password)`` makes, through Kiln's admin API, each
tenant and a user of every role in it, each with a ``kiln_pat_`` token bound to that
tenant (``POST /api/kiln/v1/tokens`` with the user's own password) and a login session
in it (``POST /api/v1/login``).

``http`` is any ``httpx.Client`` with a ``base_url`` (``kiln.testing.server.asgi_client``
in-process, or an ``httpx.Client`` against a real server).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kiln.auth.settings import AuthSettings
from kiln.entities.auth import Role

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
KILN_API = "/api/kiln/v1"
WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
PROXY_SCHEME = "mlflow-artifacts:/"
MODEL_FILE = "MLmodel"  # the one file of each seeded logged model


@dataclass(frozen=True, slots=True)
class Objects:
    """The ids and names of one tenant's seeded objects."""

    marker: str
    experiment_id: str
    experiment_name: str
    run_id: str
    artifact_uri: str
    artifact_file: str  # relative to the run's artifact root
    proxy_path: str  # the file's path below ``PROXY`` ("" when not proxied)
    metric_key: str
    param_key: str
    tag_key: str
    dataset_name: str
    model_name: str
    version: str
    alias: str
    protected_alias: str
    logged_model_id: str
    logged_model_name: str

    @property
    def proxy_root(self) -> str:
        """The run's artifact folder below ``PROXY``."""
        return self.proxy_path.rsplit("/", 1)[0]


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise AssertionError(
            f"{response.request.method} {response.request.url} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


def seed_objects(http: httpx.Client, headers: dict[str, str], marker: str) -> Objects:
    """One object of every kind in the tenant ``headers`` act in, ``marker`` everywhere."""

    def post(path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        return _ok(http.request(method, API + path, json=body, headers=headers))

    m = marker
    note = "mlflow.note.content"
    experiment_name = f"exp-{m}"
    experiment_id = post(
        "/experiments/create",
        {
            "name": experiment_name,
            "tags": [{"key": f"team-{m}", "value": f"v-{m}"}, {"key": note, "value": f"d {m}"}],
        },
    )["experiment_id"]
    run = post(
        "/runs/create",
        {
            "experiment_id": experiment_id,
            "run_name": f"run-{m}",
            "start_time": 1_700_000_000_000,
            "tags": [{"key": note, "value": f"run description {m}"}],
        },
    )["run"]["info"]
    run_id = run["run_id"]
    metric_key, param_key, tag_key = f"loss-{m}", f"alpha-{m}", f"tag-{m}"
    post(
        "/runs/log-batch",
        {
            "run_id": run_id,
            "metrics": [
                {"key": metric_key, "value": 0.5, "timestamp": 1_700_000_000_000, "step": s}
                for s in range(3)
            ],
            "params": [{"key": param_key, "value": f"p-{m}"}],
            "tags": [{"key": tag_key, "value": f"t-{m}"}],
        },
    )
    dataset_name = f"data-{m}"
    post(
        "/runs/log-inputs",
        {
            "run_id": run_id,
            "datasets": [
                {
                    "tags": [{"key": "mlflow.data.context", "value": f"train-{m}"}],
                    "dataset": {
                        "name": dataset_name,
                        "digest": "d1g3st",
                        "source_type": "local",
                        "source": f'{{"uri": "/data/{m}.csv"}}',
                    },
                }
            ],
        },
    )
    artifact_uri: str = run["artifact_uri"]
    artifact_file = f"notes-{m}.txt"
    proxy_path = ""
    if artifact_uri.startswith(PROXY_SCHEME):
        proxy_path = f"{artifact_uri.removeprefix(PROXY_SCHEME).strip('/')}/{artifact_file}"
        _ok(http.put(f"{PROXY}/{proxy_path}", content=f"file of {m}".encode(), headers=headers))
    model_name = f"model-{m}"
    post(
        "/registered-models/create",
        {"name": model_name, "description": f"model {m}", "tags": [{"key": tag_key, "value": m}]},
    )
    logged = post(
        "/logged-models",
        {
            "experiment_id": experiment_id,
            "name": f"lm-{m}",
            "source_run_id": run_id,
            "tags": [{"key": tag_key, "value": f"lm {m}"}],
            "params": [{"key": param_key, "value": f"lp-{m}"}],
        },
    )["model"]["info"]
    model_root: str = logged["artifact_uri"]
    if model_root.startswith(PROXY_SCHEME):
        model_path = f"{model_root.removeprefix(PROXY_SCHEME).strip('/')}/{MODEL_FILE}"
        _ok(http.put(f"{PROXY}/{model_path}", content=f"model of {m}".encode(), headers=headers))
    version = post(
        "/model-versions/create",
        {
            "name": model_name,
            "source": f"models:/{logged['model_id']}",
            "run_id": run_id,
            "model_id": logged["model_id"],
            "description": f"version {m}",
            "tags": [{"key": tag_key, "value": f"mv {m}"}],
        },
    )["model_version"]["version"]
    alias = f"alias-{m}"
    for name in (alias, "champion"):
        post("/registered-models/alias", {"name": model_name, "alias": name, "version": version})
    return Objects(
        marker=m,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        run_id=run_id,
        artifact_uri=artifact_uri,
        artifact_file=artifact_file,
        proxy_path=proxy_path,
        metric_key=metric_key,
        param_key=param_key,
        tag_key=tag_key,
        dataset_name=dataset_name,
        model_name=model_name,
        version=str(version),
        alias=alias,
        protected_alias="champion",
        logged_model_id=logged["model_id"],
        logged_model_name=logged["name"],
    )


def auth_app(
    db_uri: str, root: Path, admin_password: str, settings: AuthSettings | None = None
) -> Any:
    """``create_app`` with auth on over ``db_uri`` (artifacts under ``root``), its
    admin ``admin`` with ``admin_password`` (as ``KILN_ADMIN_PASSWORD`` makes it)."""
    from kiln.auth.service import AuthService
    from kiln.config import Settings
    from kiln.server.app import create_app
    from kiln.store.open import open_audit_log, open_auth_store

    auth_settings = settings or AuthSettings()
    service = AuthService(open_auth_store(db_uri), open_audit_log(db_uri), auth_settings)
    if not service.bootstrap_admin(admin_password):
        raise AssertionError("no admin could be made")
    server = Settings(
        home=root / "home",
        tracking_uri=db_uri,
        backend_store_uri=db_uri,
        artifacts_destination=str(root / "artifacts"),
        auth=True,
        auth_settings=auth_settings,
    )
    return create_app(server, auth=service)


def basic_auth(user: str, password: str) -> dict[str, str]:
    """The ``Authorization: Basic`` header of ``user``."""
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def strings_in(*values: Any) -> list[str]:
    """Every string in ``values``, dicts' keys included, depth first: what a request
    carries, and so what an error answer may echo back."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    for value in values:
        walk(value)
    return found


def in_workspace(headers: dict[str, str], workspace: str | None) -> dict[str, str]:
    """``headers``, naming ``workspace`` (``X-MLFLOW-WORKSPACE``) when one is given."""
    return headers if workspace is None else {**headers, WORKSPACE_HEADER: workspace}


def bearer_auth(token: str, workspace: str | None = None) -> dict[str, str]:
    """The ``Authorization: Bearer`` header of ``token``, in ``workspace`` when given."""
    return in_workspace({"Authorization": f"Bearer {token}"}, workspace)


@dataclass(frozen=True, slots=True)
class Credential:
    """A seeded user: its password and a token bound to ``tenant`` (capped at ``role``)."""

    user: str
    password: str
    tenant: str
    role: Role
    token: str
    session: str = ""  # an ``X-BDS-SESSION`` value (``POST /api/v1/login``), bound to ``tenant``

    def by_session(self, workspace: str | None = None) -> dict[str, str]:
        return in_workspace({"X-BDS-SESSION": self.session}, workspace)

    def bearer(self, workspace: str | None = None) -> dict[str, str]:
        return bearer_auth(self.token, workspace)

    def basic(self, workspace: str | None = None) -> dict[str, str]:
        return in_workspace(basic_auth(self.user, self.password), workspace)


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise AssertionError(
            f"{response.request.method} {response.request.url} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


def seed_users(
    http: httpx.Client, admin: dict[str, str], tenants: Iterable[str], password: str
) -> dict[tuple[str, Role], Credential]:
    """Each tenant, and a user ``<tenant>-<role>`` of every role in it with a token
    bound to it (see the module docstring); keyed by (tenant, role)."""
    found: dict[tuple[str, Role], Credential] = {}
    for tenant in tenants:
        _created(http.post(f"{KILN_API}/admin/tenants", json={"name": tenant}, headers=admin))
        for role in Role:
            user = f"{tenant}-{role.label}"
            made = {"name": user, "password": password}
            _created(http.post(f"{KILN_API}/admin/users", json=made, headers=admin))
            member = f"{KILN_API}/admin/tenants/{tenant}/members/{user}"
            _created(http.put(member, json={"role": role.label}, headers=admin))
            own = {**basic_auth(user, password), WORKSPACE_HEADER: tenant}
            body = {"name": f"{user}-token", "tenant": tenant}
            token = _created(http.post(f"{KILN_API}/tokens", json=body, headers=own))["token"]
            login = {"name": user, "password": password, "tenant": tenant}
            session = http.post("/api/v1/login", json=login)
            _created(session)
            found[tenant, role] = Credential(
                user, password, tenant, role, token, session.headers["location"]
            )
    return found


def snapshot(http: httpx.Client, headers: dict[str, str], objects: Objects) -> dict[str, Any]:
    """Everything of the tenant, read back (see the module docstring)."""
    o = objects

    def get(path: str, **params: Any) -> Any:
        response = http.get(API + path, params=params, headers=headers)
        return {"status": response.status_code, "body": response.text}

    def post(path: str, body: dict[str, Any]) -> Any:
        response = http.post(API + path, json=body, headers=headers)
        return {"status": response.status_code, "body": response.text}

    every = "ALL"
    state: dict[str, Any] = {
        "experiments": post("/experiments/search", {"view_type": every, "max_results": 1000}),
        "experiment": get("/experiments/get", experiment_id=o.experiment_id),
        "runs": post("/runs/search", {"experiment_ids": [o.experiment_id], "run_view_type": every}),
        "run": get("/runs/get", run_id=o.run_id),
        "history": get("/metrics/get-history", run_id=o.run_id, metric_key=o.metric_key),
        "artifacts": get("/artifacts/list", run_id=o.run_id),
        "models": get("/registered-models/search", max_results=1000),
        "model": get("/registered-models/get", name=o.model_name),
        "versions": get("/model-versions/search", filter=f"name='{o.model_name}'"),
        "alias": get("/registered-models/alias", name=o.model_name, alias=o.alias),
        "champion": get("/registered-models/alias", name=o.model_name, alias=o.protected_alias),
        "logged_models": post("/logged-models/search", {"experiment_ids": [o.experiment_id]}),
        "logged_model": get(f"/logged-models/{o.logged_model_id}"),
        "logged_model_files": get(f"/logged-models/{o.logged_model_id}/artifacts/directories"),
        "logged_model_file": get(
            f"/logged-models/{o.logged_model_id}/artifacts/files", artifact_file_path=MODEL_FILE
        ),
    }
    if o.proxy_path:
        root = o.proxy_root
        listing = http.get(PROXY, params={"path": root}, headers=headers)
        content = http.get(f"{PROXY}/{o.proxy_path}", headers=headers)
        state["proxy_listing"] = {"status": listing.status_code, "body": listing.text}
        state["proxy_file"] = {"status": content.status_code, "body": content.text}
    return state


__all__ = [
    "API",
    "KILN_API",
    "MODEL_FILE",
    "PROXY",
    "WORKSPACE_HEADER",
    "Credential",
    "auth_app",
    "Objects",
    "basic_auth",
    "bearer_auth",
    "in_workspace",
    "strings_in",
    "seed_objects",
    "seed_users",
    "snapshot",
]
