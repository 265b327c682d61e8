"""What the top-level ``kiln`` options hand to every command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kiln.tracking.client import KilnClient


class CliState:
    """The tracking URI chosen on the command line and the client opened for it.

    The client is opened on first use, so ``--help`` and ``--version`` never touch
    a store.
    """

    def __init__(self, tracking_uri: str | None) -> None:
        self.tracking_uri = tracking_uri
        self._client: KilnClient | None = None

    def client(self) -> KilnClient:
        if self._client is None:
            from kiln.tracking.client import KilnClient

            self._client = KilnClient.from_uri(self.tracking_uri)
        return self._client

    def resolved_uri(self) -> str:
        """The URI commands act on: ``--tracking-uri``, else the environment, else the default."""
        if self.tracking_uri:
            return self.tracking_uri
        from kiln.config import Settings

        return Settings.from_env().tracking_uri


pass_state = click.make_pass_decorator(CliState)

__all__ = ["CliState", "pass_state"]
