"""``kiln demo``: the taxi example end to end (train, register, serve, predict)."""

from __future__ import annotations

import contextlib
import time
from shlex import quote

import click

from kiln.cli.commands import kiln_command
from kiln.cli.render import console, esc, table
from kiln.cli.state import CliState, pass_state


@click.command(
    epilog="""\b
Examples:
  kiln demo
  kiln demo --no-wait
  kiln --tracking-uri sqlite:///demo.db demo
"""
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Stop the server and exit once the demo's own prediction has been checked.",
)
@pass_state
def demo(state: CliState, no_wait: bool) -> None:
    """Train, register, serve and query a NYC taxi trip-duration model.

    Trains gradient boosting on synthetic taxi trips as a tracked run in experiment
    'kiln-demo' (parameters, RMSE/MAE against two baselines, the data set, the
    model), registers it as 'nyc-taxi-duration' with the alias 'champion', serves
    it with `kiln models serve` and token auth, scores three trips through it, and
    prints a curl command to try it yourself. Ctrl-C stops the server.
    """
    from kiln.demo.session import EXPERIMENT_NAME, MODEL_NAME, run_demo

    out = console()
    uri = state.resolved_uri()
    started = time.perf_counter()
    with contextlib.ExitStack() as keep:
        result = run_demo(
            tracking_uri=uri,
            settings=state.settings(),
            keep_serving=keep,
            progress=lambda message: out.print(f"  {esc(message)}", soft_wrap=True),
        )
        elapsed = time.perf_counter() - started
        run = result.example
        rows = [
            (t.when, t.pickup, t.dropoff, str(t.passengers), f"{t.miles:g}", f"{t.minutes:.1f}")
            for t in result.trips
        ]
        columns = ("Pickup", "From", "To", "Passengers", "Miles", "Predicted minutes")
        out.print(table("Trips scored by the served model", columns, rows))
        summary = [
            ("tracking URI", uri),
            ("experiment", EXPERIMENT_NAME),
            ("run", run.run_id or "-"),
            (f"test {run.metric_name}", f"{run.metric:.3f} minutes" if run.metric else "-"),
            ("model", f"models:/{MODEL_NAME}/{run.model_version} (@champion)"),
            ("scoring server", result.server.url),
            ("predict latency", f"{run.latency_ms:.1f} ms (median)" if run.latency_ms else "-"),
            ("wall time", f"{elapsed:.1f}s"),
        ]
        out.print(table("Kiln demo", ("", ""), summary))
        kiln = kiln_command()  # runnable as printed, even with the venv not activated
        prefix = kiln if state.tracking_uri is None else f"{kiln} --tracking-uri {quote(uri)}"
        prefix = esc(prefix)
        out.print("Look at it:")
        out.print(f"  {prefix} runs show {run.run_id}", soft_wrap=True)
        out.print(f"  {prefix} models versions {MODEL_NAME}", soft_wrap=True)
        if no_wait:
            out.print("Stopping the server (--no-wait).")
            return
        request = result.request
        out.print("\nThe model is being served. Score trips yourself:")
        out.print(
            f"  {esc(result.server.curl(request.content_type, request.read_body()))}",
            soft_wrap=True,
        )
        out.print("Press Ctrl-C to stop the server.")
        try:
            while result.server.alive():
                time.sleep(0.5)  # waiting for the user, not ordering anything
            out.print("[red]The scoring server exited.[/]")
            raise click.exceptions.Exit(1)
        except KeyboardInterrupt:
            out.print("Stopping the server.")


__all__ = ["demo"]
