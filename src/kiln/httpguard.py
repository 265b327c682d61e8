"""Cross-site protection for a server that listens on a developer's machine.

Shared by the tracking server (``kiln.server``) and the scoring server
(``kiln.serving``), so it imports nothing of Kiln.

A browser lets any web page send "simple" requests (a POST whose Content-Type is
``text/plain``, a form, or none at all) to ``127.0.0.1`` without asking the server
first, and a DNS-rebinding page can even read the answers: its own host name
resolves to the loopback address. So every request passes three checks before
any route sees it, in front of the fast lane as well as Starlette's routes:

* **Host**: the ``Host`` header must match the allow-list (``fnmatch`` patterns:
  loopback names and addresses with any port, the bound address, and where the
  server listens on every interface, this machine's names and the private
  ranges, as ``mlflow server`` does); ``--allowed-hosts`` widens it, ``*`` turns
  the check off. Health routes (``/health`` and ``/version`` by default) are
  exempt: load balancers probe them by IP. Refused: 403.
* **Origin**: a state-changing request (POST, PUT, PATCH, DELETE) carrying an
  ``Origin`` that is neither loopback nor in ``--cors-allowed-origins`` is
  refused with 403, unless it is the request's own origin: the web UI's form
  posts when the server is reached by its machine name (``kiln server --host
  0.0.0.0``) carry ``Origin: http://<host>:<port>``, the ``Host`` the allow-list
  has just passed. (Not where ``--allowed-hosts '*'`` turns the Host check off:
  a DNS-rebinding page's Origin is its own Host too.) Allowed origins get CORS
  headers and answered preflights; a same-origin request needs none.
* **Content-Type**: a POST, PUT or PATCH to a JSON route must say
  ``application/json`` (MLflow answers 400 otherwise); the artifact proxy's
  uploads are exempt, and so is every path in ``ANY_BODY_PATHS``.

The checks read the headers in one pass per request, and a Host value already
judged is looked up in a small cache rather than matched against every pattern.
"""

from __future__ import annotations

import fnmatch
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
from starlette.types import Message, Receive, Scope, Send

_log = logging.getLogger("kiln.httpguard")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
HOST_EXEMPT_PATHS = frozenset({"/health", "/version"})
API_PATH_PREFIXES = ("/api/", "/ajax-api/")
# Raw uploads: any Content-Type (they cannot be sent cross-site without a preflight,
# which the Origin check answers).
UPLOAD_MARKERS = ("/mlflow-artifacts/artifacts",)
# JSON routes that parse their body whatever the Content-Type says: Ezmeral's
# clients post the login with ``curl -d @login.json`` (a form Content-Type). The
# Origin check still runs first, so a browser's cross-site post is refused.
ANY_BODY_PATHS: frozenset[str] = frozenset({"/api/v1/login"})

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", "[::]", ""})
PRIVATE_PATTERNS = (
    "10.*",
    "192.168.*",
    *(f"172.{i}.*" for i in range(16, 32)),
    "[[]fc*",
    "[[]fd*",
)

INVALID_HOST = "Invalid Host header - possible DNS rebinding attack detected"
CROSS_ORIGIN = "Cross-origin request blocked"


def _with_any_port(host: str) -> list[str]:
    escaped = host.replace("[", "[[]", 1) if host.startswith("[") else host
    return [escaped, f"{escaped}:*"]


def default_allowed_hosts(bind_host: str) -> tuple[str, ...]:
    """Loopback, the bound address, and on a wildcard bind this machine and private ranges."""
    names = list(LOOPBACK_NAMES)
    bound = bind_host.strip()
    if bound in WILDCARD_BINDS:
        names.extend(_machine_names())
        patterns = [p for n in names for p in _with_any_port(n)]
        return (*patterns, *PRIVATE_PATTERNS)
    names.append(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
    return tuple(p for n in dict.fromkeys(names) for p in _with_any_port(n))


def _machine_names() -> list[str]:
    names: list[str] = []
    try:
        hostname = socket.gethostname()
        names.append(hostname)
        fqdn = socket.getfqdn()
        names.append(fqdn)
        names.extend(socket.gethostbyname_ex(hostname)[2])
    except OSError:
        pass
    return [n.lower() for n in dict.fromkeys(names) if n]


def _portless(host: str) -> bool:
    return not host.rsplit("]", 1)[-1].count(":") if host.startswith("[") else ":" not in host


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _without_port(netloc: str, default: str) -> str:
    """``netloc`` lower-cased, without the scheme's default port (a browser leaves
    it out of ``Origin``; a client may write it in ``Host``)."""
    netloc = netloc.lower()
    return netloc.removesuffix(default) if netloc.endswith(default) else netloc


def _is_loopback_origin(origin: str) -> bool:
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return False
    return host in ("localhost", "127.0.0.1", "::1")


_HOST_CACHE_MAX = 256  # distinct Host values remembered (a client may send any)


class _Seen:
    """The headers the checks read, from one pass over the request's headers.

    As ``dict(scope["headers"])`` would, a repeated header counts with its last value.
    """

    __slots__ = ("asked_headers", "asked_method", "content_type", "host", "origin")

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.host: bytes = b""
        self.origin: bytes | None = None
        self.content_type: bytes | None = None
        self.asked_method = False
        self.asked_headers: bytes | None = None
        for name, value in headers:
            if name == b"host":
                self.host = value
            elif name == b"content-type":
                self.content_type = value
            elif name == b"origin":
                self.origin = value
            elif name == b"access-control-request-method":
                self.asked_method = True
            elif name == b"access-control-request-headers":
                self.asked_headers = value


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error_code: str
    message: str


@dataclass(frozen=True, slots=True)
class RequestGuard:
    """The three checks of the module docstring, configured once per server."""

    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...] = ()
    host_exempt_paths: frozenset[str] = HOST_EXEMPT_PATHS
    _hosts_seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_server(
        cls,
        bind_host: str,
        extra_hosts: Iterable[str] = (),
        origins: Iterable[str] = (),
        host_exempt_paths: frozenset[str] = HOST_EXEMPT_PATHS,
    ) -> RequestGuard:
        allowed_origins = tuple(o.strip() for o in origins if o.strip())
        extra = [h.strip().lower() for h in extra_hosts if h.strip()]
        if "*" in extra:
            return cls(("*",), allowed_origins, host_exempt_paths)
        # A name without a port matches it on any port, as the defaults do.
        widened = [p for h in extra for p in (_with_any_port(h) if _portless(h) else [h])]
        hosts = tuple(dict.fromkeys((*default_allowed_hosts(bind_host), *widened)))
        return cls(hosts, allowed_origins, host_exempt_paths)

    def host_allowed(self, host: str) -> bool:
        known = self._hosts_seen.get(host)
        if known is not None:
            return known
        allowed = self._match_host(host)
        if len(self._hosts_seen) >= _HOST_CACHE_MAX:
            self._hosts_seen.clear()
        self._hosts_seen[host] = allowed
        return allowed

    def _match_host(self, host: str) -> bool:
        if "*" in self.allowed_hosts:
            return True
        if not host:
            return False
        host = host.lower()
        return any(
            fnmatch.fnmatchcase(host, p) if "*" in p or "[" in p else host == p
            for p in self.allowed_hosts
        )

    def origin_allowed(self, origin: str) -> bool:
        if _is_loopback_origin(origin) or "*" in self.allowed_origins:
            return True
        return any(
            fnmatch.fnmatchcase(origin, o) if "*" in o else origin == o
            for o in self.allowed_origins
        )

    def same_origin(self, origin: str, host: str) -> bool:
        """Whether ``origin`` is the server's own as this request reached it: its
        host and port are the ``Host`` header's, an allowed one (never under
        ``allowed_hosts`` '*': then any page's Host would do)."""
        if "*" in self.allowed_hosts or not host:
            return False
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in _DEFAULT_PORTS or parts.path or parts.query or parts.fragment:
            return False
        default = _DEFAULT_PORTS[parts.scheme]
        same = _without_port(parts.netloc, default) == _without_port(host, default)
        return same and self.host_allowed(host)

    def check(self, scope: Scope, seen: _Seen) -> Refusal | None:
        """None when the request may go on; else the answer that refuses it."""
        path: str = scope["path"]
        method: str = scope["method"]
        if path not in self.host_exempt_paths:
            host = seen.host.decode("latin-1")
            if not self.host_allowed(host):
                _log.warning("refused a request with Host %r", host)
                return Refusal(403, "PERMISSION_DENIED", INVALID_HOST)
        if method not in STATE_CHANGING:
            return None
        origin = seen.origin
        if (
            origin is not None
            and not self.origin_allowed(origin.decode("latin-1"))
            and not self.same_origin(origin.decode("latin-1"), seen.host.decode("latin-1"))
        ):
            _log.warning("refused a cross-origin %s from %r", method, origin)
            return Refusal(403, "PERMISSION_DENIED", CROSS_ORIGIN)
        if method in JSON_BODY_METHODS and _is_json_route(path):
            raw = seen.content_type
            if raw is None:
                return Refusal(
                    400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing."
                )
            media = raw.decode("latin-1").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return Refusal(
                    400,
                    "INVALID_PARAMETER_VALUE",
                    "Bad Request. Content-Type must be one of ['application/json'].",
                )
        return None

    def cors_headers(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """CORS response headers for an allowed cross-origin request; [] otherwise."""
        if origin is None or not self.origin_allowed(origin.decode("latin-1")):
            return []
        if not self.credentials_allowed(origin.decode("latin-1")):
            return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]

    def credentials_allowed(self, origin: str) -> bool:
        """Whether a page of ``origin`` may send credentials (a browser's cached Basic
        login): loopback and the origins listed, never one allowed only by '*' (as
        ``mlflow server``: any site could read the server's data as its visitor)."""
        if _is_loopback_origin(origin):
            return True
        return any(
            fnmatch.fnmatchcase(origin, o) if "*" in o else origin == o
            for o in self.allowed_origins
            if o != "*"
        )

    async def refuse(self, refusal: Refusal, send: Send) -> None:
        body = orjson.dumps({"error_code": refusal.error_code, "message": refusal.message})
        await send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def preflight(self, scope: Scope, seen: _Seen, send: Send) -> bool:
        """Answer a CORS preflight (OPTIONS with Access-Control-Request-Method); False if none."""
        if scope["method"] != "OPTIONS" or not seen.asked_method:
            return False
        cors = self.cors_headers(seen.origin)
        if not cors:
            await self.refuse(Refusal(403, "PERMISSION_DENIED", CROSS_ORIGIN), send)
            return True
        asked = seen.asked_headers
        if asked is None:
            asked = b"content-type, authorization"
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    *cors,
                    (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE, OPTIONS"),
                    (b"access-control-allow-headers", asked),
                    (b"access-control-max-age", b"600"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return True

    def wrap_send(self, origin: bytes | None, send: Send) -> Send:
        """``send`` that adds CORS headers to the answer when the origin is allowed."""
        extra = self.cors_headers(origin)
        if not extra:
            return send

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return send_with_cors


def _is_json_route(path: str) -> bool:
    if not path.startswith(API_PATH_PREFIXES) or path in ANY_BODY_PATHS:
        return False
    return not any(marker in path for marker in UPLOAD_MARKERS)


async def guarded(guard: RequestGuard, scope: Scope, receive: Receive, send: Send) -> Send | None:
    """Run the checks; None when the request was answered here, else the ``send`` to use."""
    seen = _Seen(scope["headers"])
    if seen.asked_method and await guard.preflight(scope, seen, send):
        return None
    refusal = guard.check(scope, seen)
    if refusal is not None:
        await guard.refuse(refusal, send)
        return None
    return send if seen.origin is None else guard.wrap_send(seen.origin, send)


__all__ = [
    "CROSS_ORIGIN",
    "HOST_EXEMPT_PATHS",
    "WILDCARD_BINDS",
    "INVALID_HOST",
    "RequestGuard",
    "default_allowed_hosts",
    "guarded",
]
