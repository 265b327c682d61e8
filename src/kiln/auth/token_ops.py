"""API tokens (the ``TokenOps`` part of ``AuthService``): create, list, revoke.

A token belongs to one user and one tenant, with a role that caps it: never above
the creating principal's role there, so a token cannot do more than its creator
could when it was made, nor more than the user may now (``principal`` takes the
lower of the two on every request).

A request made with a token capped below project-admin (``Identity.role_cap``)
cannot reach past its cap through its user's other tokens: it may list them all
(names, workspaces and roles; never a secret), but revoke only itself and its
user's tokens of its own workspace whose role is not above its own, never a
stronger one (a leaked viewer token must not cut off the user's CI) nor one of
another workspace. A password, a session or an uncapped token (project-admin
role, or an admin's full token) acts as the user: any of the user's tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kiln.auth.admin_ops import AdminOps
from kiln.auth.principal import Identity, Principal
from kiln.auth.roles import Action
from kiln.auth.tokens import new_public_id, new_token
from kiln.entities.auth import ApiToken, Role
from kiln.errors import InvalidInput, NotFound, PermissionDenied
from kiln.store.audit_context import acting_as

MAX_TOKEN_NAME_CHARS = 256
DAY_MS = 86_400_000


def not_found(tenant: str) -> NotFound:
    """The answer for a tenant that is missing or not the caller's (the same, so a
    caller cannot learn which tenants exist)."""
    return NotFound(f"workspace {tenant!r} not found")


class TokenOps(AdminOps):
    """Tokens of ``AuthService`` (which sets ``clock`` and defines ``principal``)."""

    clock: Callable[[], int]

    if TYPE_CHECKING:  # defined by AuthService; declared here for the type checker only

        def principal(self, identity: Identity, requested_tenant: str | None) -> Principal: ...

    def create_token(
        self,
        actor: Principal,
        *,
        name: str = "",
        tenant: str | None = None,
        role: Role | None = None,
        expires_in_days: int | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token of the actor's user: ``(record, secret)``; the secret is shown
        once. ``role`` defaults to (and may not be above) the actor's role in the
        token's tenant (default: the actor's tenant).

        Raises: PermissionDenied for a role above the actor's; InvalidInput for a
        bad name or lifetime.
        """
        if len(name) > MAX_TOKEN_NAME_CHARS or not name.isprintable():
            raise InvalidInput(
                f"a token's name is at most {MAX_TOKEN_NAME_CHARS} printable characters"
            )
        if expires_in_days is not None and expires_in_days < 1:
            raise InvalidInput(f"expires_in_days must be >= 1, got {expires_in_days}")
        there = actor if tenant in (None, actor.tenant) else self.principal(actor.identity, tenant)
        if there.role is None:
            raise not_found(there.tenant)
        granted = there.role if role is None else role
        if granted > there.role:
            raise PermissionDenied(
                f"a token cannot have role {granted.label}: yours in {there.tenant!r} is "
                f"{there.role.label}"
            )
        now = self.clock()
        secret, digest = new_token()
        expires_at = None if expires_in_days is None else now + expires_in_days * DAY_MS
        record = ApiToken(
            token_id=new_public_id(),
            user=actor.user,
            tenant=there.tenant,
            role=granted,
            name=name,
            created_at=now,
            expires_at=self._within_parent(actor, expires_at),
        )
        with acting_as(actor.user):
            return self.store.create_token(record, digest), secret

    def _within_parent(self, actor: Principal, expires_at: int | None) -> int | None:
        """A token made with a token ends no later than that one: a short-lived token
        (leaked, or handed to a CI job) cannot mint one that outlives it."""
        parent_id = actor.identity.token_id
        if parent_id is None:
            return expires_at
        parent_end = self.store.get_token(parent_id).expires_at
        if parent_end is None:
            return expires_at
        return parent_end if expires_at is None else min(expires_at, parent_end)

    def list_tokens(self, actor: Principal, all_users: bool = False) -> Sequence[ApiToken]:
        """The actor's own tokens (a capped token sees them all too: listing gives
        nothing to act with); every user's for an admin with ``all_users``."""
        if all_users:
            self.require_admin(actor, "list every user's tokens")
            return self.store.list_tokens()
        return self.store.list_tokens(user=actor.user)

    def revoke_token(self, actor: Principal, token_id: str) -> ApiToken:
        """Revoke a token: one's own (with a capped token: itself, or one of its
        workspace not above its role), or any in a tenant the actor manages.

        Raises: NotFound for an unknown id, or one of a tenant the actor has no
        role in (the same answer: ids of other tenants are not revealed);
        PermissionDenied for another user's token in a tenant the actor is in but
        does not manage, or for one's own token beyond the capped token in use.
        """
        token = self.store.get_token(token_id)
        if token.user == actor.user:
            _within_cap(actor, token)
        elif not actor.is_admin:
            try:
                there = self.principal(actor.identity, token.tenant)
            except (NotFound, PermissionDenied):
                raise NotFound(f"token {token_id!r} not found") from None
            if there.role is None and not there.is_admin:
                raise NotFound(f"token {token_id!r} not found")
            if not there.allows(Action.MANAGE):
                raise PermissionDenied(f"token {token_id!r} is another user's")
        if token.revoked_at is not None:
            return token
        with acting_as(actor.user):
            return self.store.revoke_token(token_id, self.clock())


def _within_cap(actor: Principal, token: ApiToken) -> None:
    """Raises: PermissionDenied when ``actor`` uses a capped token and ``token``
    (of the same user) is another, of another workspace or above that cap."""
    identity = actor.identity
    cap = identity.role_cap
    if cap is None or identity.via != "token" or token.token_id == identity.token_id:
        return
    if token.tenant != identity.bound_tenant or token.role > cap:
        raise PermissionDenied(
            f"token {token.token_id!r} is {token.role.label} in {token.tenant!r}, beyond the "
            f"{cap.label} token of {identity.bound_tenant!r} this request uses; revoke it "
            "after logging in with your password (or with a stronger token)"
        )


__all__ = ["DAY_MS", "MAX_TOKEN_NAME_CHARS", "TokenOps", "not_found"]
