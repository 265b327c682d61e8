"""``kiln reproduce``: re-run a project run and print, metric by metric, whether it reproduced.

A thin edge over ``kiln.projects.reproduce.reproduce_run``: progress and warnings
go to stderr, the comparison table to stdout. Exit status 0 when every metric
matched, 1 when the run did not reproduce (a metric differs or is missing on one
side, or the re-run failed); refusals (dirty code, changed data, not a project
run) exit with their error's code before anything runs.
"""

from __future__ import annotations

import click

from kiln.cli.render import console, esc
from kiln.cli.state import CliState, pass_state

ENV_MANAGERS = ("local", "uv", "virtualenv", "conda")
_NOT_REPRODUCED = 1


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


@click.command(
    "reproduce",
    epilog="""\b
Examples:
  kiln reproduce 0123456789abcdef0123456789abcdef
  kiln reproduce 0123456789abcdef0123456789abcdef --tolerance 1e-6
  kiln reproduce 0123456789abcdef0123456789abcdef --allow-dirty
  kiln reproduce 0123456789abcdef0123456789abcdef --env-manager local

\b
The run must come from `kiln run` on a git repository. Its commit is checked out
in a temporary folder, its environment rebuilt from kiln/environment.lock, and
its entry point run with the recorded params as a new run tagged
kiln.reproduce.of=RUN_ID. A metric passes when |original - reproduced| <=
tolerance * max(1, |original|); NaN matches NaN; a metric on one side only fails.
Exit status: 0 reproduced, 1 not reproduced, 2-4 refused (see the message).
""",
)
@click.argument("run_id")
@click.option(
    "--tolerance",
    type=float,
    default=1e-9,
    show_default=True,
    help="Allowed difference per metric: absolute below 1, relative above.",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    help="Reproduce a run made with uncommitted changes by applying its recorded diff.",
)
@click.option(
    "--env-manager",
    type=click.Choice(ENV_MANAGERS),
    help="local: run in this environment and only compare it with the lock; others rebuild "
    "from the lock. Default: as the original (local stays local).",
)
@pass_state
def reproduce_cmd(
    state: CliState,
    run_id: str,
    tolerance: float,
    allow_dirty: bool,
    env_manager: str | None,
) -> None:
    """Re-run RUN_ID from what it recorded and check every metric comes out the same."""
    from rich.console import Console

    from kiln.cli.render import table
    from kiln.projects.reproduce import reproduce_run

    err = Console(stderr=True, highlight=False)

    def progress(message: str) -> None:
        err.print(f"[dim]{esc(message)}[/dim]")

    result = reproduce_run(
        run_id,
        tolerance=tolerance,
        allow_dirty=allow_dirty,
        env_manager=env_manager,  # type: ignore[arg-type]  # click.Choice checked it
        tracking_uri=state.tracking_uri,
        progress=progress,
        settings=state.settings(),
    )
    for warning in result.env_warnings:
        err.print(f"[yellow]environment differs: {esc(warning)}[/yellow]")
    for check in result.data_checks:
        if check.verdict == "unchecked":
            err.print(f"[dim]dataset {esc(check.name)} not checked: {esc(check.note)}[/dim]")
    out = console()
    comparison = result.comparison
    rows = [
        (
            m.key,
            _number(m.original, ".12g"),
            _number(m.reproduced, ".12g"),
            _number(m.abs_diff, ".3g"),
            "pass" if m.passed else "FAIL",
        )
        for m in comparison.metrics
    ]
    if rows:
        out.print(
            table(
                f"Run {run_id} reproduced as {result.run_id} (tolerance {tolerance:g})",
                ("Metric", "Original", "Reproduced", "Abs diff", "Result"),
                rows,
            )
        )
    else:
        out.print("Neither run logged a metric; only the exit status is compared.")
    if result.status.value != "FINISHED":
        out.print(
            f"[red]The re-run {result.status.value} (exit code {result.exit_code}): "
            f"see kiln runs show {result.run_id}[/red]"
        )
    if result.passed:
        out.print(f"[green]Reproduced[/green]: {len(rows)} metrics match.")
        return
    failed = len(comparison.failed)
    out.print(
        f"[red]Not reproduced[/red]: {failed} of {len(rows)} metrics differ "
        f"(kiln.reproduce.result=fail on run {result.run_id})."
    )
    raise click.exceptions.Exit(_NOT_REPRODUCED)


__all__ = ["reproduce_cmd"]
