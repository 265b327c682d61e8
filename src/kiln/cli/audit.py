"""``kiln audit``: read the audit log (who deleted, renamed, moved what) and check its chain.

Embedded for a SQL tracking URI (``sqlite://``, ``postgresql://``; and ``memory://``,
whose log starts empty): the log is read from the database, every tenant unless
``--tenant`` names one. Against a server (``http(s)://``) it calls
``GET /api/kiln/v1/audit`` and ``/api/kiln/v1/audit/verify`` with the credentials
the REST client sends (the server reads the workspace's log; admins may pass
``--tenant NAME`` or ``--tenant '*'``). A file (mlruns) store keeps no log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import click

from kiln.cli.render import (
    console,
    emit_records,
    fitting_columns,
    format_time,
    output_option,
    table,
)
from kiln.cli.state import CliState, pass_state
from kiln.entities.auth import AuditEvent
from kiln.store.open import scheme_of

AUDIT_PATH = "/api/kiln/v1/audit"
ALL_TENANTS = "*"
_PAGE = 1000
# The columns of --output json|csv: an event's fields, as event_row writes them.
_FIELDS = tuple(field.name for field in dataclasses.fields(AuditEvent))


@click.group(
    epilog="""\b
Examples:
  kiln audit list --resource model:churn
  kiln audit list --action run.delete --output json
  kiln audit verify
"""
)
def audit() -> None:
    """Read the audit log and check that nobody edited it."""


def _target(state: CliState) -> tuple[str, bool]:
    """The tracking URI, and whether it names a server (then the environment's
    credentials are installed first: reading the settings does that)."""
    uri = state.resolved_uri()
    server = scheme_of(uri) in ("http", "https")
    if server:
        state.settings()
    return uri, server


def _server_events(uri: str, filters: Mapping[str, str | None], limit: int) -> Iterator[AuditEvent]:
    from kiln.store.rest.client import DEFAULT_TIMEOUT_S, RestClient
    from kiln.wire.auth import audit_event_from_json
    from kiln.wire.fields import object_list

    rest = RestClient(uri, None, DEFAULT_TIMEOUT_S, label="tracking server")
    try:
        token: str | None = None
        while limit > 0:
            params = {k: v for k, v in filters.items() if v is not None}
            params["max_results"] = str(min(limit, _PAGE))
            if token:
                params["page_token"] = token
            answer = rest.request("GET", AUDIT_PATH, params=params, ok=(200,))
            events = [audit_event_from_json(doc) for doc in object_list(answer, "events")]
            yield from events
            limit -= len(events)
            next_token = answer.get("next_page_token")
            if not events or not isinstance(next_token, str) or not next_token:
                return
            token = next_token
    finally:
        rest.close()


def _embedded_events(
    uri: str, filters: Mapping[str, str | None], limit: int
) -> Iterator[AuditEvent]:
    from kiln.store.open import open_audit_log

    log = open_audit_log(uri)
    tenant = filters.get("tenant")
    token: str | None = None
    while limit > 0:
        page = log.list_events(
            tenant=None if tenant in (None, ALL_TENANTS) else tenant,
            resource=filters.get("resource"),
            actor=filters.get("actor"),
            action=filters.get("action"),
            max_results=min(limit, _PAGE),
            page_token=token,
        )
        yield from page.items
        limit -= len(page.items)
        if not page.next_page_token or not page.items:
            return
        token = page.next_page_token


def _show(value: Any) -> str:
    from kiln.store.rules.audit import canonical_json

    if value is None:
        return "-"
    return value if isinstance(value, str) else canonical_json(value)


def _change(before: Any, after: Any) -> str:
    """What changed, short: ``alias=champion, version: 1 -> 2``; ``was name=churn``."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        parts = []
        for key in sorted({*before, *after}):
            old, new = before.get(key), after.get(key)
            same = old == new
            parts.append(f"{key}={_show(old)}" if same else f"{key}: {_show(old)} -> {_show(new)}")
        return ", ".join(parts)
    for label, side in (("was", before), ("now", after)):
        if isinstance(side, Mapping):
            return f"{label} " + ", ".join(f"{k}={_show(v)}" for k, v in sorted(side.items()))
    return ""


def _records(events: Sequence[AuditEvent], output: str) -> list[dict[str, object]]:
    from kiln.store.rules.audit import canonical_json, event_row

    records = []
    for event in events:
        record: dict[str, object] = event_row(event)
        if output == "csv":  # one exact JSON cell rather than k=v;k=v
            for side in ("before", "after"):
                value = record[side]
                record[side] = None if value is None else canonical_json(value)
        records.append(record)
    return records


@audit.command(
    "list",
    epilog="""\b
Examples:
  kiln audit list
  kiln audit list --resource model:churn          # the model itself
  kiln audit list --resource 'model:churn/*'      # its versions
  kiln audit list --actor alice --action model.alias.set
  kiln audit list --tenant acme --output csv > audit.csv
""",
)
@click.option(
    "--resource",
    metavar="KIND:ID",
    help="Only this object (run:ID, experiment:ID, model:NAME, model:NAME/VERSION, "
    "logged_model:ID, user:NAME, tenant:NAME); a trailing * matches a prefix.",
)
@click.option("--actor", metavar="USER", help="Only changes made by this user.")
@click.option(
    "--action", metavar="ACTION", help="Only this action, e.g. run.delete, model.alias.set."
)
@click.option(
    "--tenant",
    metavar="NAME",
    help="Only this tenant (workspace); '*' for every tenant. Embedded: every tenant by "
    "default; a server: the workspace you act in.",
)
@click.option("--max-results", type=click.IntRange(1, 100_000), default=100, show_default=True)
@output_option
@pass_state
def list_events(
    state: CliState,
    resource: str | None,
    actor: str | None,
    action: str | None,
    tenant: str | None,
    max_results: int,
    output: str,
) -> None:
    """List audit events, newest first."""
    uri, server = _target(state)
    filters = {"resource": resource, "actor": actor, "action": action, "tenant": tenant}
    source = _server_events if server else _embedded_events
    events = list(source(uri, filters, max_results))
    if output != "table":
        emit_records(_records(events, output), _FIELDS, output)
        return
    out = console()
    if not events:
        out.print("No audit events match.")
        return
    columns = ["ID", "Time (UTC)", "Actor", "Action", "Resource", "Change", "Tenant"]
    rows = [
        [
            str(e.event_id),
            format_time(e.timestamp),
            e.actor,
            e.action,
            e.resource,
            _change(e.before, e.after),
            e.tenant,
        ]
        for e in events
    ]
    keep = fitting_columns(columns, rows, out.width, required=5)
    columns = [columns[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    out.print(table("Audit events", columns, rows, wrap=False))


@audit.command(
    "verify",
    epilog="""\b
Exit code 0 when the chain holds; 1 with the first event that does not match
(an event edited, removed or inserted by hand from that one on).
""",
)
@pass_state
def verify(state: CliState) -> None:
    """Walk the whole hash chain and check that no event was edited or removed."""
    uri, server = _target(state)
    broken: int | None
    if server:
        from kiln.store.rest.client import DEFAULT_TIMEOUT_S, RestClient

        rest = RestClient(uri, None, DEFAULT_TIMEOUT_S, label="tracking server")
        try:
            answer = rest.request("GET", f"{AUDIT_PATH}/verify", ok=(200,))
        finally:
            rest.close()
        bad = answer.get("first_bad_event_id")
        broken = None if answer.get("ok") is True else int(bad) if isinstance(bad, int) else -1
    else:
        from kiln.store.open import open_audit_log

        broken = open_audit_log(uri).verify()
    if broken is None:
        click.echo("The audit log is intact: every event matches its hash chain.")
        return
    where = f"at event {broken}" if broken >= 0 else "(the server named no event)"
    click.echo(
        f"The audit log was altered {where}: that event or the one before it was edited, "
        "removed or inserted outside Kiln.",
        err=True,
    )
    raise click.exceptions.Exit(1)


__all__ = ["audit"]
