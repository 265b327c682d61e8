"""``kiln login`` and ``kiln logout``: a token for a server, saved for later commands.

``kiln login`` asks for the password (or reads it from stdin), creates an API token
over HTTP Basic (``POST /api/kiln/v1/tokens``) and saves it for that server in
``$KILN_HOME/credentials`` (mode 0600, replaced atomically; ``kiln.credentials``).
Later requests of Kiln to that server send it, unless ``MLFLOW_TRACKING_*``
variables say otherwise (MLflow's order). The password itself is never saved.
``kiln logout`` revokes the token on the server and forgets it.
"""

from __future__ import annotations

import getpass
import platform
from typing import TYPE_CHECKING

import click

from kiln.cli.admin import read_password_stdin
from kiln.cli.state import CliState, pass_state
from kiln.credentials import SavedLogin, forget_login, save_login, saved_login, server_key
from kiln.errors import InvalidInput, KilnError, NotFound, PermissionDenied, Unauthenticated
from kiln.store.credentials import HttpCredentials
from kiln.store.open import scheme_of

if TYPE_CHECKING:
    from kiln.tracking.kiln_api import KilnApi
    from kiln.wire.fields import JsonObject


def _server(state: CliState, url: str | None) -> str:
    """The server to log in to: URL, else the tracking URI when it is a server."""
    if url:
        return url
    uri = state.resolved_uri()
    if scheme_of(uri) in ("http", "https"):
        return uri
    raise click.UsageError(
        "give the server's URL (kiln login http://HOST:PORT), or set KILN_TRACKING_URI to it"
    )


@click.command("login")
@click.argument("url", required=False)
@click.option("--username", "-u", help="Your user name (asked when not given).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin instead of asking."
)
@click.option("--workspace", help="The workspace the token acts in (default: yours).")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Days until the token expires.")
@pass_state
def login_cmd(
    state: CliState,
    url: str | None,
    username: str | None,
    password_stdin: bool,
    workspace: str | None,
    expires_in_days: int | None,
) -> None:
    """Log in to a Kiln server: create a token and save it for later commands.

    \b
    Examples:
      kiln login http://mlflow.internal:5000
      kiln login http://127.0.0.1:5000 --username alice --workspace team-a
      echo "$PASSWORD" | kiln login https://kiln.example.org -u ci --password-stdin
    """
    from kiln.tracking.kiln_api import KilnApi

    server = _server(state, url)
    key = server_key(server)
    if password_stdin and not username:
        raise click.UsageError("--password-stdin needs --username")
    name = username or click.prompt("Username", default=getpass.getuser())
    password = (
        read_password_stdin() if password_stdin else click.prompt("Password", hide_input=True)
    )
    sent = HttpCredentials(username=name, password=password, workspace=workspace)
    token_name = f"kiln login on {platform.node() or 'this machine'}"
    with KilnApi(server, credentials=lambda _url: sent) as api:
        me = _check_login(api, server, workspace)
        token, secret = api.create_token(
            token_name, tenant=workspace, expires_in_days=expires_in_days
        )
    earlier = saved_login(key)
    path = save_login(SavedLogin(key, secret, token.user, token.token_id, token.tenant))
    if earlier is not None and earlier.server == key and earlier.token_id:
        _revoke_quietly(key, earlier)  # the token this login replaces
    role = f"{token.role.label} in {token.tenant}"
    if me.get("is_admin") is True:  # a global admin's token may name any workspace
        role = f"global admin; default workspace: {token.tenant}"
    click.echo(f"Logged in to {key} as {token.user} ({role}); the token is saved in {path}.")
    if url and _tracking_key(state) != key:
        click.echo(
            f"Kiln's commands act on the tracking URI: pass --tracking-uri {key} or set "
            f"KILN_TRACKING_URI={key} to use this server."
        )


def _tracking_key(state: CliState) -> str | None:
    try:
        return server_key(state.resolved_uri())
    except InvalidInput:
        return None


def _check_login(api: KilnApi, server: str, workspace: str | None) -> JsonObject:
    """Who the credentials are (whoami); refuse, in one clear line, a login that
    cannot give a token: wrong credentials, a server that is not Kiln's or runs
    without auth, a workspace that is not the user's."""
    try:
        me = api.whoami()
    except Unauthenticated:
        raise Unauthenticated(f"{server} refused the user name or password") from None
    except NotFound as exc:
        if "workspace" in exc.message:
            hint = "" if workspace else "; pass --workspace with a workspace you belong to"
            raise NotFound(f"{exc.message}{hint}") from None
        raise InvalidInput(
            f"{server} does not serve Kiln's API (/api/kiln/v1): is it a Kiln server?"
        ) from None
    if me.get("via") == "anonymous":
        raise InvalidInput(
            f"{server} runs without auth (`kiln server --auth` turns it on): there is "
            "nothing to log in to, its requests need no token"
        )
    return me


def _revoke_quietly(server: str, login: SavedLogin) -> str | None:
    """Revoke a saved login's token with itself; answer why it failed (None: done)."""
    from kiln.tracking.kiln_api import KilnApi

    sent = HttpCredentials(token=login.token)
    try:
        with KilnApi(server, credentials=lambda _url: sent) as api:
            api.revoke_token(login.token_id)
    except (Unauthenticated, NotFound, PermissionDenied):
        return None  # already revoked, expired, or its user is gone: nothing to undo
    except KilnError as exc:
        return exc.message
    return None


@click.command("logout")
@click.argument("url", required=False)
@pass_state
def logout_cmd(state: CliState, url: str | None) -> None:
    """Revoke the token `kiln login` saved for a server, and forget it.

    \b
    Example:
      kiln logout http://127.0.0.1:5000
    """
    key = server_key(_server(state, url))
    login = saved_login(key)
    if login is None or login.server != key:
        click.echo(f"Not logged in to {key}.")
        return
    problem = _revoke_quietly(key, login) if login.token_id else None
    forget_login(key)
    click.echo(f"Logged out of {key}.")
    if problem is not None:
        click.echo(
            f"Warning: the token could not be revoked on the server ({problem}); revoke it "
            f"there with `kiln tokens revoke {login.token_id}`.",
            err=True,
        )


__all__ = ["login_cmd", "logout_cmd"]
