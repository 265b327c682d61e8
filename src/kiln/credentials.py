"""Which credentials and workspace requests to a tracking server carry: the edge's part.

``kiln.config`` installs :func:`http_credentials` as the process's credential
source (``kiln.store.credentials``); the REST stores and the ``mlflow-artifacts:``
store call it once per request, so what this module reads counts at once, as in
MLflow's client (``mlflow.utils.credentials.get_default_host_creds``):

1. ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD`` (each from the
   environment, else from ``~/.mlflow/credentials``'s ``[mlflow]`` section, as
   MLflow reads them): HTTP Basic, when both are known;
2. else ``MLFLOW_TRACKING_TOKEN``: a bearer token;
3. else the token ``kiln login`` saved for that server in ``$KILN_HOME/credentials``
   (sent only to that server: its URL must be a prefix of the request's).

The workspace (``X-MLFLOW-WORKSPACE``) is ``KILN_WORKSPACE``, else
``MLFLOW_WORKSPACE`` (``kiln.set_workspace`` sets both); unset, none is sent and
the server picks (a token's own workspace, else ``default``).

``$KILN_HOME/credentials`` is an INI file, one section per server URL, written
atomically (a temporary file renamed over it) with mode 0600; parsed files are
cached by modification time, so a request costs two ``stat`` calls.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kiln.config import default_home
from kiln.errors import InvalidInput
from kiln.store.credentials import HttpCredentials

CREDENTIALS_FILE = "credentials"
MLFLOW_CREDENTIALS = Path("~/.mlflow/credentials")
WORKSPACE_ENV_VARS = ("KILN_WORKSPACE", "MLFLOW_WORKSPACE")


@dataclass(frozen=True, slots=True)
class SavedLogin:
    """One server's entry of ``$KILN_HOME/credentials`` (the token is never shown)."""

    server: str
    token: str = field(repr=False)
    username: str = ""
    token_id: str = ""
    workspace: str = ""


def server_key(url: str) -> str:
    """The name a server is saved under: ``scheme://host[:port][/path]``, lower-case
    scheme and host, no user info, query or trailing slash.

    Raises:
        InvalidInput: not an ``http(s)://`` URL with a host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not a server URL: {url!r}; expected http(s)://host[:port]")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{scheme}://{host}{port}{parts.path.rstrip('/')}"


def _matches(server: str, url: str) -> bool:
    return url == server or url.startswith(server + "/")


class _ParsedFile:
    """An INI file read once per change (keyed by mtime and size), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], configparser.ConfigParser]] = {}

    def read(self, path: Path) -> configparser.ConfigParser | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            return None  # an unreadable file is no credentials, never a crash mid-request
        with self._lock:
            self._cache[path] = (stamp, parser)
        return parser


_FILES = _ParsedFile()


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """``$KILN_HOME/credentials`` (``~/.kiln/credentials`` by default)."""
    return default_home(os.environ if env is None else env) / CREDENTIALS_FILE


def saved_login(url: str, env: Mapping[str, str] | None = None) -> SavedLogin | None:
    """The login saved for the server ``url`` belongs to (the longest matching
    server URL), or None."""
    env = os.environ if env is None else env
    parser = _FILES.read(credentials_path(env))
    if parser is None:
        return None
    try:
        target = server_key(url)
    except InvalidInput:
        return None
    best: SavedLogin | None = None
    for server in parser.sections():
        section = parser[server]
        token = section.get("token", "")
        if token and _matches(server, target) and (best is None or len(server) > len(best.server)):
            best = SavedLogin(
                server,
                token,
                section.get("username", ""),
                section.get("token_id", ""),
                section.get("workspace", ""),
            )
    return best


def _mlflow_file_creds() -> tuple[str | None, str | None]:
    parser = _FILES.read(MLFLOW_CREDENTIALS.expanduser())
    if parser is None or "mlflow" not in parser:
        return None, None
    section = parser["mlflow"]
    return section.get("mlflow_tracking_username"), section.get("mlflow_tracking_password")


def workspace_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The workspace chosen in the environment, or None (the server's default)."""
    env = os.environ if env is None else env
    for name in WORKSPACE_ENV_VARS:
        value = (env.get(name) or "").strip()
        if value:
            return value
    return None


def http_credentials(url: str, env: Mapping[str, str] | None = None) -> HttpCredentials:
    """What a request to ``url`` carries (see the module docstring for the order)."""
    env = os.environ if env is None else env
    workspace = workspace_from_env(env)
    username, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
    if not (username and password):
        file_user, file_password = _mlflow_file_creds()
        username, password = username or file_user, password or file_password
    if username and password:
        return HttpCredentials(username=username, password=password, workspace=workspace)
    token = env.get("MLFLOW_TRACKING_TOKEN")
    if not token:
        saved = saved_login(url, env)
        token = saved.token if saved is not None else None
    return HttpCredentials(token=token or None, workspace=workspace)


# writing $KILN_HOME/credentials ---------------------------------------------------------
def _write_atomically(path: Path, parser: configparser.ConfigParser) -> None:
    """Write ``parser`` to ``path`` with mode 0600: a temporary file in the same
    folder, flushed, then renamed over ``path`` (a reader sees old or new, never half)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.chmod(temporary, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            parser.write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _load(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise InvalidInput(
                f"{path} is not a credentials file Kiln can read ({exc.message.splitlines()[0]}); "
                "fix or delete it, then log in again"
            ) from None
    return parser


def save_login(login: SavedLogin, env: Mapping[str, str] | None = None) -> Path:
    """Save ``login`` for its server (replacing an earlier one); answer the file's path."""
    path = credentials_path(env)
    parser = _load(path)
    parser[login.server] = {
        "token": login.token,
        "username": login.username,
        "token_id": login.token_id,
        "workspace": login.workspace,
    }
    _write_atomically(path, parser)
    return path


def forget_login(server: str, env: Mapping[str, str] | None = None) -> SavedLogin | None:
    """Remove the login saved for exactly ``server``; answer it (None if there was none)."""
    path = credentials_path(env)
    parser = _load(path)
    if server not in parser:
        return None
    section = parser[server]
    login = SavedLogin(
        server,
        section.get("token", ""),
        section.get("username", ""),
        section.get("token_id", ""),
        section.get("workspace", ""),
    )
    parser.remove_section(server)
    _write_atomically(path, parser)
    return login


__all__ = [
    "CREDENTIALS_FILE",
    "WORKSPACE_ENV_VARS",
    "SavedLogin",
    "credentials_path",
    "forget_login",
    "http_credentials",
    "save_login",
    "saved_login",
    "server_key",
    "workspace_from_env",
]
