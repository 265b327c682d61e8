"""The ``kiln`` command: global options, the command groups, and the error edge.

Every command is thin: parse options, call one client or core function, render
the result. A ``KilnError`` raised anywhere below is turned into one red line, a
hint and an exit code by ``kiln.cli.errors`` (never a traceback); so is any other
exception (an ``OSError`` as what it is, anything else as an unexpected error whose
traceback ``KILN_DEBUG=1`` shows).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

import click

from kiln._version import __version__
from kiln.cli.demo import demo
from kiln.cli.experiments import experiments
from kiln.cli.models import models
from kiln.cli.runs import runs
from kiln.cli.server import server
from kiln.cli.state import CliState
from kiln.cli.transfer import export_cmd, import_cmd
from kiln.errors import KilnError

# Commands imported only when used ("name": "module:attribute"), so ``kiln run`` does not
# pay for the server's or the registry's imports. Add a command here with one line.
LAZY_COMMANDS: dict[str, str] = {
    "admin": "kiln.cli.admin:admin",
    "audit": "kiln.cli.audit:audit",
    "datasets": "kiln.cli.datasets:datasets",
    "examples": "kiln.cli.examples:examples",
    "login": "kiln.cli.login:login_cmd",
    "logout": "kiln.cli.login:logout_cmd",
    "reproduce": "kiln.cli.reproduce:reproduce_cmd",
    "run": "kiln.cli.project:run_cmd",
    "tokens": "kiln.cli.tokens:tokens",
}


class KilnGroup(click.Group):
    """A click group that turns ``KilnError`` into a one-line message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KilnError as error:
            from kiln.cli.errors import report

            raise click.exceptions.Exit(report(error)) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:  # the last edge: a traceback never reaches the user
            from kiln.cli.errors import DEBUG_ENV, report_unexpected

            if os.environ.get(DEBUG_ENV):
                raise
            raise click.exceptions.Exit(report_unexpected(error)) from None


@click.group(
    cls=KilnGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  kiln demo
  kiln experiments list
  kiln runs list --experiment-name kiln-demo
  kiln runs list --experiment-name kiln-demo --output json
  kiln --tracking-uri sqlite:///team.db runs show 0123456789abcdef0123456789abcdef
  kiln runs artifacts 0123456789abcdef0123456789abcdef

\b
A failure is one "Error:" line and one "Hint:" line on stderr, with a non-zero exit
status; KILN_DEBUG=1 shows the traceback of an unexpected one.
""",
)
@click.version_option(__version__, "--version", prog_name="kiln", message="%(prog)s %(version)s")
@click.option(
    "--tracking-uri",
    envvar=["KILN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    show_envvar=True,
    metavar="URI",
    help="Tracking store: sqlite:///kiln.db, postgresql://..., file:///path/mlruns, memory://. "
    "Default: sqlite:///$KILN_HOME/kiln.db (KILN_HOME defaults to ~/.kiln).",
)
@click.pass_context
def cli(ctx: click.Context, tracking_uri: str | None) -> None:
    """Kiln: track experiments and runs, MLflow-compatible, on one machine."""
    ctx.obj = CliState(tracking_uri or None)


cli.add_command(experiments)
cli.add_command(runs)
cli.add_command(import_cmd)
cli.add_command(export_cmd)
cli.add_command(demo)
cli.add_command(server)
cli.add_command(models)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``kiln``)."""
    cli.main(args=None if argv is None else list(argv), prog_name="kiln")


__all__ = ["LAZY_COMMANDS", "KilnGroup", "cli", "main"]


if __name__ == "__main__":  # python -m kiln.cli.main
    main()
