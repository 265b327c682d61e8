"""Who a request is (``Identity``) and who it acts as in one tenant (``Principal``).

Credentials prove an ``Identity``; the tenant the request names (the
``X-MLFLOW-WORKSPACE`` header, else the one its token or session is bound to)
turns it into a ``Principal`` whose ``role`` is looked up again on every request,
so a demotion or a revoked membership takes effect at once, for tokens too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kiln.auth.roles import Action, role_allows
from kiln.entities.auth import DEFAULT_TENANT, Role

Via = Literal["token", "session", "password", "anonymous"]


@dataclass(frozen=True, slots=True)
class Identity:
    """What a request's credentials prove, before a tenant is chosen.

    ``bound_tenant``: the tenant a token or session is bound to (a request naming
    another one is refused with 403). ``role_cap``: a token's highest role.
    ``tenant_role``: for a token, the user's role in ``bound_tenant`` read with the
    token in this request (``AuthStore.token_grant``), so ``AuthService.principal``
    reads nothing more there; an Identity lives for one request, never cached.
    ``member_roles``: for a password, the user's (tenant, role) pairs read with
    its password hash in this request (``AuthStore.password_grant``), so
    ``principal`` reads no role again; None: read them in ``principal``.
    """

    user: str
    is_admin: bool = False
    via: Via = "password"
    bound_tenant: str | None = None
    role_cap: Role | None = None
    token_id: str | None = None
    session_id: str | None = None
    tenant_role: Role | None = None
    member_roles: tuple[tuple[str, Role], ...] | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """An identity acting in ``tenant`` with its effective ``role`` there
    (the lower of its membership and its token's cap; None: no role)."""

    identity: Identity
    tenant: str
    role: Role | None

    @property
    def user(self) -> str:
        return self.identity.user

    @property
    def is_admin(self) -> bool:
        """A global admin acting through a token keeps its cap: an admin's token
        capped at ``viewer`` only reads."""
        return self.identity.is_admin and self.identity.role_cap is None

    def allows(self, action: Action) -> bool:
        return role_allows(self.role, action, is_admin=self.is_admin)


def anonymous(user: str, tenant: str = DEFAULT_TENANT) -> Principal:
    """The principal of every request when auth is off: may do everything in
    ``default`` (the audit log still names ``user``, the OS user)."""
    return Principal(Identity(user, is_admin=True, via="anonymous"), tenant, Role.PROJECT_ADMIN)


__all__ = ["Identity", "Principal", "Via", "anonymous"]
