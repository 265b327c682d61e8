"""``kiln examples list`` and ``kiln examples run-all``: the example projects as a release check."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiln.cli.commands import kiln_command, pip_command
from kiln.cli.render import console, emit_records, esc, output_option, table
from kiln.cli.state import CliState, pass_state
from kiln.errors import RequirementsMissing

if TYPE_CHECKING:
    from kiln.examples.catalog import Example
    from kiln.examples.pipeline import ExampleResult


def _examples(ctx: click.Context) -> list[Example]:
    from kiln.examples.catalog import discover, examples_root

    folder: Path | None = ctx.find_root().meta.get("kiln.examples_dir")
    state = ctx.find_object(CliState)
    if folder is None and state is not None:
        folder = state.settings().examples_dir  # $KILN_EXAMPLES_DIR
    return discover(examples_root(folder))


@click.group(
    epilog="""\b
Examples:
  kiln examples list
  kiln examples run-all --only wine,taxi
  kiln examples --examples-dir ./my-examples run-all
"""
)
@click.option(
    "--examples-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of example projects. Default: $KILN_EXAMPLES_DIR, else the ones shipped "
    "with Kiln.",
)
@click.pass_context
def examples(ctx: click.Context, examples_dir: Path | None) -> None:
    """The example projects (wine, adult, taxi, ...): list them, or check them all."""
    ctx.find_root().meta["kiln.examples_dir"] = examples_dir


@examples.command(
    "list",
    epilog="""\b
Examples:
  kiln examples list
  kiln examples list --output json
""",
)
@output_option
@click.pass_context
def list_cmd(ctx: click.Context, output: str) -> None:
    """Show each example, its flavor, and whether this Python can run it."""
    if output != "table":
        records = [
            {
                "name": e.name,
                "title": e.title,
                "flavor": e.flavor,
                "heavy": e.heavy,
                "metric": e.metric.name,
                "lower_is_better": e.metric.lower_is_better,
                "missing_modules": list(e.missing_modules()),
                "install": _install_command(e),
            }
            for e in _examples(ctx)
        ]
        emit_records(records, _FIELDS, output)
        return
    rows = []
    for example in _examples(ctx):
        missing = example.missing_modules()
        ready = "yes" if not missing else f"no, {_needs(example)}"
        rows.append(
            (
                example.name,
                example.title,
                example.flavor,
                "yes" if example.heavy else "no",
                f"{example.metric.name} ({'lower' if example.metric.lower_is_better else 'higher'}"
                " is better)",
                ready,
            )
        )
    out = console()
    out.print(table("Examples", ("Name", "Title", "Flavor", "Heavy", "Metric", "Ready"), rows))
    kiln = kiln_command()
    out.print(
        f"Run one: {esc(kiln)} run <folder> (see its README.md); check them all: "
        f"{esc(kiln)} examples run-all",
        soft_wrap=True,
    )


_FIELDS = (
    "name",
    "title",
    "flavor",
    "heavy",
    "metric",
    "lower_is_better",
    "missing_modules",
    "install",
)


def _install_command(example: Example) -> str | None:
    """The command that installs what ``example`` lacks into this Python (None: nothing)."""
    missing = example.missing_modules()
    if not missing:
        return None
    if example.extra:
        return f"{pip_command()} install 'kiln-mlops[{example.extra}]'"
    return f"{pip_command()} install {' '.join(missing)}"


def _needs(example: Example) -> str:
    """``needs xgboost: pip install 'kiln-mlops[xgboost]'``, for a skip line or an error."""
    return f"needs {', '.join(example.missing_modules())}: {_install_command(example)}"


def _plan(
    found: list[Example], only: str | None, include_heavy: bool
) -> list[tuple[Example, str | None]]:
    """Each selected example and why it is skipped (None: it runs).

    An example named in ``--only`` is never skipped: if this Python lacks what it needs,
    nothing runs and the error says what to install.

    Raises:
        RequirementsMissing: an example named in ``--only`` cannot be imported here.
    """
    from kiln.examples.catalog import select

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    plan: list[tuple[Example, str | None]] = []
    for example in select(found, names):
        reason = None
        if names is None and example.heavy and not include_heavy:
            reason = "heavy: add --include-heavy or name it in --only"
        elif example.missing_modules():
            reason = _needs(example)
        plan.append((example, reason))
    if names is not None:
        lacking = [f"{example.name} {reason}" for example, reason in plan if reason]
        if lacking:
            raise RequirementsMissing("; ".join(lacking) + " (nothing was run)")
    return plan


def _row(result: ExampleResult) -> tuple[str, ...]:
    if result.skipped:
        outcome = f"skipped: {result.reason}"
    elif result.passed:
        outcome = "pass"
    else:
        outcome = f"FAIL: {result.reason}"
    metric = "-"
    if result.metric is not None:
        metric = f"{result.metric_name} = {result.metric:.4g}"
    return (
        result.name,
        result.run_id or "-",
        metric,
        f"{result.model_name} v{result.model_version}" if result.model_version else "-",
        f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else "-",
        f"{result.seconds:.0f}s" if not result.skipped else "-",
        outcome,
    )


def _wait_for_ctrl_c(results: list[ExampleResult]) -> None:
    """Block until Ctrl-C, or until a kept server exits on its own."""
    out = console()
    servers = [r.server for r in results if r.server is not None]
    if not servers:
        return
    out.print("\nThe servers stay up until you press Ctrl-C.")
    try:
        while all(server.alive() for server in servers):
            time.sleep(0.5)  # waiting for the user, not ordering anything
        out.print("[red]A scoring server exited; stopping the others.[/]")
    except KeyboardInterrupt:
        out.print("Stopping the servers.")


@examples.command(
    "run-all",
    epilog="""\b
Examples:
  kiln examples run-all
  kiln examples run-all --only wine,adult,taxi
  kiln examples run-all --only taxi --keep-serving
""",
)
@click.option("--only", metavar="A,B", help="Comma-separated example names (default: all).")
@click.option(
    "--include-heavy/--skip-heavy",
    default=False,
    show_default=True,
    help="Also run the heavy examples (keras, h2o, segmentation) when --only is not given.",
)
@click.option(
    "--keep-serving",
    is_flag=True,
    help="Leave the scoring servers up, print their URLs and curl lines, wait for Ctrl-C.",
)
@click.pass_context
@pass_state
def run_all(
    state: CliState, ctx: click.Context, only: str | None, include_heavy: bool, keep_serving: bool
) -> None:
    """Train, register, serve and query every example; a table and a non-zero exit on failure.

    Each example runs as a project (experiment 'examples-<name>'), its model becomes
    a new version of 'example-<name>' with the alias 'champion', a real `kiln models
    serve` process with token auth answers its reference requests, and the server is
    stopped. Before anything runs, each example's modules are checked: one this Python
    lacks is skipped with the command that installs them, and the exit is non-zero; if
    it is named in --only, nothing runs and the error says what to install.
    """
    from kiln.examples.pipeline import run_example, skipped

    out = console()
    uri = state.resolved_uri()
    plan = _plan(_examples(ctx), only, include_heavy)
    results: list[ExampleResult] = []
    lacking = [example.name for example, skip in plan if skip and example.missing_modules()]
    with contextlib.ExitStack() as keep:
        for example, skip in plan:
            if skip is not None:
                out.print(f"[yellow]{example.name}: skipped[/], {esc(skip)}", soft_wrap=True)
                results.append(skipped(example, skip))
                continue
            out.print(f"[bold]{example.name}[/]: {esc(example.title)}")
            result = run_example(
                example,
                tracking_uri=uri,
                settings=state.settings(),
                keep_serving=keep if keep_serving else None,
                progress=lambda message: out.print(f"  {esc(message)}", soft_wrap=True),
            )
            results.append(result)
            verdict = "[green]pass[/]" if result.passed else f"[red]FAIL[/]: {esc(result.reason)}"
            out.print(f"  {verdict} in {result.seconds:.0f}s", soft_wrap=True)
        columns = ("Example", "Run ID", "Main metric", "Model", "Latency", "Time", "Result")
        out.print(table("kiln examples run-all", columns, [_row(r) for r in results]))
        failed = [r for r in results if not r.passed]
        if keep_serving and not failed:
            _print_serving(results, plan)
            _wait_for_ctrl_c(results)
    if failed:
        names = ", ".join(r.name for r in failed)
        out.print(f"[red]{len(failed)} of {len(results)} examples failed:[/] {esc(names)}")
        raise click.exceptions.Exit(1)
    if lacking:
        out.print(
            f"[red]{len(lacking)} of {len(results)} examples were skipped[/] because this Python "
            f"lacks what they need ({esc(', '.join(lacking))}): install it as shown above, or "
            "leave them out with --only.",
            soft_wrap=True,
        )
        raise click.exceptions.Exit(1)
    ran = [r for r in results if not r.skipped]
    out.print(f"[green]All {len(ran)} examples passed[/] (tracking URI {esc(uri)})")


def _print_serving(results: list[ExampleResult], plan: list[tuple[Example, str | None]]) -> None:
    out = console()
    by_name = {example.name: example for example, _ in plan}
    for result in results:
        if result.server is None:
            continue
        request = by_name[result.name].requests[0]
        out.print(f"\n[bold]{result.name}[/] serving on {result.server.url}; try:")
        curl = result.server.curl(request.content_type, request.read_body())
        out.print(f"  {esc(curl)}", soft_wrap=True)


__all__ = ["examples"]
