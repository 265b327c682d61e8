"""Login sessions (the ``SessionOps`` part of ``AuthService``): ``POST /api/v1/login``
opens one, ``X-BDS-SESSION: /api/v1/session/<secret>`` carries it, logout ends it.

A session is bound to one tenant and ends after ``session_idle_minutes`` unused or
``session_absolute_hours`` after the login, whichever comes first; setting its
user's password or disabling the user deletes it (``AdminOps``). The store keeps
the sha256 of its secret, never the secret. Logins, failed logins and logouts are
the audit lines the service appends itself (no store write carries them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiln.auth.names import validate_tenant_name
from kiln.auth.principal import Identity, Principal
from kiln.auth.settings import AuthSettings
from kiln.auth.tokens import (
    looks_like_session_secret,
    looks_like_token,
    new_public_id,
    new_session_secret,
    token_hash,
)
from kiln.entities.auth import AuditEvent, Session, User
from kiln.errors import Unauthenticated
from kiln.store.audit_context import acting_as
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore

SESSION_PATH = "/api/v1/session/"
# The one refusal of a password login (Basic or POST /api/v1/login): the same for an
# unknown user, a wrong password and a disabled user, so it tells a guesser nothing.
WRONG_PASSWORD = "wrong user name or password"
TOUCH_EVERY_MS = 60_000  # last_used_at / last_seen_at move at most once a minute
PURGE_EVERY_MS = 3_600_000  # ended sessions are deleted at most once an hour


def session_secret_of(value: str) -> str:
    """The secret of an ``X-BDS-SESSION`` value: ``/api/v1/session/<secret>`` or the
    bare secret."""
    value = value.strip()
    return value[len(SESSION_PATH) :] if value.startswith(SESSION_PATH) else value


class SessionOps:
    """Login sessions of ``AuthService`` (which sets these and defines the password
    check, ``principal`` and the home tenant)."""

    store: AuthStore
    audit: AuditLog
    settings: AuthSettings
    clock: Callable[[], int]
    _purged_at: int  # when ended sessions were last deleted

    if TYPE_CHECKING:  # defined by AuthService; declared here for the type checker only

        def principal(self, identity: Identity, requested_tenant: str | None) -> Principal: ...
        def _check_password(self, name: str, password: str) -> User | None: ...
        def _failed(self, name: str, *, counted: bool = False) -> None: ...
        def _home_tenant(self, identity: Identity) -> str: ...
        def _user_or_none(self, name: str) -> User | None: ...

    def identity_for_session(self, value: str) -> Identity | None:
        """The identity of an ``X-BDS-SESSION`` value; None when malformed, unknown,
        idle too long, past its absolute end, or its user is disabled."""
        secret = session_secret_of(value)
        if not looks_like_session_secret(secret):
            return None
        session = self.store.session_by_hash(token_hash(secret))
        now = self.clock()
        if session is None or not self._session_live(session, now):
            return None
        user = self._user_or_none(session.user)
        if user is None or user.disabled:
            return None
        if now - session.last_seen_at >= TOUCH_EVERY_MS:
            self.store.touch_session(session.session_id, now)
        return Identity(
            user.name,
            is_admin=user.is_admin,
            via="session",
            bound_tenant=session.tenant,
            session_id=session.session_id,
        )

    def _session_live(self, session: Session, now: int) -> bool:
        idle_ms = self.settings.session_idle_minutes * 60_000
        return now < session.expires_at and now - session.last_seen_at < idle_ms

    # --- login sessions --------------------------------------------------------------------

    def login(self, name: str, password: str, tenant: str | None = None) -> tuple[Session, str]:
        """A new session for a password login: ``(session, header_value)``, the value
        (``/api/v1/session/<secret>``) being what ``X-BDS-SESSION`` carries.

        Raises: Unauthenticated for wrong credentials; TooManyRequests while the
        name is throttled; NotFound when ``tenant`` is not one of the user's.
        """
        user = None if looks_like_token(password) else self._check_password(name, password)
        if user is None:
            if looks_like_token(password):
                self._failed(name)
            raise Unauthenticated(WRONG_PASSWORD)
        identity = Identity(user.name, is_admin=user.is_admin, via="password")
        chosen = self.principal(identity, tenant).tenant if tenant else self._home_tenant(identity)
        secret, digest = new_session_secret()
        now = self.clock()
        self._purge_sessions(now)
        session = Session(
            session_id=new_public_id(),
            user=user.name,
            tenant=chosen,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.settings.session_absolute_hours * 3_600_000,
        )
        with acting_as(user.name):
            session = self.store.create_session(session, digest)
        self._audit(
            "auth.login",
            actor=user.name,
            tenant=chosen,
            resource=f"user:{user.name}",
            after={"session_id": session.session_id},
        )
        return session, SESSION_PATH + secret

    def _purge_sessions(self, now: int) -> None:
        """Remove ended sessions, at most once an hour (at a login: the table then
        holds the live sessions and those of the last hour)."""
        if now - self._purged_at < PURGE_EVERY_MS:
            return
        self._purged_at = now
        self.store.delete_expired_sessions(now, self.settings.session_idle_minutes * 60_000)

    def session_info(self, header_value: str) -> Session:
        """The live session of ``header_value`` (user, tenant, expiry).

        Raises: Unauthenticated when it is unknown, idle too long or expired.
        """
        session = self._live_session(header_value)
        if session is None:
            raise Unauthenticated("The session is unknown or has expired; log in again.")
        return session

    def _live_session(self, header_value: str) -> Session | None:
        secret = session_secret_of(header_value)
        if not looks_like_session_secret(secret):
            return None
        session = self.store.session_by_hash(token_hash(secret))
        if session is None or not self._session_live(session, self.clock()):
            return None
        return session

    def switch_session_tenant(self, header_value: str, tenant: str) -> Session:
        """Bind the live session of ``header_value`` to ``tenant`` (the web UI's
        workspace switcher: a browser sends no ``X-MLFLOW-WORKSPACE``, so the
        session's tenant is where its pages act); audited ``auth.switch_tenant``.

        Raises: Unauthenticated when the session is unknown, ended, or its user
        disabled; InvalidInput for a malformed name; NotFound when the tenant is
        missing or the user has no role there and is not an admin.
        """
        session = self._live_session(header_value)
        user = None if session is None else self._user_or_none(session.user)
        if session is None or user is None or user.disabled:
            raise Unauthenticated("The session is unknown or has expired; log in again.")
        validate_tenant_name(tenant)
        # who the user is, unbound: any tenant it holds a role in (an admin: any tenant)
        self.principal(Identity(user.name, is_admin=user.is_admin, via="session"), tenant)
        if tenant == session.tenant:
            return session
        with acting_as(user.name):
            moved = self.store.set_session_tenant(session.session_id, tenant)
        self._audit(
            "auth.switch_tenant",
            actor=user.name,
            tenant=tenant,
            resource=f"user:{user.name}",
            before={"session_id": session.session_id, "tenant": session.tenant},
            after={"session_id": session.session_id, "tenant": tenant},
        )
        return moved

    def land_session(self, header_value: str) -> Session:
        """Where a browser's login lands: the session as it is when its user holds a
        role in its tenant (or is an admin); else moved to the first tenant, by name,
        the user holds a role in. A user of several tenants who names none at login
        is bound to ``default`` (``login``), where it may hold no role, and its first
        page would be a refusal.

        Raises: Unauthenticated when the session is unknown or ended.
        """
        session = self.session_info(header_value)
        user = self._user_or_none(session.user)
        if user is None or user.is_admin:
            return session
        tenants = sorted(m.tenant for m in self.store.list_memberships(user=user.name))
        if not tenants or session.tenant in tenants:
            return session
        return self.switch_session_tenant(header_value, tenants[0])

    def logout(self, header_value: str) -> bool:
        """End the session of ``header_value``; False when there was none."""
        session = self._live_session(header_value)
        if session is None:
            return False
        with acting_as(session.user):
            self.store.delete_session(session.session_id)
        self._audit(
            "auth.logout",
            actor=session.user,
            tenant=session.tenant,
            resource=f"user:{session.user}",
            before={"session_id": session.session_id},
        )
        return True

    # --- audit -----------------------------------------------------------------------------

    def _audit(
        self,
        action: str,
        *,
        actor: str,
        tenant: str,
        resource: str,
        before: dict[str, object] | None = None,
        after: dict[str, object] | None = None,
    ) -> None:
        """Append an event no store write carries (logins, logouts)."""
        self.audit.append(
            AuditEvent(0, self.clock(), tenant, actor, action, resource, before=before, after=after)
        )


__all__ = [
    "PURGE_EVERY_MS",
    "SESSION_PATH",
    "TOUCH_EVERY_MS",
    "WRONG_PASSWORD",
    "SessionOps",
    "session_secret_of",
]
