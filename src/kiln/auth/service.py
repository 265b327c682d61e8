"""The auth service: credentials -> ``Identity`` -> ``Principal``, login sessions,
API tokens, and (``kiln.auth.admin_ops``) tenants, users and roles.

One object per server (or per ``kiln admin`` command), on an ``AuthStore`` and an
``AuditLog``; every method is a plain blocking call (the server runs password
checks in its threadpool). Nothing here caches who may do what: the role of a
request is read from the store on every request, so a revoked membership, a
disabled user or a revoked token stops working at the next request.

Costs per request (the hot path):

* token: one ``AuthStore.token_grant`` (token, user and the user's role in the
  token's tenant, one SELECT) plus a sha256; ``principal`` in the token's own
  tenant reads nothing more: the grant's role travels on ``Identity.tenant_role``
  (an ``Identity`` lives for one request and is never cached);
  ``touch_token`` at most once a minute per token;
* session: ``session_by_hash`` + ``get_user`` (+ ``role_of`` in ``principal``);
* Basic password: ``get_user`` + ``get_password_hash`` and, within
  ``password_cache_seconds`` of a verified success, no argon2 (``PasswordCache``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kiln.auth import passwords
from kiln.auth.directory import Directory, DirectoryUser
from kiln.auth.names import validate_user_name
from kiln.auth.principal import Identity, Principal
from kiln.auth.pwcache import PasswordCache
from kiln.auth.ratelimit import LoginThrottle
from kiln.auth.settings import AuthSettings
from kiln.auth.token_ops import TokenOps, not_found
from kiln.auth.tokens import (
    looks_like_session_secret,
    looks_like_token,
    new_public_id,
    new_session_secret,
    token_hash,
)
from kiln.entities.auth import DEFAULT_TENANT, AuditEvent, Role, Session, User
from kiln.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from kiln.store.audit_context import acting_as
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore

SESSION_PATH = "/api/v1/session/"
# The one refusal of a password login (Basic or POST /api/v1/login): the same for an
# unknown user, a wrong password and a disabled user, so it tells a guesser nothing.
WRONG_PASSWORD = "wrong user name or password"
TOUCH_EVERY_MS = 60_000  # last_used_at / last_seen_at move at most once a minute
PURGE_EVERY_MS = 3_600_000  # ended sessions are deleted at most once an hour
DEFAULT_SETTINGS = AuthSettings()


def now_ms() -> int:
    """Epoch milliseconds, as every time in Kiln."""
    return time.time_ns() // 1_000_000


def session_secret_of(value: str) -> str:
    """The secret of an ``X-BDS-SESSION`` value: ``/api/v1/session/<secret>`` or the
    bare secret."""
    value = value.strip()
    return value[len(SESSION_PATH) :] if value.startswith(SESSION_PATH) else value


class AuthService(TokenOps):
    """Who a request is, what it may do where, and the records behind that."""

    def __init__(
        self,
        store: AuthStore,
        audit: AuditLog,
        settings: AuthSettings = DEFAULT_SETTINGS,
        *,
        directory: Directory | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.audit = audit
        self.settings = settings
        self.directory = directory
        self.clock = clock
        self.gate = passwords.HashGate(settings.max_concurrent_hashes)
        self.cache = PasswordCache(settings.password_cache_seconds * 1000)
        self._purged_at = 0
        self.tenant_listeners = []
        self.throttle = LoginThrottle(
            settings.max_failed_logins, settings.failed_login_window_seconds, clock=clock
        )

    # --- credentials -> identity ---------------------------------------------------------

    def identity_for_token(self, secret: str) -> Identity | None:
        """The identity of a ``kiln_pat_`` token: None when malformed, unknown,
        revoked, expired, or its user is disabled."""
        if not looks_like_token(secret):
            return None
        grant = self.store.token_grant(token_hash(secret))
        now = self.clock()
        if grant is None or not grant.token.active(now) or grant.user.disabled:
            return None
        token = grant.token
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY_MS:
            self.store.touch_token(token.token_id, now)
        # a token at the highest role caps nothing: an admin's full token acts as the admin
        cap = None if token.role >= Role.PROJECT_ADMIN else token.role
        return Identity(
            token.user,
            is_admin=grant.user.is_admin,
            via="token",
            bound_tenant=token.tenant,
            role_cap=cap,
            token_id=token.token_id,
            tenant_role=grant.role,
        )

    def identity_for_password(self, name: str, password: str) -> Identity | None:
        """The identity of a Basic-auth (name, password); a ``kiln_pat_`` password is
        a token (whatever the name). None when they do not match.

        Raises: TooManyRequests while the name is throttled (failed logins);
        StoreUnavailable when the directory cannot be reached.
        """
        if looks_like_token(password):
            return self.identity_for_token(password)
        user = self._check_password(name, password)
        if user is None:
            return None
        return Identity(user.name, is_admin=user.is_admin, via="password")

    def _check_password(self, name: str, password: str) -> User | None:
        try:
            validate_user_name(name)
        except InvalidInput:
            return None
        user = self._user_or_none(name)
        if user is not None and user.disabled:
            self.throttle.check(name)
            passwords.burn_verification(password, gate=self.gate)
            self._failed(name)
            return None
        local = user is not None and user.source == "local"
        stored = self.store.get_password_hash(name) if local else None
        source_key = stored if local else "ldap"
        now = self.clock()
        if user is not None and self.cache.hit(name, password, source_key, now):
            # verified within the cache period: someone guessing this user's password
            # does not lock out the client that knows it (only a guess is throttled)
            return user
        self.throttle.check(name)
        with self.cache.single_flight(name, password):
            return self._verify(name, password, user, stored, source_key, now)

    def _verify(
        self,
        name: str,
        password: str,
        user: User | None,
        stored: str | None,
        source_key: str | None,
        now: int,
    ) -> User | None:
        """Check a password not in the cache (argon2, or the directory)."""
        if user is not None and self.cache.hit(name, password, source_key, now):
            return user  # verified by the request this one waited for
        # counted as a failure before the check (success clears it): guesses sent at
        # once, all waiting for the hash gate, cannot outrun the throttle
        self.throttle.attempt(name)
        try:
            if user is not None and user.source == "local":
                ok = passwords.verify_password(stored, password, gate=self.gate)
                if ok and stored is not None and passwords.needs_rehash(stored):
                    source_key = self._rehash(name, password)
            elif self.directory is not None and password:
                # behind the gate as argon2 is: a bind per check, and a flood of names
                # against a slow directory must not hold every handler thread
                with self.gate:
                    found = self.directory.authenticate(name, password)
                ok = found is not None
                if found is not None:
                    user = self._sync_directory_user(user, found)
                else:  # as slow as a local user's wrong password: timing names no user
                    passwords.burn_verification(password, gate=self.gate)
            else:
                passwords.burn_verification(password, gate=self.gate)
                ok = False
        except BaseException:
            self.throttle.refund(name)  # not a wrong password: the directory failed
            raise
        if not ok or user is None:
            self._failed(name, counted=True)
            return None
        self.throttle.success(name)
        self.cache.remember(name, password, source_key, now)
        return user

    def _rehash(self, name: str, password: str) -> str:
        """Store the hash of a just-verified password with today's argon2 parameters
        (a hash made with older ones is upgraded at its user's next login)."""
        stored = passwords.hash_password(password, gate=self.gate)
        with acting_as(name):
            self.store.set_password_hash(name, stored)
        return stored

    def _failed(self, name: str, *, counted: bool = False) -> None:
        if not counted:  # else ``throttle.attempt`` counted it already
            self.throttle.failure(name)
        self._audit("auth.login_failed", actor=name, tenant=DEFAULT_TENANT, resource=f"user:{name}")

    def _user_or_none(self, name: str) -> User | None:
        try:
            return self.store.get_user(name)
        except NotFound:
            return None

    def _sync_directory_user(self, user: User | None, found: DirectoryUser) -> User | None:
        """Create a directory user on first login, and set its group-derived roles to
        exactly what its groups are bound to now: added, raised, lowered, or removed
        when it left every bound group of a tenant (and with them its tokens' access
        there). A role an admin granted is never touched and wins over the groups'
        (``kiln.store.rules.group_sync``). None when the directory's name for it is a
        local user (or not a valid name)."""
        if user is None or user.name != found.name:
            try:
                validate_user_name(found.name)
            except InvalidInput:
                return None
            # the directory's spelling of the name ("Alice" logs in as "alice")
            user = self._user_or_none(found.name)
        if user is not None and (user.source != "ldap" or user.disabled):
            return None
        with acting_as(found.name):
            if user is None:
                user = self.store.create_user(found.name, None, source="ldap")
            self.store.sync_group_memberships(user.name, found.groups)
        return user

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

    # --- identity -> principal -------------------------------------------------------------

    def principal(self, identity: Identity, requested_tenant: str | None) -> Principal:
        """``identity`` acting in the requested tenant, else its bound one, else its
        only membership's, else ``default``; the role re-read now, capped.

        Raises: PermissionDenied when a token or session bound to another tenant
        names this one; NotFound when the tenant is missing or the user has no role
        there (and is not an admin).
        """
        if identity.via == "anonymous":
            return Principal(identity, requested_tenant or DEFAULT_TENANT, Role.PROJECT_ADMIN)
        full_admin = identity.is_admin and identity.role_cap is None
        tenant = requested_tenant or identity.bound_tenant or self._home_tenant(identity)
        if identity.bound_tenant is not None and tenant != identity.bound_tenant and not full_admin:
            raise PermissionDenied(
                f"this {identity.via} is for workspace {identity.bound_tenant!r}, not {tenant!r}"
            )
        read_with_credentials = identity.via == "token" and tenant == identity.bound_tenant
        if read_with_credentials:
            role = identity.tenant_role  # read by token_grant in this request
        else:
            try:
                role = self.store.role_of(identity.user, tenant)
            except NotFound:
                raise not_found(tenant) from None
        if identity.is_admin:
            if role is None and not read_with_credentials:
                self._tenant_exists(
                    tenant
                )  # a token's tenant exists: deleting it deletes the token
            role = Role.PROJECT_ADMIN
        if role is None:
            if requested_tenant is None and not identity.is_admin:
                self._refuse_roleless(identity.user)
            raise not_found(tenant)
        if identity.role_cap is not None:
            role = min(role, identity.role_cap)
        return Principal(identity, tenant, role)

    def _home_tenant(self, identity: Identity) -> str:
        memberships = self.store.list_memberships(user=identity.user)
        return memberships[0].tenant if len(memberships) == 1 else DEFAULT_TENANT

    def _refuse_roleless(self, user: str) -> None:
        """A request that named no workspace from a user with no role anywhere: say
        so (only about the caller's own memberships) rather than that ``default``
        is missing. Read only on this refusal path."""
        if not self.store.list_memberships(user=user):
            raise NotFound(
                f"user {user!r} has no role in any workspace; ask an administrator for one "
                f"(kiln admin grant {user} WORKSPACE ROLE)"
            )

    def _tenant_exists(self, tenant: str) -> None:
        try:
            self.store.get_tenant(tenant)
        except NotFound:
            raise not_found(tenant) from None

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

    # --- the first admin -------------------------------------------------------------------

    def bootstrap_admin(self, password: str | None) -> bool:
        """Make sure an admin exists: True when one does (or was just made as user
        ``admin`` with ``password``); False when none does and no password is given.

        Raises: Conflict when a user ``admin`` exists and is not an admin.
        """
        if any(user.is_admin and not user.disabled for user in self.store.list_users()):
            return True
        if not password:
            return False
        if self._user_or_none("admin") is not None:
            raise Conflict(
                "user 'admin' exists and is not an admin; make one with "
                "`kiln admin create-user NAME --admin`"
            )
        passwords.check_password_rules(password)
        stored = passwords.hash_password(password, gate=self.gate)
        with acting_as("admin"):
            self.store.create_user("admin", stored, is_admin=True)
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


__all__ = ["SESSION_PATH", "WRONG_PASSWORD", "AuthService", "now_ms", "session_secret_of"]
