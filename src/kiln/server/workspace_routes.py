"""MLflow 3's workspace API over Kiln's tenants: ``/api/3.0/mlflow/workspaces[/{name}]``.

``mlflow.list_workspaces/get_workspace/create_workspace/update_workspace/
delete_workspace`` call these (``mlflow/store/workspace/rest_store.py``), with
the shapes, statuses and errors of ``mlflow/server/handlers.py``: create answers
201 ``{"workspace"}``, delete 204 with no body, a bad name or ``default`` where
MLflow refuses it 400 ``INVALID_PARAMETER_VALUE``. Listing shows the caller's
tenants (every tenant to admins); reading one needs a role in it (else 404, as
for any object of another tenant); creating, updating and deleting are admin only.

Deleting supports MLflow's ``RESTRICT`` mode (refused with 409 while the tenant
holds any experiment or model) and ``CASCADE`` (the tenant's experiments, runs and
models are deleted with it, in one transaction, as ``kiln admin delete-tenant
--force``; its artifacts stay under the artifact root's ``workspaces/<name>/`` for
an operator to remove). ``SET_DEFAULT`` would move its data into ``default``, where
other people would see it, and is refused with 400. Kiln keeps no traces, so a
``trace_archival_config`` is refused too. With auth off there is one workspace,
``default``: it is listed and read, and the rest answer 400.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.routing import BaseRoute

from kiln.auth.names import validate_tenant_name
from kiln.auth.roles import Action
from kiln.entities.auth import DEFAULT_TENANT, Tenant
from kiln.errors import InvalidInput, NotFound
from kiln.server.json_routes import Answer, Op, acting, json_route
from kiln.server.policy import ADMIN, SIGNED_IN, Policy
from kiln.wire.auth import bounded_str, workspace_to_json
from kiln.wire.fields import JsonObject, opt_str

if TYPE_CHECKING:
    from kiln.auth.principal import Principal
    from kiln.auth.service import AuthService

PREFIXES = ("/api/3.0", "/ajax-api/3.0")
PATH = "/mlflow/workspaces"
MODES = ("SET_DEFAULT", "CASCADE", "RESTRICT")
# READ in the workspace the path names
READ_PATH_WORKSPACE = Policy(Action.READ, tenant_param="workspace_name")
_MAX_DESCRIPTION = 5000
_MAX_ROOT = 2048


def routes(service: AuthService | None) -> list[BaseRoute]:
    """The workspace routes over ``service``'s tenants; None: auth is off."""
    ops = _Ops(service)
    found: list[BaseRoute] = []
    for prefix in PREFIXES:
        found.append(
            json_route(
                prefix + PATH,
                Op("GET", SIGNED_IN, ops.list),
                Op("POST", ADMIN, ops.create),
                name=PATH,
            )
        )
        found.append(
            json_route(
                prefix + PATH + "/{workspace_name}",
                Op("GET", READ_PATH_WORKSPACE, ops.get),
                Op("PATCH", ADMIN, ops.update),
                Op("DELETE", ADMIN, ops.delete),
                name=PATH + "/{workspace_name}",
            )
        )
    return found


def _name(fields: JsonObject) -> str:
    name = fields.get("workspace_name")
    return name if name == DEFAULT_TENANT else validate_tenant_name(name)


def _artifact_root(fields: JsonObject) -> str | None:
    """MLflow's rule: a URI with a scheme or an absolute path; ``""`` clears it."""
    value = bounded_str(fields, "default_artifact_root", _MAX_ROOT)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.fragment or ";" in parts.path:
        raise InvalidInput("'default_artifact_root' URL can't include fragments or params.")
    if len(parts.scheme) < 2 and not os.path.isabs(value):
        raise InvalidInput(
            "Invalid value for 'default_artifact_root'. Expected a URI (for example "
            "'s3://bucket/prefix' or 'mlflow-artifacts:/prefix') or an absolute path, got "
            f"{value!r}."
        )
    return value


def _no_traces(fields: JsonObject) -> None:
    if fields.get("trace_archival_config"):
        raise InvalidInput("Kiln keeps no traces: 'trace_archival_config' is not supported")


def _auth_off() -> InvalidInput:
    return InvalidInput(
        "workspaces need `kiln server --auth`: this server serves the 'default' workspace only"
    )


class _Ops:
    def __init__(self, service: AuthService | None) -> None:
        self.service = service

    def list(self, p: Principal | None, f: JsonObject) -> dict[str, Any]:
        who = acting(p)
        if self.service is None:
            tenants: list[Tenant] = [Tenant(DEFAULT_TENANT)]
        else:
            tenants = list(self.service.list_tenants(who))
        return {"workspaces": [workspace_to_json(t) for t in tenants]} if tenants else {}

    def get(self, p: Principal | None, f: JsonObject) -> dict[str, Any]:
        who = acting(p)
        name = _name(f)
        if self.service is None:
            if name != DEFAULT_TENANT:
                raise NotFound(f"Workspace '{name}' not found")
            return {"workspace": workspace_to_json(Tenant(DEFAULT_TENANT))}
        return {"workspace": workspace_to_json(self.service.get_tenant(who, name))}

    def create(self, p: Principal | None, f: JsonObject) -> Answer:
        who = acting(p)
        name = f.get("name")
        if name is None or name == "":
            raise InvalidInput("Missing value for required parameter 'name'.")
        if name == DEFAULT_TENANT:
            raise InvalidInput(
                f"The '{DEFAULT_TENANT}' workspace is reserved and cannot be created"
            )
        name = validate_tenant_name(name)
        description = bounded_str(f, "description", _MAX_DESCRIPTION)
        root = _artifact_root(f)
        _no_traces(f)
        if self.service is None:
            raise _auth_off()
        tenant = self.service.create_tenant(
            who, name, description=description or "", default_artifact_root=root or None
        )
        return Answer({"workspace": workspace_to_json(tenant)}, 201)

    def update(self, p: Principal | None, f: JsonObject) -> dict[str, Any]:
        who = acting(p)
        name = _name(f)
        description = bounded_str(f, "description", _MAX_DESCRIPTION)
        root = _artifact_root(f)
        _no_traces(f)
        if description is None and root is None:
            raise InvalidInput("Workspace update must have at least one key")
        if self.service is None:
            raise _auth_off()
        tenant = self.service.update_tenant(
            who, name, description=description, default_artifact_root=root
        )
        return {"workspace": workspace_to_json(tenant)}

    def delete(self, p: Principal | None, f: JsonObject) -> Answer:
        who = acting(p)
        if f.get("workspace_name") == DEFAULT_TENANT:
            raise InvalidInput(
                f"The '{DEFAULT_TENANT}' workspace is reserved and cannot be deleted"
            )
        name = _name(f)
        mode = opt_str(f, "mode") or "RESTRICT"
        if mode not in MODES:
            raise InvalidInput(
                f"Invalid deletion mode {mode[:40]!r}. Must be one of: {', '.join(MODES)}"
            )
        if mode == "SET_DEFAULT":
            raise InvalidInput(
                "Kiln does not delete workspaces in SET_DEFAULT mode: it would move the "
                f"workspace's experiments and models into {DEFAULT_TENANT!r}, where others "
                "see them; use RESTRICT (an empty workspace) or CASCADE (delete them too)"
            )
        if self.service is None:
            raise _auth_off()
        self.service.delete_tenant(who, name, force=mode == "CASCADE")
        return Answer(None, 204)


__all__ = ["MODES", "PATH", "PREFIXES", "routes"]
