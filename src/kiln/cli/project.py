"""``kiln run``: run a project's entry point as a tracked run (thin edge over ``run_project``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import click

from kiln.cli.commands import kiln_command
from kiln.cli.state import CliState, pass_state
from kiln.errors import InvalidInput

ENV_MANAGERS = ("local", "uv", "virtualenv", "conda")
_EXIT_KILLED = 130  # what a shell reports for a command stopped by Ctrl-C


def parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    """``["alpha=0.5", "name=a=b"]`` -> ``{"alpha": "0.5", "name": "a=b"}``.

    Raises:
        InvalidInput: a pair has no ``=`` or an empty key, or a key is given twice.
    """
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"-P {pair!r} is not key=value; write e.g. -P alpha=0.5")
        if key in found:
            raise InvalidInput(f"parameter {key!r} is given twice with -P; keep one")
        found[key] = value
    return found


@click.command(
    "run",
    epilog="""\b
Examples:
  kiln run . -P alpha=0.5                  # the main entry point of ./MLproject
  kiln run . -e train.py -P epochs=3       # no MLproject needed: python train.py --epochs 3
  kiln run examples/wine --env-manager uv  # build (or reuse) the project's python_env
  kiln run /path/repo#projects/taxi --version v1.2 --experiment-name taxi
  kiln run file:///srv/repos/models.git#wine --version 3f2c1ab -P data=train.csv

\b
The command runs in the project folder with KILN_RUN_ID, KILN_TRACKING_URI and
MLFLOW_RUN_ID set: a script that calls kiln.start_run() or kiln.log_metric()
logs into this run. Parameter values are shell-quoted, never interpreted by the shell.
Exit status: 0 when the command succeeded, 1 when it failed, 130 when interrupted.
""",
)
@click.argument("uri")
@click.option(
    "-e",
    "--entry-point",
    default="main",
    show_default=True,
    help="Entry point of the MLproject, or a .py/.sh file in the project.",
)
@click.option(
    "-P",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter (repeatable); undeclared ones are passed on as --KEY VALUE.",
)
@click.option(
    "-v",
    "--version",
    "version",
    metavar="COMMIT|BRANCH",
    help="Check out this git version in a temporary folder and run it there.",
)
@click.option(
    "--env-manager",
    type=click.Choice(ENV_MANAGERS),
    help="How to build the environment. Default: uv when the project declares "
    "python_env/conda_env, else local (the current Python).",
)
@click.option("--experiment-name", help="Experiment to log into (created if missing).")
@click.option("--experiment-id", help="Experiment id to log into.")
@click.option("--run-name", help="Name of the new run.")
@pass_state
def run_cmd(
    state: CliState,
    uri: str,
    entry_point: str,
    params: tuple[str, ...],
    version: str | None,
    env_manager: str | None,
    experiment_name: str | None,
    experiment_id: str | None,
    run_name: str | None,
) -> None:
    """Run an entry point of the project at URI as a tracked run.

    URI is a folder, a file:// URL or a git repository (a path or URL), with an
    optional #subdir naming the project folder inside it.
    """
    from rich.console import Console

    from kiln.projects.runner import run_project

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    parameters = parse_parameters(params)

    def progress(message: str) -> None:
        err.print(f"[dim]{_escape(message)}[/dim]")

    started = time.monotonic()
    result = run_project(
        uri,
        settings=state.settings(),
        entry_point=entry_point,
        parameters=parameters,
        version=version,
        env_manager=env_manager,  # type: ignore[arg-type]  # click.Choice checked it
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        run_name=run_name,
        tracking_uri=state.tracking_uri,
        progress=progress,
    )
    seconds = time.monotonic() - started
    status = result.status.value
    colour = {"FINISHED": "green", "FAILED": "red", "KILLED": "yellow"}.get(status, "white")
    err.print(
        f"[bold {colour}]{status}[/bold {colour}] run {result.run_id} "
        f"(experiment {result.experiment_id}) in {seconds:.1f} s"
    )
    if status == "FAILED":
        err.print(f"  the command exited with code {result.exit_code}; its stderr tail is kept")
    env = result.env
    if env.manager != "local":
        short = (env.env_hash or "")[:8]
        if env.cache_hit:
            saved = f", saved {env.saved_seconds:.1f} s" if env.saved_seconds else ""
            err.print(f"  reused environment {short} ({env.manager}{saved})")
        else:
            err.print(f"  built environment {short} ({env.manager}) in {env.build_seconds:.1f} s")
    err.print(f"  details: {_escape(kiln_command())} runs show {result.run_id}", soft_wrap=True)
    sys.stderr.flush()
    if status == "KILLED":
        raise click.exceptions.Exit(_EXIT_KILLED)
    if status != "FINISHED":
        raise click.exceptions.Exit(1)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


__all__ = ["ENV_MANAGERS", "parse_parameters", "run_cmd"]
