"""A client of a Kiln server's own API (``/api/kiln/v1``) and MLflow 3's workspace API.

``kiln login``, ``kiln tokens``, ``kiln admin`` and ``kiln audit`` against a server,
and ``kiln.list_workspaces`` & co. against one, call these. Requests carry the
credentials of the process (``kiln.store.credentials``) unless a source is given
(``kiln login`` sends the password it asked for). Answers are the server's JSON
objects read into Kiln's records (``kiln.wire.auth``); errors are the Kiln
exceptions of their envelopes (401 ``Unauthenticated``,
403 ``PermissionDenied``, 404 ``NotFound`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from kiln.entities.auth import ApiToken, GroupBinding, Membership, Quota, Tenant, User
from kiln.entities.workspace import Workspace, WorkspaceDeletionMode
from kiln.errors import InvalidUri, StoreUnavailable
from kiln.store.credentials import CredentialSource
from kiln.store.rest.client import DEFAULT_TIMEOUT_S, RestClient
from kiln.wire.auth import (
    group_binding_from_json,
    membership_from_json,
    quota_from_json,
    tenant_from_json,
    token_from_json,
    user_from_json,
)
from kiln.wire.fields import object_list, require_object

KILN_API = "/api/kiln/v1"
WORKSPACES = "/api/3.0/mlflow/workspaces"
JsonObject = Mapping[str, Any]


def _seg(value: str) -> str:
    """One path segment, percent-encoded (a name never changes the path)."""
    return quote(value, safe="")


def _present(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class KilnApi:
    """Kiln's own API of the server at ``base_url`` (an ``http(s)://`` tracking URI)."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: CredentialSource | None = None,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        parsed = httpx.URL(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidUri(f"invalid server URL {base_url!r}: expected http(s)://host[:port]")
        self.base_url = base_url.rstrip("/")
        self._rest = RestClient(
            self.base_url, client, timeout, label="server", credentials=credentials
        )

    def close(self) -> None:
        self._rest.close()

    def __enter__(self) -> KilnApi:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> JsonObject:
        return self._rest.request(method, path, params=params, json=json)

    def _list(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[JsonObject]:
        return object_list(self._call("GET", path, params=params), key)

    # who am I --------------------------------------------------------------------
    def whoami(self) -> JsonObject:
        """``{user, is_admin, tenant, role, via}`` of the credentials sent."""
        return self._call("GET", f"{KILN_API}/whoami")

    # tokens ----------------------------------------------------------------------
    def create_token(
        self,
        name: str,
        *,
        tenant: str | None = None,
        role: str | None = None,
        expires_in_days: int | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token: ``(record, secret)``; the secret is shown this once."""
        body = _present(
            {"name": name, "tenant": tenant, "role": role, "expires_in_days": expires_in_days}
        )
        answer = self._call("POST", f"{KILN_API}/tokens", json=body)
        token = answer.get("token")
        if not isinstance(token, str) or not token:
            raise StoreUnavailable(
                f"server {self.base_url} answered a new token without its secret"
            )
        return token_from_json(require_object(answer.get("info"), "token info")), token

    def list_tokens(self, *, all_users: bool = False) -> list[ApiToken]:
        params = {"all": "true"} if all_users else None
        return [token_from_json(t) for t in self._list(f"{KILN_API}/tokens", "tokens", params)]

    def revoke_token(self, token_id: str) -> None:
        self._call("DELETE", f"{KILN_API}/tokens/{_seg(token_id)}")

    # tenants ---------------------------------------------------------------------
    def list_tenants(self) -> list[Tenant]:
        return [tenant_from_json(t) for t in self._list(f"{KILN_API}/admin/tenants", "tenants")]

    def create_tenant(self, name: str, description: str | None = None) -> Tenant:
        body = _present({"name": name, "description": description})
        answer = self._call("POST", f"{KILN_API}/admin/tenants", json=body)
        return tenant_from_json(require_object(answer.get("tenant"), "tenant"))

    def delete_tenant(self, name: str, *, force: bool = False) -> None:
        params = {"force": "true"} if force else None
        self._call("DELETE", f"{KILN_API}/admin/tenants/{_seg(name)}", params=params)

    # users -----------------------------------------------------------------------
    def list_users(self) -> list[User]:
        return [user_from_json(u) for u in self._list(f"{KILN_API}/admin/users", "users")]

    def create_user(
        self, name: str, *, admin: bool = False, password: str | None = None
    ) -> tuple[User, str | None]:
        """The new user, and its one-time password when the server generated one."""
        body = _present({"name": name, "admin": admin, "password": password})
        answer = self._call("POST", f"{KILN_API}/admin/users", json=body)
        generated = answer.get("password")
        user = user_from_json(require_object(answer.get("user"), "user"))
        return user, generated if isinstance(generated, str) else None

    def set_password(self, name: str, password: str | None = None) -> str | None:
        """Set (or, with None, generate) ``name``'s password; answer a generated one."""
        path = f"{KILN_API}/admin/users/{_seg(name)}/password"
        answer = self._call("POST", path, json=_present({"password": password}))
        generated = answer.get("password")
        return generated if isinstance(generated, str) else None

    def disable_user(self, name: str, *, disabled: bool = True) -> None:
        path = f"{KILN_API}/admin/users/{_seg(name)}/disable"
        self._call("POST", path, json={"disabled": disabled})

    # memberships, quotas, groups ---------------------------------------------------
    def list_members(self, tenant: str) -> list[Membership]:
        path = f"{KILN_API}/admin/tenants/{_seg(tenant)}/members"
        return [membership_from_json(m) for m in self._list(path, "members")]

    def grant(self, user: str, tenant: str, role: str) -> None:
        path = f"{KILN_API}/admin/tenants/{_seg(tenant)}/members/{_seg(user)}"
        self._call("PUT", path, json={"role": role})

    def revoke(self, user: str, tenant: str) -> None:
        self._call("DELETE", f"{KILN_API}/admin/tenants/{_seg(tenant)}/members/{_seg(user)}")

    def get_quota(self, tenant: str) -> Quota:
        answer = self._call("GET", f"{KILN_API}/admin/tenants/{_seg(tenant)}/quota")
        return quota_from_json(require_object(answer.get("quota"), "quota"))

    def set_quota(
        self,
        tenant: str,
        *,
        cpus: float | None = None,
        gpus: float | None = None,
        memory_mb: int | None = None,
    ) -> Quota:
        body = {"cpus": cpus, "gpus": gpus, "memory_mb": memory_mb}
        answer = self._call("PUT", f"{KILN_API}/admin/tenants/{_seg(tenant)}/quota", json=body)
        return quota_from_json(require_object(answer.get("quota"), "quota"))

    def list_groups(self, tenant: str) -> list[GroupBinding]:
        path = f"{KILN_API}/admin/tenants/{_seg(tenant)}/groups"
        return [group_binding_from_json(g) for g in self._list(path, "groups")]

    def bind_group(self, group: str, tenant: str, role: str) -> None:
        path = f"{KILN_API}/admin/tenants/{_seg(tenant)}/groups"
        self._call("PUT", path, json={"group": group, "role": role})

    def unbind_group(self, group: str, tenant: str) -> None:
        path = f"{KILN_API}/admin/tenants/{_seg(tenant)}/groups"
        self._call("DELETE", path, json={"group": group})

    # MLflow 3's workspace API --------------------------------------------------------
    def list_workspaces(self) -> list[Workspace]:
        return [Workspace.from_dict(w) for w in self._list(WORKSPACES, "workspaces")]

    def get_workspace(self, name: str) -> Workspace:
        return self._workspace(self._call("GET", f"{WORKSPACES}/{_seg(name)}"))

    def create_workspace(self, workspace: Workspace) -> Workspace:
        body = _present(workspace.to_dict())
        return self._workspace(self._call("POST", WORKSPACES, json=body))

    def update_workspace(self, workspace: Workspace) -> Workspace:
        body = _present({k: v for k, v in workspace.to_dict().items() if k != "name"})
        return self._workspace(
            self._call("PATCH", f"{WORKSPACES}/{_seg(workspace.name)}", json=body)
        )

    def delete_workspace(
        self, name: str, mode: WorkspaceDeletionMode = WorkspaceDeletionMode.RESTRICT
    ) -> None:
        params = None if mode is WorkspaceDeletionMode.RESTRICT else {"mode": mode.value}
        self._call("DELETE", f"{WORKSPACES}/{_seg(name)}", params=params)

    def _workspace(self, answer: JsonObject) -> Workspace:
        return Workspace.from_dict(require_object(answer.get("workspace"), "workspace"))


__all__ = ["KILN_API", "WORKSPACES", "KilnApi"]
