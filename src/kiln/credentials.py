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
import functools
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kiln.errors import InvalidInput
from kiln.store.credentials import HttpCredentials

CREDENTIALS_FILE = "credentials"
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


@functools.lru_cache(maxsize=64)
def _origin_key(origin: str) -> str | None:
    try:
        return server_key(origin)
    except InvalidInput:
        return None


def _request_key(url: str) -> str | None:
    """``server_key(url)``, fast for the many requests to one server (the origin's
    key is cached; the path is kept as it is)."""
    scheme_end = url.find("://")
    slash = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    origin, path = (url, "") if slash < 0 else (url[:slash], url[slash:])
    key = _origin_key(origin)
    if key is None or "?" in path or "#" in path:
        return None if key is None else server_key(url)
    return key + path.rstrip("/")


@dataclass(frozen=True, slots=True)
class _Parsed:
    logins: tuple[SavedLogin, ...]  # longest server URL first
    mlflow_user: str | None
    mlflow_password: str | None


def _parse(parser: configparser.ConfigParser) -> _Parsed:
    logins = []
    for server in parser.sections():
        section = parser[server]
        token = section.get("token", "")
        if token:
            logins.append(
                SavedLogin(
                    server,
                    token,
                    section.get("username", ""),
                    section.get("token_id", ""),
                    section.get("workspace", ""),
                )
            )
    logins.sort(key=lambda login: -len(login.server))
    if not parser.has_section("mlflow"):
        return _Parsed(tuple(logins), None, None)
    mlflow = parser["mlflow"]
    return _Parsed(
        tuple(logins),
        mlflow.get("mlflow_tracking_username"),
        mlflow.get("mlflow_tracking_password"),
    )


class _ParsedFile:
    """INI files read once per change (keyed by mtime and size), thread-safe.

    A file is looked at (``stat``) at most once per ``recheck_s`` seconds, so a
    change made by another process (``kiln login``) counts within that time.
    """

    def __init__(self, recheck_s: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._recheck_s = recheck_s
        # path -> (when looked at, (mtime_ns, size) or None when missing, parsed or None)
        self._cache: dict[str, tuple[float, tuple[int, int] | None, _Parsed | None]] = {}

    def read(self, path: str) -> _Parsed | None:
        now = time.monotonic()
        cached = self._cache.get(path)
        if cached is not None and now - cached[0] < self._recheck_s:
            return cached[2]
        try:
            stat = os.stat(path)
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if cached is not None and cached[1] == stamp:
            parsed = cached[2]
        else:
            parsed = None if stamp is None else _parse_file(path)
        with self._lock:
            self._cache[path] = (now, stamp, parsed)
        return parsed

    def forget(self, path: str) -> None:
        """Look at ``path`` again at the next read (this process just wrote it)."""
        with self._lock:
            self._cache.pop(path, None)


def _parse_file(path: str) -> _Parsed | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None  # an unreadable file is no credentials, never a crash mid-request
    return _parse(parser)


_FILES = _ParsedFile()


@functools.lru_cache(maxsize=16)
def _paths(kiln_home: str | None, home: str | None) -> tuple[str, str]:
    """(``$KILN_HOME/credentials``, ``~/.mlflow/credentials``) for these variables
    (``kiln.config.default_home``'s folder; MLflow's file, as it finds it)."""
    user_home = Path(home).expanduser() if home else Path("~").expanduser()
    kiln_dir = Path(kiln_home).expanduser() if kiln_home else user_home / ".kiln"
    return str(kiln_dir / CREDENTIALS_FILE), str(user_home / ".mlflow" / CREDENTIALS_FILE)


def _files(env: Mapping[str, str]) -> tuple[str, str]:
    return _paths(env.get("KILN_HOME") or None, env.get("HOME") or None)


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """``$KILN_HOME/credentials`` (``~/.kiln/credentials`` by default)."""
    return Path(_files(os.environ if env is None else env)[0])


def saved_login(url: str, env: Mapping[str, str] | None = None) -> SavedLogin | None:
    """The login saved for the server ``url`` belongs to (the longest matching
    server URL), or None."""
    parsed = _FILES.read(_files(os.environ if env is None else env)[0])
    if parsed is None or not parsed.logins:
        return None
    target = _request_key(url)
    if target is None:
        return None
    return next((login for login in parsed.logins if _matches(login.server, target)), None)


def _mlflow_file_creds(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    parsed = _FILES.read(_files(env)[1])
    return (None, None) if parsed is None else (parsed.mlflow_user, parsed.mlflow_password)


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
        file_user, file_password = _mlflow_file_creds(env)
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
        _FILES.forget(str(path))
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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file while reading and rewriting it, so two ``kiln login``
    at once both keep their entry (advisory ``flock``; where there is none, no lock)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    handle = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def save_login(login: SavedLogin, env: Mapping[str, str] | None = None) -> Path:
    """Save ``login`` for its server (replacing an earlier one); answer the file's path."""
    path = credentials_path(env)
    with _locked(path):
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
    with _locked(path):
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
