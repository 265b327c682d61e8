"""Kiln's own API for who may do what: ``/api/kiln/v1/whoami``, ``/admin/...``, ``/tokens``.

JSON in and out (shapes: ``kiln.wire.auth``); creating answers 201, deleting 204.
Every route declares its policy here; the service (``kiln.auth.service``) checks
the caller again for what a policy cannot see (a project-admin granting above
their own role, revoking another user's token):

* ``whoami``, tokens: any signed-in user (a token is made for the caller, capped
  at the caller's role in its tenant);
* tenants, users, quotas, group bindings: global admins; reading a tenant's
  members, quota and bindings, and granting or revoking its members: MANAGE in
  that tenant (``tenant_param``: the tenant is the path's, not the header's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from kiln.auth.names import validate_tenant_name, validate_user_name
from kiln.auth.roles import Action
from kiln.errors import InvalidInput
from kiln.server.json_routes import Answer, Op, acting, json_route
from kiln.server.policy import ADMIN, SIGNED_IN, Policy
from kiln.wire.auth import (
    MAX_PASSWORD_CHARS,
    bounded_str,
    group_binding_to_json,
    membership_to_json,
    opt_bool,
    quota_request,
    quota_to_json,
    req_bounded_str,
    req_role,
    tenant_to_json,
    token_request,
    token_to_json,
    user_to_json,
)
from kiln.wire.fields import JsonObject, opt_str

if TYPE_CHECKING:
    from kiln.auth.principal import Principal
    from kiln.auth.service import AuthService

API = "/api/kiln/v1"
ADMIN_API = f"{API}/admin"
# MANAGE (READ) in the tenant the path names
MANAGE_PATH_TENANT = Policy(Action.MANAGE, tenant_param="tenant")
READ_PATH_TENANT = Policy(Action.READ, tenant_param="tenant")
_MAX_DESCRIPTION = 5000


def whoami_route() -> BaseRoute:
    """``GET /api/kiln/v1/whoami``: served with auth off too (the anonymous admin)."""

    def whoami(principal: Principal | None, fields: JsonObject) -> dict[str, Any]:
        who = acting(principal)
        return {
            "user": who.user,
            "is_admin": who.is_admin,
            "tenant": who.tenant,
            "role": who.role.label if who.role is not None else None,
            "via": who.identity.via,
        }

    return json_route(f"{API}/whoami", Op("GET", SIGNED_IN, whoami))


def routes(service: AuthService) -> list[BaseRoute]:
    """Every route of this module, acting on ``service``."""
    return [
        whoami_route(),
        *_tenant_routes(service),
        *_user_routes(service),
        *_token_routes(service),
    ]


def _tenant(fields: JsonObject) -> str:
    return validate_tenant_name(fields.get("tenant"))


def _user(fields: JsonObject, name: str = "user") -> str:
    return validate_user_name(fields.get(name))


def _tenant_routes(service: AuthService) -> list[BaseRoute]:
    def list_tenants(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        return {"tenants": [tenant_to_json(t) for t in service.list_tenants(acting(p))]}

    def create_tenant(p: Principal | None, f: JsonObject) -> Answer:
        tenant = service.create_tenant(
            acting(p),
            validate_tenant_name(f.get("name")),
            description=bounded_str(f, "description", _MAX_DESCRIPTION) or "",
            default_artifact_root=opt_str(f, "default_artifact_root") or None,
        )
        return Answer({"tenant": tenant_to_json(tenant)}, 201)

    def get_tenant(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        return {"tenant": tenant_to_json(service.get_tenant(acting(p), _tenant(f)))}

    def update_tenant(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        description = bounded_str(f, "description", _MAX_DESCRIPTION)
        root = opt_str(f, "default_artifact_root")
        if description is None and root is None:
            raise InvalidInput("give 'description' or 'default_artifact_root' to change")
        tenant = service.update_tenant(
            acting(p), _tenant(f), description=description, default_artifact_root=root
        )
        return {"tenant": tenant_to_json(tenant)}

    def delete_tenant(p: Principal | None, f: JsonObject) -> Answer:
        service.delete_tenant(acting(p), _tenant(f), force=opt_bool(f, "force") or False)
        return Answer(None, 204)

    def members(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        found = service.list_memberships(acting(p), tenant=_tenant(f))
        return {"members": [membership_to_json(m) for m in found]}

    def grant(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        membership = service.grant(acting(p), _user(f), _tenant(f), req_role(f))
        return {"member": membership_to_json(membership)}

    def revoke(p: Principal | None, f: JsonObject) -> Answer:
        service.revoke(acting(p), _user(f), _tenant(f))
        return Answer(None, 204)

    def get_quota(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        return {"quota": quota_to_json(service.get_quota(acting(p), _tenant(f)))}

    def set_quota(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        quota = service.set_quota(acting(p), quota_request(_tenant(f), f))
        return {"quota": quota_to_json(quota)}

    def groups(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        found = service.list_group_bindings(acting(p), _tenant(f))
        return {"groups": [group_binding_to_json(g) for g in found]}

    def bind(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        group = req_bounded_str(f, "group", 1024)
        binding = service.bind_group(acting(p), group, _tenant(f), req_role(f))
        return {"group": group_binding_to_json(binding)}

    def unbind(p: Principal | None, f: JsonObject) -> Answer:
        service.unbind_group(acting(p), req_bounded_str(f, "group", 1024), _tenant(f))
        return Answer(None, 204)

    one = f"{ADMIN_API}/tenants/{{tenant}}"
    return [
        json_route(
            f"{ADMIN_API}/tenants", Op("GET", ADMIN, list_tenants), Op("POST", ADMIN, create_tenant)
        ),
        json_route(
            one,
            Op("GET", ADMIN, get_tenant),
            Op("PATCH", ADMIN, update_tenant),
            Op("DELETE", ADMIN, delete_tenant),
        ),
        json_route(f"{one}/members", Op("GET", MANAGE_PATH_TENANT, members)),
        json_route(
            f"{one}/members/{{user}}",
            Op("PUT", MANAGE_PATH_TENANT, grant),
            Op("DELETE", MANAGE_PATH_TENANT, revoke),
        ),
        json_route(
            f"{one}/quota", Op("GET", READ_PATH_TENANT, get_quota), Op("PUT", ADMIN, set_quota)
        ),
        json_route(
            f"{one}/groups",
            Op("GET", ADMIN, groups),
            Op("PUT", ADMIN, bind),
            Op("DELETE", ADMIN, unbind),
        ),
    ]


def _user_routes(service: AuthService) -> list[BaseRoute]:
    def list_users(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        return {"users": [user_to_json(u) for u in service.list_users(acting(p))]}

    def create_user(p: Principal | None, f: JsonObject) -> Answer:
        user, generated = service.create_user(
            acting(p),
            validate_user_name(f.get("name")),
            is_admin=opt_bool(f, "admin") or False,
            password=bounded_str(f, "password", MAX_PASSWORD_CHARS) or None,
        )
        answer: dict[str, Any] = {"user": user_to_json(user)}
        if generated is not None:
            answer["password"] = generated
        return Answer(answer, 201)

    def set_password(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        given = bounded_str(f, "password", MAX_PASSWORD_CHARS) or None
        generated = service.set_password(acting(p), _user(f), given)
        return {} if generated is None else {"password": generated}

    def disable(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        disabled = opt_bool(f, "disabled")
        user = _user(f)
        who = acting(p)
        if disabled is None or disabled:
            return {"user": user_to_json(service.disable_user(who, user))}
        return {"user": user_to_json(service.enable_user(who, user))}

    return [
        json_route(
            f"{ADMIN_API}/users", Op("GET", ADMIN, list_users), Op("POST", ADMIN, create_user)
        ),
        json_route(f"{ADMIN_API}/users/{{user}}/password", Op("POST", ADMIN, set_password)),
        json_route(f"{ADMIN_API}/users/{{user}}/disable", Op("POST", ADMIN, disable)),
    ]


def _token_routes(service: AuthService) -> list[BaseRoute]:
    def create(p: Principal | None, f: JsonObject) -> Answer:
        name, tenant, role, days = token_request(f)
        if tenant is not None:
            validate_tenant_name(tenant)
        token, secret = service.create_token(
            acting(p), name=name, tenant=tenant, role=role, expires_in_days=days
        )
        return Answer({"token": secret, "info": token_to_json(token)}, 201)

    def list_tokens(p: Principal | None, f: JsonObject) -> dict[str, Any]:
        found = service.list_tokens(acting(p), all_users=opt_bool(f, "all") or False)
        return {"tokens": [token_to_json(t) for t in found]}

    def revoke(p: Principal | None, f: JsonObject) -> Answer:
        service.revoke_token(acting(p), req_bounded_str(f, "token_id"))
        return Answer(None, 204)

    return [
        json_route(
            f"{API}/tokens", Op("GET", SIGNED_IN, list_tokens), Op("POST", SIGNED_IN, create)
        ),
        json_route(f"{API}/tokens/{{token_id}}", Op("DELETE", SIGNED_IN, revoke)),
    ]


__all__ = ["ADMIN_API", "API", "routes", "whoami_route"]
