"""Who may do what, in which tenant: the records of ``kiln server --auth``.

A *tenant* (MLflow 3's *workspace*) owns every experiment, run, model and
artifact; a *user* holds a *role* in some tenants (a *membership*), or is a global
admin; *API tokens* and *sessions* stand for a user, each bound to one tenant.
Secrets never live here: a token or session is known by the sha256 of its
secret (``token_hash``/``session_hash``), a password by its argon2id hash.
Times are epoch milliseconds, as everywhere in Kiln.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

DEFAULT_TENANT = "default"


class Role(enum.IntEnum):
    """A user's role in one tenant; a higher role may do all a lower one may."""

    VIEWER = 10
    MEMBER = 20
    PROJECT_ADMIN = 30

    @property
    def label(self) -> str:
        """The role's name on the wire and the command line: ``viewer``,
        ``member``, ``project-admin``."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text`` (``viewer``, ``member``, ``project-admin``).

        Raises: ValueError for any other name.
        """
        for role in cls:
            if role.label == text.strip().lower():
                return role
        names = ", ".join(r.label for r in cls)
        raise ValueError(f"unknown role {text!r}; the roles are {names}")


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    description: str = ""
    created_at: int = 0
    # the artifact root of the tenant's new experiments; None: the server's, under
    # ``workspaces/<name>/`` (``default`` keeps the server's root as it is)
    default_artifact_root: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    name: str
    is_admin: bool = False
    disabled: bool = False
    created_at: int = 0
    # "local" (a password kept here) or "ldap" (checked against the directory)
    source: str = "local"


@dataclass(frozen=True, slots=True)
class Membership:
    """``user``'s role in ``tenant``. ``origin`` says where it came from: ``grant``
    (``kiln admin grant``, the admin API) or ``group`` (the LDAP group bindings in
    ``groups`` gave it at the user's last directory login; the next login, or an
    unbind, moves or removes it; a grant is never touched by them)."""

    user: str
    tenant: str
    role: Role
    origin: str = "grant"
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A ``kiln_pat_`` token's record; the secret itself is never stored.

    ``role`` caps what the token may do: the effective role of a request is the
    lower of this and the user's role in ``tenant`` at the time of the request.
    """

    token_id: str
    user: str
    tenant: str
    role: Role
    name: str = ""
    created_at: int = 0
    expires_at: int | None = None
    last_used_at: int | None = None
    revoked_at: int | None = None

    def active(self, now_ms: int) -> bool:
        """Not revoked and not expired at ``now_ms``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now_ms < self.expires_at


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token with its user and the user's role in the token's tenant, read in
    one query: the hot path of every token-authenticated request."""

    token: ApiToken
    user: User
    role: Role | None


@dataclass(frozen=True, slots=True)
class PasswordGrant:
    """A user, its password hash and its role in each tenant, read in one query:
    the hot path of every Basic-auth request (``AuthStore.password_grant``)."""

    user: User
    password_hash: str | None
    roles: tuple[tuple[str, Role], ...]  # (tenant, role), sorted by tenant


@dataclass(frozen=True, slots=True)
class Session:
    """A login session (``POST /api/v1/login``): idle and absolute expiry."""

    session_id: str  # public id, shown in ``GET /api/v1/session/<id>``'s answer
    user: str
    tenant: str
    created_at: int
    last_seen_at: int
    expires_at: int  # absolute end (created_at + the absolute timeout)


@dataclass(frozen=True, slots=True)
class GroupBinding:
    """Members of the LDAP group ``group`` (a DN or a cn) get ``role`` in ``tenant``."""

    group: str
    tenant: str
    role: Role


@dataclass(frozen=True, slots=True)
class Quota:
    """A tenant's share of the training cluster; None means no limit."""

    tenant: str
    cpus: float | None = None
    gpus: float | None = None
    memory_mb: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the append-only audit log.

    ``action`` is a dotted verb (``run.delete``, ``model.alias.set``,
    ``auth.login``, ``token.create`` ...); ``resource`` names the object
    (``run:<id>``, ``model:<name>``, ``model:<name>/<version>``, ``user:<name>``,
    ``tenant:<name>``); ``before``/``after`` hold what changed (never a secret).
    ``prev_hash``/``hash`` form the optional hash chain ``kiln audit verify`` checks.
    """

    event_id: int
    timestamp: int
    tenant: str
    actor: str
    action: str
    resource: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: str = ""
    prev_hash: str = ""
    hash: str = ""


__all__ = [
    "DEFAULT_TENANT",
    "ApiToken",
    "AuditEvent",
    "GroupBinding",
    "Membership",
    "PasswordGrant",
    "Quota",
    "Role",
    "Session",
    "Tenant",
    "TokenGrant",
    "User",
]
