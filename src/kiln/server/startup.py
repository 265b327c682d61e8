"""What ``kiln server`` checks before it listens, and what its access log never shows.

* ``check_startup``: ``--auth`` needs a SQL backend store (users, tokens and the
  audit log live beside the runs and are written in the same transaction), and
  a server with auth off only listens beyond loopback with ``--allow-anonymous``
  (anyone who reaches it could read and change every run).
* ``bootstrap_admin``: with auth on, an admin must exist before the first
  request; ``KILN_ADMIN_PASSWORD`` makes user ``admin`` when none does, else the
  server refuses to start, saying how to make one.
* ``MaskSecrets``: uvicorn's access log shows request paths, and a session's
  secret is part of ``/api/v1/session/<secret>``; the filter masks it (and any
  ``kiln_pat_`` token a client put in a URL).
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
from collections.abc import Mapping
from typing import Any

from kiln.config import Settings
from kiln.errors import InvalidInput
from kiln.server.stores import backend_store_uri

ADMIN_PASSWORD_VAR = "KILN_ADMIN_PASSWORD"
SQL_SCHEMES = ("sqlite", "postgresql")
NO_ADMIN = (
    "kiln server --auth needs an admin and there is none: set KILN_ADMIN_PASSWORD to make "
    "user 'admin' at startup, or run `kiln admin create-user NAME --admin` against the "
    "backend store first"
)
_SECRET_IN_PATH = re.compile(r"(/api/v1/session/)[^/?\s\"]+|kiln_pat_[0-9A-Za-z]+")


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_startup(settings: Settings) -> None:
    """Raise ``InvalidInput`` (one line: what and why) for settings that must not serve."""
    uri = backend_store_uri(settings)
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if settings.auth and scheme not in SQL_SCHEMES:
        raise InvalidInput(
            f"--auth needs a SQL backend store (sqlite:// or postgresql://), not {scheme}://; "
            "users, tokens and the audit log are written in the same transaction as the runs"
        )
    if not settings.auth and not settings.allow_anonymous and not is_loopback(settings.host):
        raise InvalidInput(
            f"--host {settings.host} with auth off would let anyone who reaches it read and "
            "change every run: add --auth (users and tokens), or --allow-anonymous to serve "
            "it open on purpose"
        )


def bootstrap_admin(settings: Settings, env: Mapping[str, str]) -> None:
    """With auth on, make sure an admin exists (see the module docstring).

    Raises:
        InvalidInput: none exists and ``KILN_ADMIN_PASSWORD`` is not set.
    """
    if not settings.auth:
        return
    from kiln.auth.service import AuthService
    from kiln.store.open import close_store, open_audit_log, open_auth_store

    uri = backend_store_uri(settings)
    store = open_auth_store(uri)
    audit = open_audit_log(uri)
    try:
        service = AuthService(store, audit, settings.auth_settings)
        if not service.bootstrap_admin(env.get(ADMIN_PASSWORD_VAR) or None):
            raise InvalidInput(NO_ADMIN)
    finally:
        close_store(audit)
        close_store(store)


def mask_secrets(text: str) -> str:
    """``text`` with session secrets and ``kiln_pat_`` tokens replaced by ``***``."""
    return _SECRET_IN_PATH.sub(lambda m: f"{m.group(1)}***" if m.group(1) else "kiln_pat_***", text)


class MaskSecrets(logging.Filter):
    """Masks secrets in uvicorn's access log lines (their args hold the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with ``MaskSecrets`` on the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_secrets"] = {"()": f"{__name__}.MaskSecrets"}
    config["handlers"]["access"]["filters"] = ["mask_secrets"]
    return config


__all__ = [
    "ADMIN_PASSWORD_VAR",
    "NO_ADMIN",
    "MaskSecrets",
    "bootstrap_admin",
    "check_startup",
    "is_loopback",
    "log_config",
    "mask_secrets",
]
