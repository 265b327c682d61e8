"""``kiln server --auth``: what it refuses before it listens, the admin bootstrap,
``--config kiln.toml``, and an access log that never shows a session or a token.

In-process (``check_startup``, ``bootstrap_admin``, the CLI through click's runner)
except one real ``kiln server --auth`` subprocess at the end.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kiln.cli.main import cli
from kiln.config import Settings
from kiln.errors import InvalidInput
from kiln.server.runner import settings_env
from kiln.server.startup import (
    MaskSecrets,
    bootstrap_admin,
    check_startup,
    mask_secrets,
)
from kiln.store.open import close_store, open_audit_log, open_auth_store
from kiln.testing.auth_app import sqlite_settings
from kiln.testing.server import free_port

ADMIN_PASSWORD = "admin-password-1"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return sqlite_settings(tmp_path, artifacts_destination=None, **changes)


@pytest.mark.parametrize("uri", ["file:///tmp/mlruns", "memory://"])
def test_auth_needs_a_sql_store(tmp_path: Path, uri: str) -> None:
    with pytest.raises(InvalidInput, match=r"--auth needs a SQL backend store .* same transaction"):
        check_startup(_settings(tmp_path, backend_store_uri=uri, auth=True))


def test_an_open_server_off_loopback_needs_allow_anonymous(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"--host 0.0.0.0 with auth off .* --allow-anonymous"):
        check_startup(_settings(tmp_path, host="0.0.0.0"))
    check_startup(_settings(tmp_path, host="0.0.0.0", allow_anonymous=True))
    check_startup(_settings(tmp_path, host="0.0.0.0", auth=True))
    check_startup(_settings(tmp_path, host="::1"))
    check_startup(_settings(tmp_path, host="localhost"))


def test_the_cli_refuses_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["server", "--auth", "--backend-store-uri", f"file://{tmp_path}/mlruns"]
    result = runner.invoke(cli, args, env={"KILN_HOME": str(tmp_path)})
    assert result.exit_code != 0
    assert result.output.startswith("Error: --auth needs a SQL backend store")
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["server", "--host", "0.0.0.0"], env={"KILN_HOME": str(tmp_path)})
    assert result.exit_code != 0
    assert "--allow-anonymous" in result.output


def test_the_admin_is_made_from_the_environment_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path, auth=True)
    with pytest.raises(InvalidInput, match="KILN_ADMIN_PASSWORD"):
        bootstrap_admin(settings, {})
    bootstrap_admin(settings, {"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD})
    bootstrap_admin(settings, {})  # an admin exists now: no password needed
    uri = str(settings.backend_store_uri)
    store, audit = open_auth_store(uri), open_audit_log(uri)
    try:
        assert [(u.name, u.is_admin) for u in store.list_users()] == [("admin", True)]
    finally:
        close_store(audit)
        close_store(store)


def test_auth_settings_reach_the_worker_processes(tmp_path: Path) -> None:
    env = {
        "KILN_AUTH": "true",
        "KILN_SESSION_IDLE_MINUTES": "7",
        "KILN_LDAP_URL": "ldap://127.0.0.1:3890",
        "KILN_LDAP_USER_BASE_DN": "ou=people,dc=kiln,dc=test",
        "KILN_LDAP_START_TLS": "1",
        "KILN_HOME": str(tmp_path),
    }
    settings = Settings.from_env(env)
    assert settings.auth
    assert settings.auth_settings.session_idle_minutes == 7
    assert settings.auth_settings.ldap is not None
    assert settings.auth_settings.ldap.start_tls
    rebuilt = Settings.from_env(settings_env(settings))
    assert (rebuilt.auth, rebuilt.auth_settings) == (True, settings.auth_settings)


def test_a_config_file_sets_what_the_environment_can(tmp_path: Path) -> None:
    config = tmp_path / "kiln.toml"
    config.write_text(
        '[server]\nhost = "0.0.0.0"\nport = 6000\nallowed_hosts = ["a.example", "b.example"]\n'
        "[auth]\nenabled = true\nsession_absolute_hours = 2\n"
        '[auth.ldap]\nurl = "ldaps://ldap.example"\nuser_base_dn = "ou=p,dc=x"\n'
    )
    settings = Settings.from_file(config, {"KILN_HOME": str(tmp_path), "KILN_PORT": "7000"})
    assert (settings.host, settings.port) == ("0.0.0.0", 7000)  # the variable wins
    assert settings.allowed_hosts == ("a.example", "b.example")
    assert settings.auth
    assert settings.auth_settings.session_absolute_hours == 2
    assert settings.auth_settings.ldap is not None
    assert settings.auth_settings.ldap.url == "ldaps://ldap.example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[auth.ldap]\nbind_password = "hunter2"\n', r"secret.*KILN_LDAP_BIND_PASSWORD"),
        ('[auth]\nadmin_password = "x"\n', r"secret.*KILN_ADMIN_PASSWORD"),
        ('[server]\nbackend_store_uri = "postgresql://u:pw@db/k"\n', r"holds a password"),
        ('[server]\nhots = "x"\n', r"\[server\] hots: unknown key"),
        ("[ui]\nx = 1\n", r"unknown table \[ui\]"),
        ("[server\n", r"not valid TOML"),
        ("[server]\nport = 1.5\n", r"must be a string, a number"),
    ],
)
def test_a_bad_config_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "kiln.toml"
    config.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        Settings.from_file(config, {"KILN_HOME": str(tmp_path)})


def test_secrets_are_masked_in_access_log_lines() -> None:
    secret = "Ab3" * 16
    token = "kiln_pat_" + "x9" * 20
    assert mask_secrets(f"/api/v1/session/{secret}") == "/api/v1/session/***"
    assert mask_secrets(f"/api/2.0/x?t={token}") == "/api/2.0/x?t=kiln_pat_***"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/api/v1/session/{secret}", "1.1", 200),
        None,
    )
    assert MaskSecrets().filter(record)
    assert secret not in record.getMessage()
    assert "/api/v1/session/***" in record.getMessage()


def test_kiln_server_auth_serves_the_bootstrapped_admin(tmp_path: Path) -> None:
    """The real CLI in its own process: the admin from KILN_ADMIN_PASSWORD signs in,
    no credentials is 401, and the access log never shows a session secret."""
    port = free_port()
    env = {**os.environ, "KILN_HOME": str(tmp_path / "home"), "KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    for name in ("MLFLOW_TRACKING_URI", "KILN_TRACKING_URI", "KILN_BACKEND_STORE_URI"):
        env.pop(name, None)
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "kiln.cli.main", "server", "--auth", "--access-log"]
    command += ["--port", str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'k.db'}"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    secret = "Zz9" * 16
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).text == "OK":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "kiln server --auth did not become healthy"
            time.sleep(0.05)  # readiness polling of a child process
        search = f"{url}/api/2.0/mlflow/experiments/search"
        assert httpx.post(search, json={}).status_code == 401
        basic = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
        answer = httpx.post(search, json={}, headers={"Authorization": f"Basic {basic}"})
        assert answer.status_code == 200, answer.text
        httpx.get(f"{url}/api/v1/session/{secret}")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "/api/v1/session/***" in text
    assert secret not in text


def test_the_cli_reads_its_config_file_under_its_options(tmp_path: Path) -> None:
    config = tmp_path / "kiln.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\n')
    runner = CliRunner()
    env = {"KILN_HOME": str(tmp_path)}
    result = runner.invoke(cli, ["server", "--config", str(config)], env=env)
    assert result.output.startswith("Error: --host 0.0.0.0 with auth off"), result.output
    # an option given on the command line wins over the file
    config.write_text('[server]\nhost = "127.0.0.1"\n')
    result = runner.invoke(cli, ["server", "--config", str(config), "--host", "0.0.0.0"], env=env)
    assert result.output.startswith("Error: --host 0.0.0.0 with auth off"), result.output
    config.write_text(
        f'[server]\nbackend_store_uri = "file://{tmp_path}/m"\n[auth]\nenabled = true\n'
    )
    result = runner.invoke(cli, ["server", "--config", str(config)], env=env)
    assert result.output.startswith("Error: --auth needs a SQL backend store"), result.output
