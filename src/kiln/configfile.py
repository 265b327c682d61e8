"""``kiln server --config kiln.toml``: the server's settings in a file.

The file's keys are the ``KILN_*`` variables' (``kiln.config``), grouped::

    [server]
    host = "0.0.0.0"
    port = 5000
    workers = 4
    backend_store_uri = "postgresql://kiln@db/kiln"
    artifacts_destination = "s3://bucket/artifacts"
    allowed_hosts = ["mlflow.corp.example"]

    [auth]
    enabled = true
    session_idle_minutes = 60

    [auth.ldap]
    url = "ldaps://ldap.corp.example"
    user_base_dn = "ou=people,dc=corp,dc=example"

Each value becomes its variable's text and ``Settings.from_env`` reads the lot,
so a file says exactly what the environment can, checked the same way; a
variable that is set wins over the file. Secrets never live in the file (it is
often world-readable or committed): a password key, or a database URI with a
password in it, is refused with one line naming the variable to use instead.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiln.config import AUTH_ENV_VARS, LDAP_ENV_VARS, Settings
from kiln.errors import InvalidInput

SERVER_KEYS = {
    "host": "KILN_HOST",
    "port": "KILN_PORT",
    "workers": "KILN_WORKERS",
    "backend_store_uri": "KILN_BACKEND_STORE_URI",
    "artifacts_destination": "KILN_ARTIFACTS_DESTINATION",
    "default_artifact_root": "KILN_DEFAULT_ARTIFACT_ROOT",
    "allowed_hosts": "KILN_ALLOWED_HOSTS",
    "cors_allowed_origins": "KILN_CORS_ALLOWED_ORIGINS",
    "s3_endpoint_url": "KILN_S3_ENDPOINT_URL",
}
AUTH_KEYS = {"enabled": "KILN_AUTH", "allow_anonymous": "KILN_ALLOW_ANONYMOUS", **AUTH_ENV_VARS}
LDAP_KEYS = {k: v for k, v in LDAP_ENV_VARS.items() if k != "bind_password"}
SECRET_VARS = {"bind_password": "KILN_LDAP_BIND_PASSWORD", "admin_password": "KILN_ADMIN_PASSWORD"}
URI_KEYS = ("backend_store_uri", "artifacts_destination", "default_artifact_root")


def settings_from_file(path: Path, env: Mapping[str, str]) -> Settings:
    """``Settings`` from the file at ``path`` under ``env`` (see the module docstring)."""
    return Settings.from_env({**file_variables(path), **{k: v for k, v in env.items() if v}})


def file_variables(path: Path) -> dict[str, str]:
    """The ``KILN_*`` variables the file at ``path`` sets."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"--config {path}: cannot read it ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"--config {path}: not valid TOML ({error})") from None
    variables: dict[str, str] = {}
    for table, value in document.items():
        if table == "server":
            variables |= _table(path, "server", value, SERVER_KEYS)
        elif table == "auth":
            auth = dict(_mapping(path, "auth", value))
            ldap = auth.pop("ldap", None)
            variables |= _table(path, "auth", auth, AUTH_KEYS)
            if ldap is not None:
                variables |= _table(path, "auth.ldap", ldap, LDAP_KEYS)
        else:
            raise InvalidInput(
                f"--config {path}: unknown table [{table}]; the tables are "
                "[server], [auth] and [auth.ldap]"
            )
    return variables


def _mapping(path: Path, table: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"--config {path}: [{table}] must be a table")
    return value


def _table(path: Path, table: str, value: Any, keys: Mapping[str, str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for key, item in _mapping(path, table, value).items():
        where = f"--config {path}: [{table}] {key}"
        if key in SECRET_VARS or "password" in key or "secret" in key or "token" in key:
            variable = SECRET_VARS.get(key, "the environment")
            raise InvalidInput(
                f"{where} is a secret, which a config file must not hold; set {variable} instead"
            )
        if key not in keys:
            raise InvalidInput(f"{where}: unknown key; the keys are {', '.join(sorted(keys))}")
        text = _text(where, item)
        if key in URI_KEYS and urlsplit(text).password:
            raise InvalidInput(
                f"{where} holds a password, which a config file must not hold; set "
                f"{keys[key]} in the environment (or use PGPASSWORD / ~/.pgpass)"
            )
        variables[keys[key]] = text
    return variables


def _text(where: str, item: Any) -> str:
    """A TOML value as its variable's text."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | str):
        return str(item)
    if isinstance(item, list) and all(isinstance(i, str) for i in item):
        return ",".join(item)
    raise InvalidInput(f"{where} must be a string, a number, a boolean or a list of strings")


__all__ = ["file_variables", "settings_from_file"]
