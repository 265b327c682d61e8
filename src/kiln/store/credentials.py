"""What a request to a tracking server carries besides its body: credentials, workspace.

The store layer reads no configuration. The edge (``kiln.config``) installs the
process's ``CredentialSource`` with :func:`set_default_source`; the REST stores
and the ``mlflow-artifacts:`` store call the source once per request with the
URL they are about to send to, so a variable set after a store was opened
(``MLFLOW_TRACKING_TOKEN``, ``kiln.set_workspace``) counts at the next request,
as it does in MLflow's client. A store may be given its own source instead.

The headers are MLflow's (``mlflow.utils.rest_utils.http_request``): Basic when
a user name and a password are both known, else Bearer with a token;
``X-MLFLOW-WORKSPACE`` when a workspace is chosen, except on the
``/mlflow/workspaces`` endpoints, which name the workspace in their path.

Secrets never appear in ``repr`` (so never in a log line or a traceback's locals).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
_WORKSPACE_ENDPOINTS = "/mlflow/workspaces"


@dataclass(frozen=True, slots=True)
class HttpCredentials:
    """Who a request comes from, and in which workspace.

    Attributes:
        token: a bearer token (``MLFLOW_TRACKING_TOKEN``, a ``kiln login`` token).
        username, password: HTTP Basic credentials; used only when both are set,
            and then before ``token``, as MLflow does.
        workspace: the workspace to send in ``X-MLFLOW-WORKSPACE``; None sends none
            (the server's default).
    """

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    workspace: str | None = None

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header value, or None for an anonymous request."""
        if self.username and self.password:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.standard_b64encode(pair).decode("ascii")
        if self.token:
            return f"Bearer {self.token}"
        return None

    def headers(self, path: str) -> dict[str, str]:
        """The headers of a request to ``path`` (the URL's path, or the whole URL)."""
        headers: dict[str, str] = {}
        authorization = self.authorization
        if authorization is not None:
            headers["Authorization"] = authorization
        if self.workspace and _WORKSPACE_ENDPOINTS not in path:
            headers[WORKSPACE_HEADER] = self.workspace
        return headers


NO_CREDENTIALS = HttpCredentials()

CredentialSource = Callable[[str], HttpCredentials]
"""Called with the URL a request goes to; answers what that request carries."""


def no_credentials(url: str) -> HttpCredentials:
    """The source of a process that installed none: anonymous, no workspace."""
    return NO_CREDENTIALS


_lock = threading.Lock()
_default: list[CredentialSource] = [no_credentials]


def set_default_source(source: CredentialSource) -> None:
    """Make ``source`` the one stores opened without their own use (the edge's job)."""
    with _lock:
        _default[0] = source


def default_source() -> CredentialSource:
    """The source installed by :func:`set_default_source` (``no_credentials`` until then)."""
    return _default[0]


def credentials_for(url: str, source: CredentialSource | None = None) -> HttpCredentials:
    """What a request to ``url`` carries: ``source``'s answer, else the default's."""
    return (source or _default[0])(url)


__all__ = [
    "NO_CREDENTIALS",
    "WORKSPACE_HEADER",
    "CredentialSource",
    "HttpCredentials",
    "credentials_for",
    "default_source",
    "no_credentials",
    "set_default_source",
]
