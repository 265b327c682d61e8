"""What the top-level ``kiln`` options hand to every command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kiln.config import Settings
    from kiln.tracking.client import KilnClient


class CliState:
    """The tracking URI chosen on the command line and the client opened for it.

    The client is opened on first use, so ``--help`` and ``--version`` never touch
    a store.
    """

    def __init__(self, tracking_uri: str | None) -> None:
        self.tracking_uri = tracking_uri
        self._client: KilnClient | None = None
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        """The environment's configuration, read once (the CLI is the edge that reads it)."""
        if self._settings is None:
            from kiln.config import Settings

            self._settings = Settings.from_env()
        return self._settings

    def client(self) -> KilnClient:
        if self._client is None:
            from kiln.tracking.client import KilnClient

            self._client = KilnClient.from_uri(self.tracking_uri, self.settings())
        return self._client

    def chosen_experiment(self, experiment_id: str | None, name: str | None) -> str | None:
        """The experiment id that ``--experiment-id`` or ``--experiment-name`` chose (a name
        is looked up; an id is returned as given), or None when neither was passed.

        Raises:
            InvalidInput: both were passed.
            NotFound: no experiment has that name.
        """
        from kiln.errors import InvalidInput, NotFound

        if experiment_id and name:
            raise InvalidInput("pass --experiment-id or --experiment-name, not both")
        if name:
            experiment = self.client().get_experiment_by_name(name)
            if experiment is None:
                raise NotFound(f"no experiment is named {name!r}")
            return experiment.experiment_id
        return experiment_id or None

    def resolved_uri(self) -> str:
        """The URI commands act on: ``--tracking-uri``, else the environment, else the default."""
        return self.tracking_uri or self.settings().tracking_uri


pass_state = click.make_pass_decorator(CliState)

__all__ = ["CliState", "pass_state"]
