"""Running the tracking server under uvicorn, in one process or several.

With one worker the app runs in-process. With more, uvicorn's supervisor binds
the socket and spawns workers that build the app from the environment
(``app_from_env``); the caller's settings travel as ``KILN_*`` variables.

uvicorn's multi-worker socket is created without ``IPPROTO_TCP``, so asyncio
leaves TCP_NODELAY off on accepted connections and every keep-alive request
waits ~40 ms for delayed ACKs. The protocols from ``kiln.netproto`` (shared with
the scoring server) set it on each connection: httptools in one process (it
parses a request for a fraction of h11's CPU), h11 in worker processes, which
import their protocol by name.

Per-request access log lines are off unless asked for (``access_log=True``,
``kiln server --access-log``): formatting and writing them cost about as much
server CPU as a whole ``log-metric``. Request counts and latencies are always
on ``/metrics``. When on, they never show a session secret or a token
(``kiln.server.startup.MaskSecrets``).

With auth on, an admin is made (or found) before the server listens
(``kiln.server.startup.bootstrap_admin``), once, in the supervisor.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

import uvicorn
from starlette.applications import Starlette

from kiln.config import AUTH_ENV_VARS, LDAP_ENV_VARS, Settings
from kiln.netproto import NoDelayH11Protocol, die_with_parent, http_protocol
from kiln.server.app import app_from_env, artifacts_destination, backend_store_uri, create_app
from kiln.server.startup import bootstrap_admin, log_config

NODELAY_PROTOCOL = "kiln.netproto:NoDelayH11Protocol"
SUPERVISOR_PID = "KILN_SUPERVISOR_PID"


def worker_app() -> Starlette:
    """Factory for the worker processes: ``app_from_env``, dying with the supervisor.

    Only a worker started by ``serve`` (which names its pid in ``KILN_SUPERVISOR_PID``)
    is tied to it, so ``uvicorn --factory`` run by hand is not tied to a shell.
    """
    supervisor = os.environ.get(SUPERVISOR_PID, "")
    if supervisor.isdigit() and int(supervisor) != os.getpid():  # never the supervisor itself
        die_with_parent(int(supervisor))
    return app_from_env()


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``KILN_*`` variables from which ``Settings.from_env`` rebuilds ``settings``."""
    env = {
        "KILN_HOME": str(settings.home),
        "KILN_BACKEND_STORE_URI": backend_store_uri(settings),
        "KILN_ARTIFACTS_DESTINATION": artifacts_destination(settings),
        "KILN_WORKSPACE": settings.workspace,
        "KILN_HOST": settings.host,
        "KILN_PORT": str(settings.port),
        "KILN_WORKERS": str(settings.workers),
    }
    if settings.allowed_hosts:
        env["KILN_ALLOWED_HOSTS"] = ",".join(settings.allowed_hosts)
    if settings.cors_allowed_origins:
        env["KILN_CORS_ALLOWED_ORIGINS"] = ",".join(settings.cors_allowed_origins)
    if settings.default_artifact_root:
        env["KILN_DEFAULT_ARTIFACT_ROOT"] = settings.default_artifact_root
    if settings.s3_endpoint_url:
        env["KILN_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    env["KILN_AUTH"] = "true" if settings.auth else "false"
    env["KILN_ALLOW_ANONYMOUS"] = "true" if settings.allow_anonymous else "false"
    auth = settings.auth_settings
    env.update({name: str(getattr(auth, key)) for key, name in AUTH_ENV_VARS.items()})
    if auth.ldap is not None:
        for key, name in LDAP_ENV_VARS.items():
            value = getattr(auth.ldap, key)
            if isinstance(value, bool):
                env[name] = "true" if value else "false"
            elif value:
                env[name] = str(value)
    return env


def serve(
    settings: Settings,
    environ: MutableMapping[str, str] | None = None,
    *,
    access_log: bool = False,
) -> None:
    """Serve until interrupted.

    Args:
        settings: stores, host, port and worker count.
        environ: the environment the worker processes inherit (``os.environ``).
        access_log: log one line per request (uvicorn's access log).
    """
    bootstrap_admin(settings, os.environ if environ is None else environ)
    if settings.workers <= 1:
        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            http=http_protocol(),
            log_level="info",
            log_config=log_config(),
            access_log=access_log,
        )
        uvicorn.Server(config).run()
        return
    target = os.environ if environ is None else environ
    target.update(settings_env(settings))
    target[SUPERVISOR_PID] = str(os.getpid())
    uvicorn.run(
        "kiln.server.runner:worker_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http=NODELAY_PROTOCOL,
        log_level="info",
        log_config=log_config(),
        access_log=access_log,
    )


__all__ = ["NODELAY_PROTOCOL", "NoDelayH11Protocol", "serve", "settings_env", "worker_app"]
