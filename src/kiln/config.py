"""The one typed Settings object, read from the environment once, at the edge.

Resolution of the tracking URI, first match wins:
``kiln.set_tracking_uri(...)`` (handled by the fluent API), ``KILN_TRACKING_URI``,
``MLFLOW_TRACKING_URI``, then the embedded default
``sqlite:///$KILN_HOME/kiln.db`` with artifacts in ``$KILN_HOME/artifacts``
(``KILN_HOME`` defaults to ``~/.kiln``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kiln.auth.settings import AuthSettings, LdapSettings
from kiln.errors import InvalidInput
from kiln.store.credentials import HttpCredentials, set_default_source

DEFAULT_WORKSPACE = "default"
# An S3-compatible endpoint (MinIO ...) for s3:// artifacts; MLflow users set the second.
S3_ENDPOINT_ENV_VARS = ("KILN_S3_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")
# Whether logging calls that leave ``synchronous`` unset are asynchronous (MLflow's variable).
ASYNC_LOGGING_ENV_VARS = ("KILN_ENABLE_ASYNC_LOGGING", "MLFLOW_ENABLE_ASYNC_LOGGING")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """The folder that holds the embedded store: ``$KILN_HOME`` or ``~/.kiln``."""
    env = os.environ if env is None else env
    home = env.get("KILN_HOME")
    return Path(home).expanduser() if home else Path.home() / ".kiln"


def default_tracking_uri(home: Path) -> str:
    return f"sqlite:///{home / 'kiln.db'}"


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}") from None


def bool_env(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A true/1 or false/0 variable; unset or blank: ``default``."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise InvalidInput(f"{name} must be true, false, 1 or 0, got {env[name]!r}")


# AuthSettings field -> its variable (``kiln server --auth``; the file's [auth] keys)
AUTH_ENV_VARS = {
    "session_idle_minutes": "KILN_SESSION_IDLE_MINUTES",
    "session_absolute_hours": "KILN_SESSION_ABSOLUTE_HOURS",
    "password_cache_seconds": "KILN_PASSWORD_CACHE_SECONDS",
    "max_failed_logins": "KILN_MAX_FAILED_LOGINS",
    "failed_login_window_seconds": "KILN_FAILED_LOGIN_WINDOW_SECONDS",
    "max_concurrent_hashes": "KILN_MAX_CONCURRENT_HASHES",
}
# LdapSettings field -> its variable; the bind password comes only from the environment
LDAP_ENV_VARS = {
    "url": "KILN_LDAP_URL",
    "user_base_dn": "KILN_LDAP_USER_BASE_DN",
    "user_filter": "KILN_LDAP_USER_FILTER",
    "group_base_dn": "KILN_LDAP_GROUP_BASE_DN",
    "group_filter": "KILN_LDAP_GROUP_FILTER",
    "start_tls": "KILN_LDAP_START_TLS",
    "ca_file": "KILN_LDAP_CA_FILE",
    "bind_dn": "KILN_LDAP_BIND_DN",
    "bind_password": "KILN_LDAP_BIND_PASSWORD",
}


def auth_settings_from_env(env: Mapping[str, str]) -> AuthSettings:
    """``AuthSettings`` from ``AUTH_ENV_VARS`` and ``LDAP_ENV_VARS`` (LDAP when
    ``KILN_LDAP_URL`` is set; it then needs ``KILN_LDAP_USER_BASE_DN``)."""
    defaults = AuthSettings()
    numbers = {
        key: _int_env(env, name, getattr(defaults, key)) for key, name in AUTH_ENV_VARS.items()
    }
    ldap = None
    if env.get("KILN_LDAP_URL"):
        if not env.get("KILN_LDAP_USER_BASE_DN"):
            raise InvalidInput("KILN_LDAP_URL needs KILN_LDAP_USER_BASE_DN (where users live)")
        defaults_ldap = LdapSettings("", "")
        ldap = LdapSettings(
            url=env["KILN_LDAP_URL"],
            user_base_dn=env["KILN_LDAP_USER_BASE_DN"],
            user_filter=env.get("KILN_LDAP_USER_FILTER") or defaults_ldap.user_filter,
            group_base_dn=env.get("KILN_LDAP_GROUP_BASE_DN") or None,
            group_filter=env.get("KILN_LDAP_GROUP_FILTER") or defaults_ldap.group_filter,
            start_tls=bool_env(env, "KILN_LDAP_START_TLS"),
            ca_file=env.get("KILN_LDAP_CA_FILE") or None,
            bind_dn=env.get("KILN_LDAP_BIND_DN") or None,
            bind_password=env.get("KILN_LDAP_BIND_PASSWORD") or None,
        )
    return AuthSettings(**numbers, ldap=ldap)


def async_logging_from_env(env: Mapping[str, str] | None = None) -> bool:
    """``KILN_ENABLE_ASYNC_LOGGING``, else ``MLFLOW_ENABLE_ASYNC_LOGGING``: true/1 or false/0.

    Read at every logging call that leaves ``synchronous`` unset, as MLflow does.
    """
    env = os.environ if env is None else env
    for name in ASYNC_LOGGING_ENV_VARS:
        raw = env.get(name, "").strip().lower()
        if raw in _TRUE or raw in _FALSE:
            return raw in _TRUE
        if raw:
            raise InvalidInput(f"{name} must be true, false, 1 or 0, got {env[name]!r}")
    return False


def enable_async_logging(enable: bool = True) -> None:
    """Make logging calls that leave ``synchronous`` unset asynchronous, process-wide.

    MLflow's ``mlflow.config.enable_async_logging``; where MLflow sets
    ``MLFLOW_ENABLE_ASYNC_LOGGING`` in ``os.environ``, Kiln keeps the choice in this
    process (over the variable) and leaves the environment of child processes alone.
    """
    from kiln.tracking.async_logging import set_default

    set_default(enable)


# MLflow's ``mlflow.config`` URI functions, loaded on first call (see kiln.tracking).
def set_tracking_uri(uri: str | Path) -> None:
    from kiln.tracking.fluent import set_tracking_uri as set_uri

    set_uri(uri)


def get_tracking_uri() -> str:
    from kiln.tracking.fluent import get_tracking_uri as get_uri

    return get_uri()


def is_tracking_uri_set() -> bool:
    from kiln.tracking.fluent_registry import is_tracking_uri_set as is_set

    return is_set()


def set_registry_uri(uri: str) -> None:
    from kiln.tracking.fluent_registry import set_registry_uri as set_uri

    set_uri(uri)


def get_registry_uri() -> str:
    from kiln.tracking.fluent_registry import get_registry_uri as get_uri

    return get_uri()


# MLflow's ``mlflow.config`` system-metrics switches (kiln.tracking.system_metrics).
def enable_system_metrics_logging() -> None:
    from kiln.tracking import system_metrics

    system_metrics.enable_system_metrics_logging()


def disable_system_metrics_logging() -> None:
    from kiln.tracking import system_metrics

    system_metrics.disable_system_metrics_logging()


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    from kiln.tracking import system_metrics

    system_metrics.set_system_metrics_sampling_interval(interval)


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    from kiln.tracking import system_metrics

    system_metrics.set_system_metrics_samples_before_logging(samples)


def set_system_metrics_node_id(node_id: str | None) -> None:
    from kiln.tracking import system_metrics

    system_metrics.set_system_metrics_node_id(node_id)


def split_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated list (an option or a variable), blanks dropped."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Kiln reads from its environment."""

    home: Path
    tracking_uri: str
    artifact_root: str | None = None
    workspace: str = DEFAULT_WORKSPACE
    # tracking server (``kiln server``); None means "derive from home"
    backend_store_uri: str | None = None
    artifacts_destination: str | None = None
    default_artifact_root: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # cross-site protection (``kiln.httpguard``): extra Host patterns ("*" turns the
    # check off) and origins allowed to change state
    allowed_hosts: tuple[str, ...] = ()
    cors_allowed_origins: tuple[str, ...] = ()
    # s3:// artifact stores: the endpoint of an S3-compatible service; None for AWS
    s3_endpoint_url: str | None = None
    # ``kiln examples`` and ``kiln demo``: a folder of example projects; None for the
    # shipped ones (``kiln.examples.catalog.examples_root``)
    examples_dir: Path | None = None
    # ``kiln server --auth``: users, tenants, tokens (``kiln.auth``); allow_anonymous
    # lets a server with auth off listen beyond loopback
    auth: bool = False
    allow_anonymous: bool = False
    auth_settings: AuthSettings = field(default_factory=AuthSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = default_home(env)
        uri = (
            env.get("KILN_TRACKING_URI")
            or env.get("MLFLOW_TRACKING_URI")
            or default_tracking_uri(home)
        )
        return cls(
            home=home,
            tracking_uri=uri,
            artifact_root=env.get("KILN_ARTIFACT_ROOT") or None,
            workspace=(
                env.get("KILN_WORKSPACE") or env.get("MLFLOW_WORKSPACE") or DEFAULT_WORKSPACE
            ),
            backend_store_uri=env.get("KILN_BACKEND_STORE_URI") or None,
            artifacts_destination=env.get("KILN_ARTIFACTS_DESTINATION") or None,
            default_artifact_root=env.get("KILN_DEFAULT_ARTIFACT_ROOT") or None,
            host=env.get("KILN_HOST") or "127.0.0.1",
            port=_int_env(env, "KILN_PORT", 5000),
            workers=_int_env(env, "KILN_WORKERS", 1),
            allowed_hosts=split_list(env.get("KILN_ALLOWED_HOSTS")),
            cors_allowed_origins=split_list(env.get("KILN_CORS_ALLOWED_ORIGINS")),
            s3_endpoint_url=next((env[n] for n in S3_ENDPOINT_ENV_VARS if env.get(n)), None),
            examples_dir=Path(env["KILN_EXAMPLES_DIR"]) if env.get("KILN_EXAMPLES_DIR") else None,
            auth=bool_env(env, "KILN_AUTH"),
            allow_anonymous=bool_env(env, "KILN_ALLOW_ANONYMOUS"),
            auth_settings=auth_settings_from_env(env),
        )

    @classmethod
    def from_file(cls, path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from a ``kiln.toml`` (``kiln server --config``) under the environment:
        a variable that is set wins over the file (``kiln.configfile``).

        Raises:
            InvalidInput: the file is missing or malformed, names an unknown key, or
                holds a secret (secrets come only from the environment).
        """
        from kiln.configfile import settings_from_file

        return settings_from_file(Path(path), os.environ if env is None else env)


def _http_credentials(url: str) -> HttpCredentials:
    """The process's credential source (``kiln.credentials``: MLflow's variables,
    then ``kiln login``'s saved token), read at every request."""
    from kiln.credentials import http_credentials

    return http_credentials(url)


set_default_source(_http_credentials)


__all__ = [
    "ASYNC_LOGGING_ENV_VARS",
    "S3_ENDPOINT_ENV_VARS",
    "Settings",
    "AUTH_ENV_VARS",
    "LDAP_ENV_VARS",
    "async_logging_from_env",
    "auth_settings_from_env",
    "bool_env",
    "default_home",
    "default_tracking_uri",
    "disable_system_metrics_logging",
    "enable_async_logging",
    "enable_system_metrics_logging",
    "get_registry_uri",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_registry_uri",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tracking_uri",
    "split_list",
]
