"""The auth service: credentials -> ``Identity`` -> ``Principal``; login sessions
(``kiln.auth.session_ops``), API tokens (``kiln.auth.token_ops``: a token capped
below project-admin cannot revoke its user's stronger tokens), and
(``kiln.auth.admin_ops``) tenants, users and roles.

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
* Basic password: one ``AuthStore.password_grant`` (the user, its password hash
  and its roles, one SELECT) and, within ``password_cache_seconds`` of a verified
  success, no argon2 (``PasswordCache``: the entry holds only while the hash read
  now is the one it was verified against); ``principal`` reads no role again: the
  roles travel on ``Identity.member_roles`` (an admin naming a tenant it has no
  role in reads that the tenant exists).
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
from kiln.auth.session_ops import (
    SESSION_PATH,
    TOUCH_EVERY_MS,
    WRONG_PASSWORD,
    SessionOps,
    session_secret_of,
)
from kiln.auth.settings import AuthSettings
from kiln.auth.token_ops import TokenOps, not_found
from kiln.auth.tokens import looks_like_token, token_hash
from kiln.entities.auth import DEFAULT_TENANT, Role, User
from kiln.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from kiln.store.audit_context import acting_as
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore

DEFAULT_SETTINGS = AuthSettings()
# a user's (tenant, role) pairs, read with its password hash (``PasswordGrant.roles``)
Roles = tuple[tuple[str, Role], ...]


def now_ms() -> int:
    """Epoch milliseconds, as every time in Kiln."""
    return time.time_ns() // 1_000_000


class AuthService(SessionOps, TokenOps):
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
        checked = self._checked_password(name, password)
        if checked is None:
            return None
        user, roles = checked
        return Identity(user.name, is_admin=user.is_admin, via="password", member_roles=roles)

    def _check_password(self, name: str, password: str) -> User | None:
        checked = self._checked_password(name, password)
        return None if checked is None else checked[0]

    def _checked_password(self, name: str, password: str) -> tuple[User, Roles | None] | None:
        """The user whose password this is, with its roles read in the same query
        (None when a directory login just changed them: ``principal`` reads them)."""
        try:
            validate_user_name(name)
        except InvalidInput:
            return None
        grant = self.store.password_grant(name)  # read on every request: disabled, hash, roles
        user = None if grant is None else grant.user
        if user is not None and user.disabled:
            self.throttle.check(name)
            passwords.burn_verification(password, gate=self.gate)
            self._failed(name)
            return None
        local = user is not None and user.source == "local"
        stored = grant.password_hash if grant is not None and local else None
        source_key = stored if local else "ldap"
        now = self.clock()
        if grant is not None and self.cache.hit(name, password, source_key, now):
            # verified within the cache period: someone guessing this user's password
            # does not lock out the client that knows it (only a guess is throttled)
            return grant.user, grant.roles
        self.throttle.check(name)
        with self.cache.single_flight(name, password):
            found = self._verify(name, password, user, stored, source_key, now)
        if found is None:
            return None
        # a directory login has just synced the user's group-derived memberships
        return found, grant.roles if grant is not None and found.source == "local" else None

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
        elif identity.member_roles is not None:
            role = dict(identity.member_roles).get(tenant)  # read by password_grant
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
        if identity.member_roles is not None:
            tenants = [tenant for tenant, _ in identity.member_roles]
        else:
            tenants = [m.tenant for m in self.store.list_memberships(user=identity.user)]
        return tenants[0] if len(tenants) == 1 else DEFAULT_TENANT

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


__all__ = ["SESSION_PATH", "WRONG_PASSWORD", "AuthService", "now_ms", "session_secret_of"]
