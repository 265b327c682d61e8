"""``kiln tokens``: API tokens (``kiln_pat_...``) for scripts, CI and the MLflow client.

A token stands for its user in one workspace, with at most the user's role there;
``MLFLOW_TRACKING_TOKEN=<token>`` makes the official ``mlflow`` client (and Kiln's)
send it. The secret is printed once, alone on stdout, so that
``TOKEN=$(kiln tokens create --name ci)`` captures it; the server keeps only its hash.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

from kiln.cli.access import open_access
from kiln.cli.admin import ROLE
from kiln.cli.render import console, emit_records, format_time, output_option, table
from kiln.cli.state import CliState, pass_state
from kiln.entities.auth import ApiToken, Role

TOKEN_FIELDS = (
    "token_id",
    "name",
    "user",
    "tenant",
    "role",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
)


def token_record(token: ApiToken) -> dict[str, object]:
    """A token's record for ``--output json|csv`` (never its secret)."""
    return {
        "token_id": token.token_id,
        "name": token.name,
        "user": token.user,
        "tenant": token.tenant,
        "role": token.role.label,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens on a Kiln server.

    \b
    Examples:
      kiln tokens create --name ci --role member --workspace team-a --expires-in-days 90
      kiln tokens list --output json
      kiln tokens revoke 3f2a9c0d1e...
    """


@tokens.command()
@click.option("--name", default="", help="What the token is for (shown by `kiln tokens list`).")
@click.option("--role", type=ROLE, help="At most your role there (default: your role).")
@click.option("--workspace", help="The workspace the token acts in (default: yours).")
@click.option(
    "--expires-in-days", type=click.IntRange(min=1), help="Days until it expires (default: never)."
)
@pass_state
def create(
    state: CliState,
    name: str,
    role: Role | None,
    workspace: str | None,
    expires_in_days: int | None,
) -> None:
    """Create a token; it is printed once, alone on stdout."""
    with open_access(state) as access:
        token, secret = access.create_token(name, workspace, role, expires_in_days)
    expiry = (
        "never expires"
        if token.expires_at is None
        else f"expires {format_time(token.expires_at)} UTC"
    )
    click.echo(
        f"Token {token.token_id} for {token.user}: {token.role.label} in {token.tenant}, "
        f"{expiry}. It is shown only now:",
        err=True,
    )
    click.echo(secret)


@tokens.command("list")
@click.option("--all", "all_users", is_flag=True, help="Every user's tokens (admins only).")
@output_option
@pass_state
def list_tokens(state: CliState, all_users: bool, output: str) -> None:
    """List your tokens (never their secrets)."""
    with open_access(state) as access:
        found = access.list_tokens(all_users)
    records: list[Mapping[str, object]] = [token_record(t) for t in found]
    if output != "table":
        emit_records(records, TOKEN_FIELDS, output)
        return
    out = console()
    if not records:
        out.print("No tokens.")
        return

    def state_of(token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        if token.expires_at is not None:
            return f"until {format_time(token.expires_at)}"
        return "active"

    columns = [
        "Token ID",
        "Name",
        "User",
        "Workspace",
        "Role",
        "Created (UTC)",
        "Last used",
        "State",
    ]
    rows = [
        [
            t.token_id,
            t.name,
            t.user,
            t.tenant,
            t.role.label,
            format_time(t.created_at or None),
            format_time(t.last_used_at),
            state_of(t),
        ]
        for t in found
    ]
    out.print(table(None, columns, rows))


@tokens.command()
@click.argument("token_id")
@pass_state
def revoke(state: CliState, token_id: str) -> None:
    """Revoke the token TOKEN_ID (yours, or any in a workspace you manage)."""
    with open_access(state) as access:
        access.revoke_token(token_id)
    click.echo(f"Revoked token {token_id}.")


__all__ = ["TOKEN_FIELDS", "token_record", "tokens"]
