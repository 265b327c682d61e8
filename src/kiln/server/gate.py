"""Who a request is and whether it may do what its route's policy says (auth on).

``KilnStarlette`` puts the app's ``AuthGate`` in every request's scope; each
route admits its request under its policy (``kiln.server.policy``) in two steps:

* ``early`` on the event loop, before the body is read: the credentials are read
  from the headers (``Authorization: Bearer <kiln_pat_...>``, ``Authorization:
  Basic`` with a password or a ``kiln_pat_`` token as the password, or
  ``X-BDS-SESSION``), and a request with none is refused with 401 at once;
* ``admit`` on the thread that then runs the handler -- or, for a token on
  SQLite's inline writes (``kiln.server.fastlane``), on the event loop inside
  ``no_wait()``, where anything that might wait raises ``WouldBlock`` -- the store
  lookups (``AuthService``: one ``token_grant`` read for a token, argon2 for a
  password, bounded by the service) and the tenant: a route's ``tenant_param`` path
  parameter, else ``X-MLFLOW-WORKSPACE``, else the token's or session's tenant,
  else the user's only one, else ``default``.

The ``Principal`` goes into ``scope["kiln.principal"]`` and the audit actor
(``kiln.store.audit_context``) is set to its user. With auth off no gate is
installed; ``no_workspaces`` answers a request naming another workspace with 404.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from starlette.types import Scope

from kiln.auth.principal import Identity, Principal
from kiln.auth.service import WRONG_PASSWORD
from kiln.auth.tokens import TOKEN_PREFIX
from kiln.entities.auth import DEFAULT_TENANT
from kiln.errors import KilnError, NotFound, PermissionDenied, Unauthenticated
from kiln.server.policy import PRINCIPAL_KEY, Policy, require
from kiln.store.audit_context import set_actor
from kiln.store.sql.engine import WouldBlock, must_not_wait
from kiln.wire.fields import JsonObject

if TYPE_CHECKING:
    from kiln.auth.service import AuthService

CREDENTIALS_KEY = "kiln.credentials"  # scope key: the request's parsed Credentials
WORKSPACE_HEADER = b"x-mlflow-workspace"
SESSION_HEADER = b"x-bds-session"
# MLflow's server-info answers whatever workspace the header names.
SERVER_INFO_SUFFIX = "/mlflow/server-info"

NO_CREDENTIALS = (
    "this server needs credentials: an API token (Authorization: Bearer kiln_pat_..., "
    "or MLFLOW_TRACKING_TOKEN for the mlflow client), a user name and password "
    "(Basic; MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD) or a login session "
    "(X-BDS-SESSION); `kiln login` saves a token"
)
BAD_CREDENTIALS = (
    "the credentials were refused: unknown, expired or revoked, or the user is disabled"
)

Scheme = Literal["bearer", "basic", "session"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the request's headers present; ``scheme`` None: nothing usable
    (``problem`` says why when a header was there but could not be read)."""

    scheme: Scheme | None
    secret: str = ""  # the token, password or session value
    user: str = ""  # Basic's user name
    workspace: str | None = None  # X-MLFLOW-WORKSPACE, stripped; None when absent or blank
    problem: str | None = None


def read_credentials(headers: Iterable[tuple[bytes, bytes]]) -> Credentials:
    """The credentials and workspace in a request's headers (one pass)."""
    authorization = session = workspace = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value
        elif name == SESSION_HEADER:
            session = value
        elif name == WORKSPACE_HEADER:
            workspace = value
    named = workspace.decode("latin-1").strip() or None if workspace is not None else None
    if authorization is not None:
        return _authorization(authorization.decode("latin-1").strip(), named)
    if session is not None and session.strip():
        return Credentials("session", session.decode("latin-1").strip(), workspace=named)
    return Credentials(None, workspace=named)


def _authorization(value: str, workspace: str | None) -> Credentials:
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    kind = scheme.lower()
    if kind == "bearer" and rest:
        return Credentials("bearer", rest, workspace=workspace)
    if kind == "basic" and rest:
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Credentials(None, workspace=workspace, problem="malformed Basic credentials")
        user, colon, password = decoded.partition(":")
        if not colon:
            return Credentials(None, workspace=workspace, problem="malformed Basic credentials")
        return Credentials("basic", password, user=user, workspace=workspace)
    # a scheme's name is letters; anything else may be a secret sent without one
    shown = repr(scheme) if scheme.isalpha() and len(scheme) <= 20 else "(not shown)"
    return Credentials(
        None,
        workspace=workspace,
        problem=f"unsupported Authorization scheme {shown}; use Bearer or Basic",
    )


class AuthGate:
    """``kiln.server.policy.Gate`` over an ``AuthService`` (see the module docstring)."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    def early(self, scope: Scope, policy: Policy) -> None:
        if policy.public:
            return
        credentials = read_credentials(scope["headers"])
        scope[CREDENTIALS_KEY] = credentials
        if credentials.scheme is None:
            problem = credentials.problem
            raise Unauthenticated(f"{problem}. {NO_CREDENTIALS}" if problem else NO_CREDENTIALS)

    def admit(self, scope: Scope, policy: Policy, fields: JsonObject) -> Principal | None:
        if policy.public:
            scope[PRINCIPAL_KEY] = None
            return None
        credentials: Credentials | None = scope.get(CREDENTIALS_KEY)
        if credentials is None:
            self.early(scope, policy)
            credentials = scope[CREDENTIALS_KEY]
        if must_not_wait() and not _is_token(credentials):
            # the event loop checks only a token (one read); argon2 and a session's
            # touches run on a thread
            raise WouldBlock("only a token is checked on the event loop")
        identity = self._identity(credentials)
        principal = self._principal(
            identity, self._tenant(scope, policy, fields, credentials), policy
        )
        need = policy.need_for(fields)
        if need is not None:
            require(principal, need.action, need.doing)
        scope[PRINCIPAL_KEY] = principal
        set_actor(principal.user)
        return principal

    def _identity(self, credentials: Credentials) -> Identity:
        service = self.service
        identity: Identity | None = None
        if credentials.scheme == "bearer":
            identity = service.identity_for_token(credentials.secret)
        elif credentials.scheme == "basic":
            identity = service.identity_for_password(credentials.user, credentials.secret)
        elif credentials.scheme == "session":
            identity = service.identity_for_session(credentials.secret)
        if identity is None:
            # a password login hears one refusal, whatever was wrong (it tells a guesser
            # nothing); a token (Basic with a kiln_pat_ password too) hears the token's
            password = credentials.scheme == "basic" and not credentials.secret.startswith(
                TOKEN_PREFIX
            )
            raise Unauthenticated(WRONG_PASSWORD if password else BAD_CREDENTIALS)
        return identity

    @staticmethod
    def _tenant(
        scope: Scope, policy: Policy, fields: JsonObject, credentials: Credentials
    ) -> str | None:
        if policy.tenant_param is not None:  # a path parameter, never a body field
            named = scope.get("path_params", {}).get(policy.tenant_param)
            if isinstance(named, str) and named:
                return named
        return credentials.workspace

    def _principal(self, identity: Identity, tenant: str | None, policy: Policy) -> Principal:
        if policy.tenant:
            return self.service.principal(identity, tenant)
        # SIGNED_IN and ADMIN routes need no role in a tenant: a tenant the identity
        # cannot act in still names the request, with no role there.
        try:
            return self.service.principal(identity, tenant)
        except (NotFound, PermissionDenied):
            fallback = tenant or identity.bound_tenant or DEFAULT_TENANT
            return Principal(identity, fallback, None)


def _is_token(credentials: Credentials) -> bool:
    """A ``kiln_pat_`` token, as a Bearer or as Basic's password."""
    return credentials.scheme == "bearer" or (
        credentials.scheme == "basic" and credentials.secret.startswith(TOKEN_PREFIX)
    )


def no_workspaces(scope: Scope, workspace: str) -> KilnError | None:
    """Auth off: a request naming a workspace other than the server's one is 404
    (the header is not ignored, so nothing lands in the wrong place)."""
    for name, value in scope["headers"]:
        if name == WORKSPACE_HEADER:
            named = value.decode("latin-1").strip()
            if named and named != workspace and not scope["path"].endswith(SERVER_INFO_SUFFIX):
                return NotFound(
                    f"workspace {named!r} not found: this server serves only {workspace!r} "
                    "(workspaces need `kiln server --auth`)"
                )
    return None


__all__ = [
    "BAD_CREDENTIALS",
    "CREDENTIALS_KEY",
    "NO_CREDENTIALS",
    "AuthGate",
    "Credentials",
    "no_workspaces",
    "read_credentials",
]
