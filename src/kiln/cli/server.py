"""``kiln server``: run the MLflow-compatible tracking server."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from click.core import ParameterSource

from kiln.config import Settings, split_list


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="TCP port.")
@click.option(
    "--backend-store-uri",
    metavar="URI",
    help="Tracking store: sqlite:///kiln.db, postgresql://..., file:///path/mlruns. "
    "Default: sqlite:///$KILN_HOME/kiln.db.",
)
@click.option(
    "--artifacts-destination",
    metavar="URI",
    help="Where proxied artifacts are stored (local path or s3://). Default: $KILN_HOME/artifacts.",
)
@click.option(
    "--default-artifact-root",
    metavar="URI",
    help="Artifact location of new experiments. Default: mlflow-artifacts:/ "
    "(clients upload through this server).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes; 1 serves in-process.",
)
@click.option(
    "--allowed-hosts",
    metavar="HOSTS",
    help="Comma-separated Host header values to accept besides loopback and the bound "
    "address (fnmatch patterns, e.g. 'mlflow.corp.example,*.internal'); '*' accepts any. "
    "Env: KILN_ALLOWED_HOSTS.",
)
@click.option(
    "--cors-allowed-origins",
    metavar="ORIGINS",
    help="Comma-separated origins (e.g. 'https://ui.corp.example') whose pages may change "
    "state through this server; loopback origins always may. Env: KILN_CORS_ALLOWED_ORIGINS.",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log one line per request (request counts and latencies are on /metrics either way).",
)
@click.option(
    "--auth/--no-auth",
    default=None,
    help="Users, workspaces (tenants), roles and API tokens: every request needs a token, "
    "a password or a login session. Needs a sqlite:// or postgresql:// backend store. "
    "KILN_ADMIN_PASSWORD makes user 'admin' at first start. Env: KILN_AUTH.",
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    default=False,
    help="Serve with auth off on a --host other than loopback (anyone who reaches it may "
    "read and change every run). Env: KILN_ALLOW_ANONYMOUS.",
)
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A kiln.toml with [server], [auth] and [auth.ldap] tables (the KILN_* variables' "
    "keys); a variable that is set wins, an option given here wins over both. Secrets "
    "only come from the environment.",
)
@click.pass_context
def server(
    ctx: click.Context,
    host: str,
    port: int,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    default_artifact_root: str | None,
    workers: int,
    allowed_hosts: str | None,
    cors_allowed_origins: str | None,
    access_log: bool,
    auth: bool | None,
    allow_anonymous: bool,
    config_file: Path | None,
) -> None:
    """Serve MLflow's tracking REST API (point MLFLOW_TRACKING_URI at it).

    \b
    Examples:
      kiln server --port 5000
      kiln server --backend-store-uri postgresql://db/kiln --artifacts-destination s3://bucket/a
      KILN_ADMIN_PASSWORD=... kiln server --auth --host 0.0.0.0 --allowed-hosts mlflow.corp.example
      kiln server --config kiln.toml

    Requests whose Host header is not loopback or the bound address are refused (403), and so
    are state changes from foreign web origins and JSON requests without a JSON Content-Type.
    With auth off, the server only listens beyond loopback with --allow-anonymous.
    """
    from kiln.cli.serve import check_port_free
    from kiln.server.runner import serve
    from kiln.server.startup import check_startup

    base = Settings.from_file(config_file) if config_file is not None else Settings.from_env()

    def given(name: str, value: object, fallback: object) -> object:
        """With --config, an option left at its default keeps the file's value."""
        explicit = ctx.get_parameter_source(name) != ParameterSource.DEFAULT
        return value if config_file is None or explicit else fallback

    settings = dataclasses.replace(
        base,
        host=str(given("host", host, base.host)),
        port=int(str(given("port", port, base.port))),
        workers=int(str(given("workers", workers, base.workers))),
        auth=base.auth if auth is None else auth,
        allow_anonymous=allow_anonymous or base.allow_anonymous,
        backend_store_uri=backend_store_uri or base.backend_store_uri,
        artifacts_destination=artifacts_destination or base.artifacts_destination,
        default_artifact_root=default_artifact_root or base.default_artifact_root,
        allowed_hosts=split_list(allowed_hosts) or base.allowed_hosts,
        cors_allowed_origins=split_list(cors_allowed_origins) or base.cors_allowed_origins,
    )
    check_startup(settings)  # one line: --auth on a file store, an open server off loopback
    check_port_free(settings.host, settings.port)  # not uvicorn's log of a failed bind
    serve(settings, access_log=access_log)


__all__ = ["server"]
