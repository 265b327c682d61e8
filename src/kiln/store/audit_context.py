"""Who is acting: the actor every audit line names, set by the edge per request.

The server sets it for each request (the authenticated user); the CLI and the
Python API leave it unset, and the actor is then the OS user (the audit log is
written with auth off too). A ``ContextVar``: each request, thread copy and task
sees its own, and nothing outlives the ``acting_as`` block that set it.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from contextvars import ContextVar

_ACTOR: ContextVar[str | None] = ContextVar("kiln_audit_actor", default=None)


def current_actor() -> str:
    """The acting user: the one set by ``acting_as``, else the OS user."""
    actor = _ACTOR.get()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): say so rather than fail
        return "unknown"


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Name ``actor`` in the audit lines written inside the block."""
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def set_actor(actor: str | None) -> None:
    """Set the actor for the rest of the current context (a request's task; the
    server's fast lane, which has no block to wrap)."""
    _ACTOR.set(actor)


__all__ = ["acting_as", "current_actor", "set_actor"]
