"""Who may call each route: one ``Policy`` per (method, path), checked before the handler.

Every route the server serves declares its policy: an ``ApiRoute`` has a required
``policy`` field, and the routes not built from ``ApiRoute`` (health, version,
metrics, server-info, the OpenAPI document, Kiln's own API) are made with
``policy_route``. ``check_policies(app)`` walks the app's routes and the fast
lane when the app is built and refuses an app where any (method, path) has none:
a route nobody thought about is never served open (fail closed).

A policy names the ``Action`` a request does in its tenant (``kiln.auth.roles``
says which role allows it), or is ``PUBLIC`` (no credentials needed),
``SIGNED_IN`` (any identity, no role in a tenant) or ``ADMIN`` (global admins).
``refine`` raises the action from the request's fields without calling the
handler (setting a protected alias is MANAGE, not WRITE); ``refine_stored``
does the same from the stores, for what the fields cannot tell (moving a version
*out of* Production), and runs only when the caller could not do MANAGE anyway.

Who the request is (``kiln.server.gate``) is decided once per request; the
``Principal`` lives in the ASGI scope (``principal_of``). With auth off no gate
is installed, every request acts as ``anonymous`` in the server's workspace and
no check costs anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from kiln.auth.principal import Principal
from kiln.auth.roles import REQUIRED_ROLE, Action
from kiln.errors import PermissionDenied
from kiln.store.audit_context import set_actor
from kiln.wire.fields import JsonObject

if TYPE_CHECKING:
    from kiln.server.stores import Stores

PRINCIPAL_KEY = "kiln.principal"  # scope key: the request's Principal (None: not signed in)
GATE_KEY = "kiln.gate"  # scope key: the app's Gate when auth is on

Refine = Callable[[JsonObject], "Action | Need | None"]
RefineStored = Callable[["Stores", JsonObject], "Action | Need | None"]
Endpoint = Callable[[Request], Awaitable[Response]]


# What a request does, in words, when a refusal names no more precise deed.
DOING: dict[Action, str] = {
    Action.READ: "reading",
    Action.WRITE: "writing",
    Action.DELETE: "deleting",
    Action.MANAGE: "managing members",
    Action.ADMIN: "this",
}


@dataclass(frozen=True, slots=True)
class Need:
    """A refined action and what the request does, in words, so a refusal can say
    why (\"moving the protected alias 'champion' needs project-admin\")."""

    action: Action
    doing: str


def _need(result: Action | Need | None) -> Need | None:
    if isinstance(result, Action):
        return Need(result, DOING[result])
    return result


@dataclass(frozen=True, slots=True)
class Policy:
    """What a route's caller must be allowed (see the module docstring).

    ``tenant``: the action is judged in the request's tenant (False: no tenant role
    is needed). ``tenant_param``: the tenant is this path parameter rather than the
    ``X-MLFLOW-WORKSPACE`` header (admin routes on ``/tenants/{tenant}/...``).
    """

    action: Action | None
    public: bool = False
    tenant: bool = True
    refine: Refine | None = None
    tenant_param: str | None = None
    refine_stored: RefineStored | None = None
    doing: str | None = None  # the action in words for a refusal (default: DOING's)

    def need_for(self, fields: JsonObject) -> Need | None:
        """What a request with ``fields`` needs: ``refine``'s answer, else ``action``."""
        if self.refine is not None:
            refined = _need(self.refine(fields))
            if refined is not None:
                return refined
        if self.action is None:
            return None
        return Need(self.action, self.doing or DOING[self.action])

    def action_for(self, fields: JsonObject) -> Action | None:
        """The action of a request with ``fields``: ``refine``'s answer, else ``action``."""
        need = self.need_for(fields)
        return need.action if need is not None else None

    def refined(self, refine: Refine) -> Policy:
        return replace(self, refine=refine)

    def saying(self, doing: str) -> Policy:
        """This policy, its refusals naming the action as ``doing`` (\"reading the
        audit log\")."""
        return replace(self, doing=doing)


PUBLIC = Policy(None, public=True, tenant=False)
SIGNED_IN = Policy(None, tenant=False)
READ = Policy(Action.READ)
WRITE = Policy(Action.WRITE)
DELETE = Policy(Action.DELETE)
MANAGE = Policy(Action.MANAGE)
ADMIN = Policy(Action.ADMIN, tenant=False)


class Gate(Protocol):
    """Authenticates a request and judges it against a policy (``kiln.server.gate``)."""

    def early(self, scope: Scope, policy: Policy) -> None:
        """Refuse on the event loop what needs no lookup (no credentials at all)."""
        ...

    def admit(self, scope: Scope, policy: Policy, fields: JsonObject) -> Principal | None:
        """Blocking (store reads): the principal, stored in the scope; raises
        ``Unauthenticated``/``PermissionDenied``/``NotFound`` when refused."""
        ...


def principal_of(scope: Scope) -> Principal | None:
    """The request's principal; None on a public route called without credentials."""
    principal: Principal | None = scope.get(PRINCIPAL_KEY)
    return principal


def require(principal: Principal, action: Action, doing: str | None = None) -> None:
    """Raise ``PermissionDenied`` (403) unless ``principal`` may do ``action`` in its
    tenant; the message says who the caller is there and what ``doing`` (the
    action in words) needs, and names no other tenant."""
    if principal.allows(action):
        return
    doing = doing or DOING[action]
    needed = REQUIRED_ROLE[action]
    if needed is None:
        raise PermissionDenied(
            f"{principal.user} is not a global admin; {doing} needs a global admin"
        )
    raise PermissionDenied(f"{_standing(principal)}; {doing} needs {needed.label}")


def _standing(principal: Principal) -> str:
    """Who the caller is in its tenant: "alice is a member in workspace 'team-a'"."""
    where = f"in workspace {principal.tenant!r}"
    role = principal.role
    if role is None:
        return f"{principal.user} has no role {where}"
    identity = principal.identity
    held = identity.tenant_role  # a token's user's own role there (an admin: all)
    if identity.via == "token" and (identity.is_admin or (held is not None and role < held)):
        return f"{principal.user}'s token is limited to {role.label} {where}"
    article = "an" if role.label[0] in "aeiou" else "a"
    return f"{principal.user} is {article} {role.label} {where}"


def admitted_stores(
    scope: Scope,
    policy: Policy,
    fields: JsonObject,
    stores_for: Callable[[Scope], Stores],
) -> Stores:
    """Blocking: admit the request (when auth is on), then its tenant's stores.

    The caller runs it on the thread that runs the handler, so a token lookup
    costs no extra hop off the event loop.
    """
    gate: Gate | None = scope.get(GATE_KEY)
    if gate is None:
        return stores_for(scope)
    principal = gate.admit(scope, policy, fields)
    stores = stores_for(scope)
    if (
        policy.refine_stored is not None
        and principal is not None
        and not principal.allows(Action.MANAGE)
    ):
        need = _need(policy.refine_stored(stores, fields))
        if need is not None:
            require(principal, need.action, need.doing)
    return stores


async def admit(scope: Scope, policy: Policy) -> None:
    """Admit a request whose handler reads the request itself (no fields)."""
    gate: Gate | None = scope.get(GATE_KEY)
    if gate is None:
        return
    if policy.public:  # no lookup: no hop off the event loop (health probes)
        scope[PRINCIPAL_KEY] = None
        return
    gate.early(scope, policy)
    principal = await run_in_threadpool(gate.admit, scope, policy, {})
    if principal is not None:  # the handler's own hops copy this task's context
        set_actor(principal.user)


class PolicyRoute(Route):
    """A Starlette route that knows each of its methods' policies."""

    policies: Mapping[str, Policy]

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        policies: Mapping[str, Policy],
        name: str | None = None,
    ) -> None:
        methods = list(policies)
        super().__init__(path, endpoint, methods=methods, name=name)
        self.policies = {**policies, **({"HEAD": policies["GET"]} if "GET" in policies else {})}


def policies_by_method(
    policy: Policy | Mapping[str, Policy], methods: Collection[str]
) -> dict[str, Policy]:
    """One policy for all ``methods``, or ``policy``'s own per method, by upper-case method."""
    if isinstance(policy, Policy):
        return {m.upper(): policy for m in methods}
    return {m.upper(): p for m, p in policy.items()}


def policy_route(
    path: str,
    endpoint: Endpoint,
    *,
    methods: Collection[str] = ("GET",),
    policy: Policy | Mapping[str, Policy],
    name: str | None = None,
) -> PolicyRoute:
    """A route not built from ``ApiRoute`` (service routes, Kiln's own API): the
    request is admitted under ``policy`` (one for all ``methods``, or one per
    method) before ``endpoint`` runs."""
    policies = policies_by_method(policy, methods)

    async def admitted(request: Request) -> Response:
        await admit(request.scope, policies.get(request.method) or policies["GET"])
        return await endpoint(request)

    return PolicyRoute(path, admitted, policies=policies, name=name or path)


class MissingPolicy(RuntimeError):
    """The app serves a route without a policy: it must not start."""


def check_policies(app: Any) -> None:
    """Raise ``MissingPolicy`` naming each (method, path) of ``app`` that has no policy.

    ``app`` is a ``KilnStarlette``: its ``routes`` and its fast ``lane``.
    """
    missing: list[str] = []
    for route in app.routes:
        missing.extend(_unpoliced(route))
    for path, methods in getattr(app, "lane", {}).items():
        for method, target in methods.items():
            policy = getattr(target, "policy", None)
            if not isinstance(policy, Policy) or not _param_in(policy, path):
                missing.append(f"{method} {path}")
    if missing:
        raise MissingPolicy(
            "these routes have no policy, or one whose tenant_param is not a parameter of "
            "the path (declare one with ApiRoute(policy=...) or policy_route): "
            + ", ".join(sorted(set(missing)))
        )


def _unpoliced(route: BaseRoute) -> list[str]:
    path = getattr(route, "path", repr(route))
    if not isinstance(route, PolicyRoute):
        methods = getattr(route, "methods", None) or {"*"}
        return [f"{m} {path}" for m in sorted(methods) if m != "HEAD"]
    return [
        f"{m} {path}"
        for m in sorted(route.methods or ())
        if m != "HEAD"  # GET's policy
        and (not isinstance(policy := route.policies.get(m), Policy) or not _param_in(policy, path))
    ]


def _param_in(policy: Policy, path: str) -> bool:
    """A ``tenant_param`` must name one of the path's parameters (else the tenant
    would silently come from the header)."""
    param = policy.tenant_param
    return param is None or f"{{{param}}}" in path or f"{{{param}:" in path


__all__ = [
    "ADMIN",
    "DELETE",
    "DOING",
    "GATE_KEY",
    "MANAGE",
    "PRINCIPAL_KEY",
    "PUBLIC",
    "READ",
    "Refine",
    "SIGNED_IN",
    "WRITE",
    "Gate",
    "MissingPolicy",
    "Need",
    "Policy",
    "PolicyRoute",
    "admit",
    "admitted_stores",
    "check_policies",
    "policies_by_method",
    "policy_route",
    "principal_of",
    "require",
]
