"""``kiln demo``: run the wine-quality training job and show where it went."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import click

from kiln.cli.render import console, esc, table
from kiln.cli.state import CliState, pass_state


def _store_folder(uri: str) -> str | None:
    """The local folder holding a sqlite database or mlruns store, if there is one."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite" and ":///" in uri:
        return str(Path(uri.split(":///", 1)[1]).expanduser().resolve().parent)
    if parsed.scheme == "file":
        return str(Path(unquote(parsed.path)).resolve())
    if parsed.scheme == "" or len(parsed.scheme) == 1:
        return str(Path(uri).expanduser().resolve())
    return None


@click.command(
    epilog="""\b
Examples:
  kiln demo
  kiln --tracking-uri sqlite:///demo.db demo
  kiln demo --epochs 30
"""
)
@click.option(
    "--epochs",
    type=click.IntRange(1, 200),
    default=15,
    show_default=True,
    help="Coordinate-descent passes per candidate (one metric point each).",
)
@pass_state
def demo(state: CliState, epochs: int) -> None:
    """Train ElasticNet on the UCI wine-quality data and track it.

    Creates experiment 'kiln-demo' with a parent run 'wine-elasticnet' and one
    nested run per (alpha, l1_ratio) candidate, with metric histories, a residual
    plot, coefficients as JSON, a summary and the model. Data: P. Cortez et al.
    (2009), UCI Machine Learning Repository, CC BY 4.0.
    """
    from kiln.demo.job import EXPERIMENT_NAME, run_demo

    out = console()
    uri = state.resolved_uri()
    started = time.perf_counter()
    with out.status("Training ElasticNet candidates on 6,497 wines..."):
        result = run_demo(state.client(), epochs=epochs)
    elapsed = time.perf_counter() - started

    rows = [
        (
            c.run_id,
            f"{c.alpha:g}",
            f"{c.l1_ratio:g}",
            f"{c.rmse:.4f}",
            f"{c.mae:.4f}",
            f"{c.r2:.4f}",
            "*" if c.run_id == result.best.run_id else "",
        )
        for c in result.candidates
    ]
    out.print(
        table(
            "Candidates (nested runs)",
            ("Run ID", "alpha", "l1_ratio", "rmse", "mae", "r2", ""),
            rows,
        )
    )
    folder = _store_folder(uri)
    summary = [
        ("tracking URI", uri),
        *([("store folder", folder)] if folder else []),
        ("experiment", f"{EXPERIMENT_NAME} (id {result.experiment_id})"),
        ("parent run", result.parent_run_id),
        ("best run", result.best.run_id),
        (
            "best rmse / mae / r2",
            f"{result.best.rmse:.4f} / {result.best.mae:.4f} / {result.best.r2:.4f}",
        ),
        ("artifacts", result.artifact_uri),
        ("rows", f"{result.rows:,}"),
        ("wall time", f"{elapsed:.1f}s"),
    ]
    out.print(table("Kiln demo", ("", ""), summary))
    prefix = "kiln" if state.tracking_uri is None else f"kiln --tracking-uri {esc(uri)}"
    out.print("Look at it:")
    for command in (
        f"runs list --experiment-name {EXPERIMENT_NAME}",
        f"runs show {result.parent_run_id}",
        f"runs show {result.best.run_id}",
    ):
        out.print(f"  {prefix} {command}", soft_wrap=True)


__all__ = ["demo"]
