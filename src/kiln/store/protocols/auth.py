"""The ``AuthStore`` contract: tenants, users, memberships, tokens, sessions.

One store per database (it is not bound to a tenant: it is what decides tenants).
Backends: memory (tests, ``memory://``) and SQL (SQLite, PostgreSQL; the tables
of migration 0008 in the tracking database). There is no file or REST backend:
``kiln server --auth`` needs a SQL store (the audit log is written in the same
transaction as the change it records).

Contract, shared by every backend (``kiln.testing.contracts.auth``):

* Names are checked by the caller (``kiln.auth.names``); the store only keeps
  them unique: creating a taken tenant or user name raises ``AlreadyExists``;
  any read or write naming a missing tenant, user, token or session raises
  ``NotFound``.
* ``create_tenant`` writes the tenant; ``default`` exists in every store from the
  start and cannot be deleted (``InvalidInput``).
* A user's password hash is kept beside the user and only read by
  ``get_password_hash`` (never on ``User``).
* ``set_membership`` is an upsert (grant or change a role); ``delete_membership``
  of a missing membership raises ``NotFound``. ``role_of(user, tenant)`` answers
  None when the user has no role there (admins are not members by default).
* A membership's ``origin`` is ``grant`` (``set_membership``: an admin's choice) or
  ``group`` (``sync_group_memberships``: what the LDAP group bindings in its
  ``groups`` gave at the user's last directory login). The sync sets the
  group-derived memberships exactly (added, raised, lowered, removed) and never
  touches a grant: where a user holds a grant it wins, whatever the groups give
  (rules: ``kiln.store.rules.group_sync``). ``set_membership`` over a group-derived
  membership makes it a grant; ``delete_membership`` of one holds until the user's
  next login while a bound group still gives it (unbind the group, or take the user
  out of it, to keep it away; disable the user to stop it at once). Unbinding a
  group, or binding it to another role, re-reads at once, in the same transaction,
  each group-derived membership it gave: the highest role of its groups still bound
  there, or none (the membership goes, audited ``member.revoke``), so a token of that
  user stops working there at once.
* Deleting a tenant deletes its memberships, tokens, sessions, group bindings and
  quota; the caller decides whether a tenant with data may go (``tenant_holds_data``).
  ``purge=True`` also deletes, in the same transaction, every tracking, registry and
  logged-model record of the tenant (a tenant later created with that name starts
  empty); its audit line's ``before`` carries ``purged``: how many experiments, runs,
  registered models and logged models went. Artifacts are never deleted.
* Tokens and sessions are found by the sha256 hex digest of their secret
  (``token_grant``, ``session_by_hash``); an unknown hash answers None, not an
  error (a failed login must not learn which part was wrong). ``revoke_token``
  sets ``revoked_at`` (kept for the audit), ``delete_session`` removes the row,
  ``delete_user_sessions`` every row of one user.
* ``touch_session`` moves ``last_seen_at`` (idle timeout); ``touch_token`` moves
  ``last_used_at`` (it may be coalesced: at most once a minute per token).
* ``set_session_tenant`` rebinds a session to another tenant; nothing else of it
  changes (its id, secret, user and expiry stay).
* Every write that the audit log records (tenants, users, memberships, tokens,
  logins are recorded by the caller through ``AuditLog``) takes the ``actor``
  from ``kiln.store.audit_context``; the SQL backend writes that audit row in
  the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from kiln.entities.auth import (
    ApiToken,
    GroupBinding,
    Membership,
    PasswordGrant,
    Quota,
    Role,
    Session,
    Tenant,
    TokenGrant,
    User,
)


@runtime_checkable
class AuthStore(Protocol):
    """Tenants, users and what stands for a user (tokens, sessions)."""

    # tenants
    def create_tenant(
        self, name: str, description: str = "", default_artifact_root: str | None = None
    ) -> Tenant: ...
    def get_tenant(self, name: str) -> Tenant: ...
    def list_tenants(self) -> Sequence[Tenant]:
        """Every tenant, ``default`` included, sorted by name."""
        ...

    def update_tenant(
        self, name: str, description: str | None = None, default_artifact_root: str | None = None
    ) -> Tenant: ...
    def delete_tenant(self, name: str, *, purge: bool = False) -> None:
        """Delete the tenant and what hangs off it (memberships, tokens, sessions,
        group bindings, quota), with its ``tenant.delete`` audit line. With
        ``purge`` also every experiment, run, dataset, registered model and logged
        model of the tenant in the same database, in the same transaction (MLflow's
        ``CASCADE`` mode); without it those records are left where they are.
        Artifacts are never deleted. Raises: NotFound, InvalidInput for ``default``."""
        ...

    def tenant_holds_data(self, name: str) -> bool:
        """True when any run, experiment, registered model or logged model of the
        tenant exists (deleted ones included) in the same database; the empty
        ``Default`` experiment a tracking store makes on first open does not count
        (else a tenant once visited could never be deleted without force)."""
        ...

    # users
    def create_user(
        self, name: str, password_hash: str | None, *, is_admin: bool = False, source: str = "local"
    ) -> User: ...
    def get_user(self, name: str) -> User: ...
    def list_users(self) -> Sequence[User]: ...
    def get_password_hash(self, name: str) -> str | None: ...
    def password_grant(self, name: str) -> PasswordGrant | None:
        """The user, its password hash and its role in each tenant (sorted by
        tenant), in one query (SQL: one SELECT of ``users`` outer-joined to its
        ``memberships``): a cached Basic-auth request's only read. None when there
        is no such user."""
        ...

    def set_password_hash(self, name: str, password_hash: str | None) -> None: ...
    def set_user_flags(
        self, name: str, *, is_admin: bool | None = None, disabled: bool | None = None
    ) -> User: ...

    # memberships and LDAP group bindings
    def set_membership(self, user: str, tenant: str, role: Role) -> Membership:
        """Grant ``role`` (origin ``grant``), replacing any membership there."""
        ...

    def delete_membership(self, user: str, tenant: str) -> None: ...
    def role_of(self, user: str, tenant: str) -> Role | None: ...
    def list_memberships(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[Membership]: ...
    def sync_group_memberships(self, user: str, groups: Collection[str]) -> Sequence[Membership]:
        """At a directory login: make ``user``'s group-derived memberships what the
        bindings of ``groups`` (the user's groups, lower-cased DNs and cns; a binding
        applies when its group lower-cased is one) give: per tenant the highest
        bound role. A group-derived membership they no longer give goes; a grant is
        never touched. One transaction; only changes are written and audited
        (``member.grant`` / ``member.revoke`` with ``origin`` and ``groups``).
        Answers the user's memberships after. Raises: NotFound for a missing user."""
        ...

    def set_group_binding(self, group: str, tenant: str, role: Role) -> GroupBinding:
        """Bind (or re-bind to another role: the group-derived memberships it gave
        follow the new role at once)."""
        ...

    def delete_group_binding(self, group: str, tenant: str) -> None:
        """Unbind; in the same transaction the group-derived memberships it gave
        drop to the role of their other groups still bound there, or go."""
        ...

    def list_group_bindings(self, tenant: str | None = None) -> Sequence[GroupBinding]: ...

    # quotas (the training cluster's admission reads them)
    def set_quota(self, quota: Quota) -> Quota: ...
    def get_quota(self, tenant: str) -> Quota:
        """The tenant's quota; one with no limits when none was set."""
        ...

    # API tokens
    def create_token(self, token: ApiToken, token_hash: str) -> ApiToken: ...
    def token_grant(self, token_hash: str) -> TokenGrant | None:
        """The token, its user and the user's role in the token's tenant, in one
        query (SQL: one SELECT joining the three tables); revoked and expired
        tokens are answered too (the caller checks ``active``)."""
        ...

    def get_token(self, token_id: str) -> ApiToken: ...
    def list_tokens(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[ApiToken]: ...
    def revoke_token(self, token_id: str, when: int) -> ApiToken: ...
    def touch_token(self, token_id: str, when: int) -> None: ...

    # login sessions
    def create_session(self, session: Session, session_hash: str) -> Session: ...
    def session_by_hash(self, session_hash: str) -> Session | None: ...
    def touch_session(self, session_id: str, when: int) -> None: ...
    def set_session_tenant(self, session_id: str, tenant: str) -> Session:
        """Bind the session to ``tenant`` (the web UI's workspace switcher; the
        caller checks the user may act there and audits it); answer the session.
        Raises: NotFound for a missing session or tenant."""
        ...

    def delete_session(self, session_id: str) -> None: ...
    def delete_user_sessions(self, user: str) -> int:
        """End every login session of ``user`` (its password was set, or it was
        disabled: a session opened with the old password, or before the user was
        disabled, must not outlive that, nor come back when it is enabled again);
        answer how many went. Not audited (the change that calls for it is).
        Raises: NotFound for a missing user."""
        ...

    def delete_expired_sessions(self, now: int, idle_ms: int) -> int:
        """Remove sessions past their absolute end or idle longer than ``idle_ms``;
        answer how many went."""
        ...

    def close(self) -> None: ...


__all__ = ["AuthStore"]
