"""``kiln admin``: workspaces (tenants), users, roles, quotas and directory groups.

Against a server (an ``http(s)://`` tracking URI) every command goes through its
Kiln API as the logged-in user; against a SQLite or PostgreSQL tracking URI it acts
in the database as its owner (``kiln.cli.access``). A generated password is
printed once, on stdout, and never stored anywhere readable.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence

import click

from kiln.cli.access import open_access
from kiln.cli.render import console, emit_records, format_time, output_option, table
from kiln.cli.state import CliState, pass_state
from kiln.entities.auth import Quota, Role
from kiln.errors import Conflict

LISTS = ("users", "tenants", "members", "groups")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_MB_PER_UNIT = {"": 1, "b": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


class RoleType(click.ParamType[Role, object]):
    """A role by name: viewer, member or project-admin."""

    name = "ROLE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return Role.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


ROLE = RoleType()


def memory_mb(text: str | None) -> int | None:
    """``--memory``: megabytes, or a size with a unit (``512M``, ``16G``, ``1T``).

    Raises:
        click.BadParameter: anything else.
    """
    if text is None:
        return None
    match = _SIZE.match(text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not a size; write megabytes (4096) or a unit: 512M, 16G, 1T",
            param_hint="--memory",
        )
    unit = (match.group(2) or "").lower()[:1]
    return round(float(match.group(1)) * _MB_PER_UNIT[unit])


def read_password_stdin() -> str:
    """One line of stdin, without its line end (``--password-stdin``)."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise click.UsageError("--password-stdin read an empty password")
    return password


def _done(message: str) -> None:
    click.echo(message)


def _show_password(user: str, password: str | None) -> None:
    if password is not None:
        click.echo(f"One-time password for {user} (shown only now): {password}")


@click.group()
def admin() -> None:
    """Manage workspaces, users, roles, quotas and directory groups.

    \b
    Against a server (--tracking-uri http://HOST:PORT, after `kiln login` as an admin)
    or in a SQLite / PostgreSQL tracking database, as its owner.

    \b
    Examples:
      kiln admin create-tenant team-a
      kiln admin create-user alice
      kiln admin grant alice team-a member
      kiln admin list members --tenant team-a --output json
    """


@admin.command("create-tenant")
@click.argument("name")
@click.option("--description", default="", help="What the workspace is for.")
@pass_state
def create_tenant(state: CliState, name: str, description: str) -> None:
    """Create the workspace (tenant) NAME."""
    with open_access(state) as access:
        tenant = access.create_tenant(name, description)
    _done(f"Created workspace {tenant.name}.")


@admin.command("delete-tenant")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Delete it even while it holds experiments or models: they are deleted with it "
    "(their artifacts are not).",
)
@pass_state
def delete_tenant(state: CliState, name: str, force: bool) -> None:
    """Delete the workspace NAME, its memberships, tokens and quota (and, with --force,
    its experiments, runs and models)."""
    try:
        with open_access(state) as access:
            access.delete_tenant(name, force)
    except Conflict as error:  # the table's Conflict hint is about runs
        if force or "holds" not in error.message:
            raise
        from kiln.cli.errors import report

        hint = (
            f"List them with `MLFLOW_WORKSPACE={name} kiln experiments list` and "
            "`kiln models list`; add --force to delete them with the workspace."
        )
        raise click.exceptions.Exit(report(error, hint)) from None
    if force:
        _done(
            f"Deleted workspace {name} with its experiments, runs and models; their "
            f"artifacts stay under the artifact root's workspaces/{name}/ for an operator "
            "to remove."
        )
    else:
        _done(f"Deleted workspace {name}.")


@admin.command("create-user")
@click.argument("name")
@click.option("--admin", "is_admin", is_flag=True, help="Make the user a global admin.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from stdin; without it a one-time password is generated "
    "and printed once.",
)
@pass_state
def create_user(state: CliState, name: str, is_admin: bool, password_stdin: bool) -> None:
    """Create the local user NAME."""
    password = read_password_stdin() if password_stdin else None
    with open_access(state) as access:
        user, generated = access.create_user(name, is_admin, password)
    _done(f"Created {'admin ' if user.is_admin else ''}user {user.name}.")
    _show_password(user.name, generated)


@admin.command("set-password")
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from stdin; without it one is generated and printed once.",
)
@pass_state
def set_password(state: CliState, name: str, password_stdin: bool) -> None:
    """Set the password of the local user NAME (the old one stops working at once)."""
    password = read_password_stdin() if password_stdin else None
    with open_access(state) as access:
        generated = access.set_password(name, password)
    _done(f"Set the password of {name}.")
    _show_password(name, generated)


@admin.command("disable-user")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@pass_state
def disable_user(state: CliState, name: str, enable: bool) -> None:
    """Disable the user NAME: every password, token and session of theirs stops working."""
    with open_access(state) as access:
        access.set_disabled(name, not enable)
    _done(f"{'Enabled' if enable else 'Disabled'} user {name}.")


@admin.command()
@click.argument("user")
@click.argument("tenant")
@click.argument("role", type=ROLE)
@pass_state
def grant(state: CliState, user: str, tenant: str, role: Role) -> None:
    """Give USER the ROLE (viewer, member, project-admin) in the workspace TENANT."""
    with open_access(state) as access:
        access.grant(user, tenant, role)
    _done(f"{user} is {role.label} in {tenant}.")


@admin.command()
@click.argument("user")
@click.argument("tenant")
@pass_state
def revoke(state: CliState, user: str, tenant: str) -> None:
    """Take away USER's role in the workspace TENANT."""
    with open_access(state) as access:
        access.revoke(user, tenant)
    _done(f"{user} has no role in {tenant} any more.")


@admin.command("bind-group")
@click.argument("group")
@click.argument("tenant")
@click.argument("role", type=ROLE)
@pass_state
def bind_group(state: CliState, group: str, tenant: str, role: Role) -> None:
    """Give the members of the directory GROUP (a cn or a DN) ROLE in TENANT at login."""
    with open_access(state) as access:
        access.bind_group(group, tenant, role)
    _done(f"Members of {group} get {role.label} in {tenant} when they log in.")


@admin.command("unbind-group")
@click.argument("group")
@click.argument("tenant")
@pass_state
def unbind_group(state: CliState, group: str, tenant: str) -> None:
    """Stop giving the directory GROUP's members a role in TENANT."""
    with open_access(state) as access:
        access.unbind_group(group, tenant)
    _done(f"Members of {group} no longer get a role in {tenant}.")


@admin.command()
@click.argument("tenant")
@click.option("--cpus", type=click.FloatRange(min=0), help="CPU cores the workspace may use.")
@click.option("--gpus", type=click.FloatRange(min=0), help="GPUs the workspace may use.")
@click.option("--memory", help="Memory the workspace may use: megabytes, or 512M, 16G, 1T.")
@click.option("--clear", is_flag=True, help="Remove every limit.")
@pass_state
def quota(
    state: CliState,
    tenant: str,
    cpus: float | None,
    gpus: float | None,
    memory: str | None,
    clear: bool,
) -> None:
    """Show the quota of TENANT, or set the limits given (the others are kept)."""
    wanted_mb = memory_mb(memory)
    changes = cpus is not None or gpus is not None or wanted_mb is not None
    if clear and changes:
        raise click.UsageError("pass --clear alone, or the limits to set")
    with open_access(state) as access:
        current = access.get_quota(tenant)
        if clear:
            current = access.set_quota(Quota(tenant))
        elif changes:
            current = access.set_quota(
                Quota(
                    tenant,
                    current.cpus if cpus is None else cpus,
                    current.gpus if gpus is None else gpus,
                    current.memory_mb if wanted_mb is None else wanted_mb,
                )
            )

    def shown(value: float | int | None, unit: str = "") -> str:
        return "no limit" if value is None else f"{value:g}{unit}"

    click.echo(
        f"{tenant}: cpus {shown(current.cpus)}, gpus {shown(current.gpus)}, "
        f"memory {shown(current.memory_mb, ' MB')}"
    )


_FIELDS: dict[str, tuple[str, ...]] = {
    "users": ("name", "is_admin", "disabled", "source", "created_at"),
    "tenants": ("name", "description", "default_artifact_root", "created_at"),
    "members": ("tenant", "user", "role", "origin"),
    "groups": ("tenant", "group", "role"),
}


@admin.command("list")
@click.argument("what", type=click.Choice(LISTS), default="users")
@click.option("--tenant", help="Only this workspace's members or groups.")
@output_option
@pass_state
def list_cmd(state: CliState, what: str, tenant: str | None, output: str) -> None:
    """List users (default), tenants, members or directory groups.

    \b
    Examples:
      kiln admin list
      kiln admin list tenants
      kiln admin list members --tenant team-a --output csv
    """
    if tenant and what not in ("members", "groups"):
        raise click.UsageError("--tenant goes with `list members` or `list groups`")
    records: list[Mapping[str, object]]
    with open_access(state) as access:
        if what == "users":
            records = [
                {
                    "name": u.name,
                    "is_admin": u.is_admin,
                    "disabled": u.disabled,
                    "source": u.source,
                    "created_at": u.created_at,
                }
                for u in access.list_users()
            ]
        elif what == "tenants":
            records = [
                {
                    "name": t.name,
                    "description": t.description,
                    "default_artifact_root": t.default_artifact_root,
                    "created_at": t.created_at,
                }
                for t in access.list_tenants()
            ]
        elif what == "members":
            found = access.list_members(tenant)
            records = [
                {"tenant": m.tenant, "user": m.user, "role": m.role.label, "origin": m.origin}
                for m in found
            ]
        else:
            bound = access.list_groups(tenant)
            records = [{"tenant": g.tenant, "group": g.group, "role": g.role.label} for g in bound]
    fields = _FIELDS[what]
    if output != "table":
        emit_records(records, fields, output)
        return
    _print_table(what, fields, records)


def _print_table(what: str, fields: Sequence[str], records: Sequence[Mapping[str, object]]) -> None:
    out = console()
    if not records:
        out.print(f"No {what}.")
        return

    def cell(field: str, value: object) -> str:
        if field == "created_at":
            return format_time(value if isinstance(value, int) and value else None)
        if isinstance(value, bool):
            return "yes" if value else ""
        return "" if value is None else str(value)

    columns = [
        f.replace("_", " ").replace("default artifact root", "artifact root") for f in fields
    ]
    rows = [[cell(f, r.get(f)) for f in fields] for r in records]
    out.print(table(None, columns, rows))


__all__ = ["ROLE", "RoleType", "admin", "memory_mb", "read_password_stdin"]
