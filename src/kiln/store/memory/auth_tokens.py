"""API tokens and login sessions of the in-memory ``AuthStore``, and what its parts
share: the tables, the lock, the lookups and the audit hook."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kiln.entities.auth import (
    DEFAULT_TENANT,
    ApiToken,
    Quota,
    Role,
    Session,
    Tenant,
    TokenGrant,
    User,
)
from kiln.errors import AlreadyExists, NotFound
from kiln.store.clock import Clock
from kiln.store.protocols.audit import AuditLog
from kiln.store.rules.audit import store_event
from kiln.store.rules.auth import (
    check_session,
    check_token,
    token_fields,
)

_V = TypeVar("_V")


@dataclass
class UserRecord:
    user: User
    password_hash: str | None


@dataclass
class AuthTables:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (user, tenant)
    # (user, tenant) -> the bound groups that gave a group-derived role; absent: a grant
    member_groups: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    groups: dict[tuple[str, str], Role] = field(default_factory=dict)  # (group, tenant)
    quotas: dict[str, Quota] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    token_ids: dict[str, str] = field(default_factory=dict)  # hash -> id
    token_hashes: dict[str, str] = field(default_factory=dict)  # id -> hash
    sessions: dict[str, Session] = field(default_factory=dict)
    session_ids: dict[str, str] = field(default_factory=dict)  # hash -> id
    session_hashes: dict[str, str] = field(default_factory=dict)  # id -> hash


def _found(table: dict[str, _V], key: str, what: str) -> _V:
    """``table[key]``, or ``NotFound`` naming ``what`` is missing."""
    found = table.get(key)
    if found is None:
        raise NotFound(f"{what} {key!r} not found")
    return found


class MemoryAuthBase:
    """The tables of a ``MemoryAuthStore``, its lock, and the lookups its parts make.
    Every method expects the caller to hold ``_lock``."""

    _audit: AuditLog | None
    _clock: Clock
    _lock: threading.RLock
    _t: AuthTables

    # helpers -----------------------------------------------------------------------
    def _record(
        self,
        action: str,
        resource: str,
        tenant: str = DEFAULT_TENANT,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        if self._audit is None:
            return
        event = store_event(tenant, action, resource, before, after, timestamp=self._clock())
        self._audit.append(event)

    def _tenant(self, name: str) -> Tenant:
        return _found(self._t.tenants, name, "workspace")

    def _user(self, name: str) -> UserRecord:
        return _found(self._t.users, name, "user")

    def _token(self, token_id: str) -> ApiToken:
        return _found(self._t.tokens, token_id, "token")

    def _session(self, session_id: str) -> Session:
        return _found(self._t.sessions, session_id, "session")

    def _check_filters(self, user: str | None, tenant: str | None) -> None:
        """A listing's filters: ``NotFound`` for a named user or workspace that is not there."""
        if user is not None:
            self._user(user)
        if tenant is not None:
            self._tenant(tenant)


class MemoryTokens(MemoryAuthBase):
    """API tokens and login sessions."""

    # API tokens --------------------------------------------------------------------
    def create_token(self, token: ApiToken, token_hash: str) -> ApiToken:
        check_token(token, token_hash)
        with self._lock:
            self._user(token.user)
            self._tenant(token.tenant)
            if token.token_id in self._t.tokens or token_hash in self._t.token_ids:
                raise AlreadyExists(f"token {token.token_id!r} already exists")
            self._t.tokens[token.token_id] = token
            self._t.token_ids[token_hash] = token.token_id
            self._t.token_hashes[token.token_id] = token_hash
            self._record(
                "token.create", f"token:{token.token_id}", token.tenant, after=token_fields(token)
            )
            return token

    def token_grant(self, token_hash: str) -> TokenGrant | None:
        with self._lock:
            token_id = self._t.token_ids.get(token_hash)
            if token_id is None:
                return None
            token = self._t.tokens[token_id]
            user = self._t.users[token.user].user
            return TokenGrant(token, user, self._t.roles.get((token.user, token.tenant)))

    def get_token(self, token_id: str) -> ApiToken:
        with self._lock:
            return self._token(token_id)

    def list_tokens(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[ApiToken]:
        with self._lock:
            self._check_filters(user, tenant)
            found = [
                t
                for t in self._t.tokens.values()
                if (user is None or t.user == user) and (tenant is None or t.tenant == tenant)
            ]
            return sorted(found, key=lambda t: (t.created_at, t.token_id))

    def revoke_token(self, token_id: str, when: int) -> ApiToken:
        with self._lock:
            token = self._token(token_id)
            if token.revoked_at is not None:
                return token
            revoked = dataclasses.replace(token, revoked_at=when)
            self._t.tokens[token_id] = revoked
            self._record(
                "token.revoke",
                f"token:{token_id}",
                token.tenant,
                before={"revoked_at": None},
                after={"revoked_at": when},
            )
            return revoked

    def touch_token(self, token_id: str, when: int) -> None:
        with self._lock:
            token = self._token(token_id)
            self._t.tokens[token_id] = dataclasses.replace(token, last_used_at=when)

    # login sessions ----------------------------------------------------------------
    def create_session(self, session: Session, session_hash: str) -> Session:
        check_session(session, session_hash)
        with self._lock:
            self._user(session.user)
            self._tenant(session.tenant)
            if session.session_id in self._t.sessions or session_hash in self._t.session_ids:
                raise AlreadyExists(f"session {session.session_id!r} already exists")
            self._t.sessions[session.session_id] = session
            self._t.session_ids[session_hash] = session.session_id
            self._t.session_hashes[session.session_id] = session_hash
            return session

    def session_by_hash(self, session_hash: str) -> Session | None:
        with self._lock:
            session_id = self._t.session_ids.get(session_hash)
            return None if session_id is None else self._t.sessions[session_id]

    def touch_session(self, session_id: str, when: int) -> None:
        with self._lock:
            session = self._session(session_id)
            self._t.sessions[session_id] = dataclasses.replace(session, last_seen_at=when)

    def set_session_tenant(self, session_id: str, tenant: str) -> Session:
        with self._lock:
            session = self._session(session_id)
            self._tenant(tenant)
            moved = dataclasses.replace(session, tenant=tenant)
            self._t.sessions[session_id] = moved
            return moved

    def delete_session(self, session_id: str) -> None:
        with self._lock:
            self._session(session_id)
            self._drop_session(session_id)

    def delete_user_sessions(self, user: str) -> int:
        with self._lock:
            self._user(user)
            gone = [s.session_id for s in self._t.sessions.values() if s.user == user]
            for session_id in gone:
                self._drop_session(session_id)
            return len(gone)

    def _drop_session(self, session_id: str) -> None:
        del self._t.sessions[session_id]
        del self._t.session_ids[self._t.session_hashes.pop(session_id)]

    def delete_expired_sessions(self, now: int, idle_ms: int) -> int:
        with self._lock:
            gone = [
                s.session_id
                for s in self._t.sessions.values()
                if s.expires_at <= now or s.last_seen_at <= now - idle_ms
            ]
            for session_id in gone:
                self._drop_session(session_id)
            return len(gone)

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["AuthTables", "MemoryAuthBase", "MemoryTokens", "UserRecord"]
