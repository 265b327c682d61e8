"""``kiln models serve`` and ``kiln models predict``.

``serve`` resolves the model URI to a local folder here (``models:/`` and ``runs:/``
URIs need the tracking store), then replaces this process with the scoring
process (``python -m kiln.serving``), which loads the folder and never imports
the tracking store or SQLAlchemy. ``predict`` scores a file in chunks with a
progress bar.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kiln.cli.render import console, esc
from kiln.cli.state import CliState, pass_state


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model URI made local: its folder and the name/version the server reports."""

    path: Path
    name: str
    version: str | None


def resolve_model(state: CliState, model_uri: str, name: str | None) -> ResolvedModel:
    """The local folder of ``model_uri``, and its name (registered name, else folder name).

    Raises:
        NotFound / InvalidUri: from ``kiln.models.resolve.download_model``.
    """
    from urllib.parse import urlparse

    from kiln.models.resolve import download_model

    version: str | None = None
    uri = model_uri
    default_name = None
    if urlparse(model_uri).scheme == "models":
        from kiln.registry.uris import parse_model_uri

        parsed = parse_model_uri(model_uri)
        if parsed.name is not None:
            from kiln.cli.models import _service

            found = _service(state).get_version_for_uri(model_uri)
            default_name, version = found.name, str(found.version)
            uri = f"models:/{found.name}/{found.version}"  # pin what the alias meant now
        else:
            default_name = parsed.model_id
    path = download_model(uri, tracking_uri=state.resolved_uri())
    if default_name is None:
        default_name = path.resolve().name
    return ResolvedModel(path, name or default_name, version)


def scoring_argv(
    model: ResolvedModel,
    *,
    host: str,
    port: int,
    workers: int,
    auth_token_file: str | None,
    max_body_mb: float,
    model_threads: int = 1,
) -> list[str]:
    """The command line of the scoring process for ``model``."""
    argv = [sys.executable, "-m", "kiln.serving", "--model-path", str(model.path)]
    argv += ["--name", model.name, "--host", host, "--port", str(port)]
    argv += ["--workers", str(workers), "--max-body-bytes", str(int(max_body_mb * 1024 * 1024))]
    argv += ["--model-threads", str(model_threads)]
    if model.version is not None:
        argv += ["--version", model.version]
    if auth_token_file is not None:
        argv += ["--auth-token-file", auth_token_file]
    return argv


@click.command(
    "serve",
    epilog="""\b
Examples:
  kiln models serve -m models:/wine/1 --port 5001
  kiln models serve -m models:/wine@champion --workers 4 --auth-token-file token.txt
  kiln models serve -m ./mlruns/0/abc/artifacts/model --name wine
""",
)
@click.option("-m", "--model-uri", required=True, metavar="URI", help="Model to serve.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("-p", "--port", default=5000, show_default=True, type=int, help="TCP port.")
@click.option(
    "-w",
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes sharing the port (SO_REUSEPORT).",
)
@click.option("--name", help="Model name for the V2 routes. Default: registered or folder name.")
@click.option(
    "--auth-token-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Require 'Authorization: Bearer <token in this file>' on scoring routes.",
)
@click.option(
    "--max-body-mb",
    default=100.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Larger request bodies are answered 413.",
)
@click.option(
    "--model-threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="OpenMP/BLAS threads per worker. One keeps single-row latency low (a gradient-boosted "
    "model opens a thread team per tree); scale with --workers instead.",
)
@pass_state
def serve(
    state: CliState,
    model_uri: str,
    host: str,
    port: int,
    workers: int,
    name: str | None,
    auth_token_file: str | None,
    max_body_mb: float,
    model_threads: int,
) -> None:
    """Serve a model over HTTP (MLflow /invocations and the Open Inference Protocol)."""
    model = resolve_model(state, model_uri, name)
    argv = scoring_argv(
        model,
        host=host,
        port=port,
        workers=workers,
        auth_token_file=auth_token_file,
        max_body_mb=max_body_mb,
        model_threads=model_threads,
    )
    console().print(f"Serving {esc(model.name)} from {esc(model.path)} on http://{host}:{port}")
    sys.stdout.flush()
    os.execv(sys.executable, argv)


@click.command(
    "predict",
    epilog="""\b
Examples:
  kiln models predict -m models:/wine/1 -i wines.csv -o predictions.csv
  kiln models predict -m ./model -i request.json -o predictions.json
""",
)
@click.option("-m", "--model-uri", required=True, metavar="URI", help="Model to score with.")
@click.option(
    "-i",
    "--input-path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=".csv, .parquet (streamed) or .json (any /invocations body).",
)
@click.option(
    "-o",
    "--output-path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Predictions: .csv, .parquet, else JSON {'predictions': [...]}.",
)
@click.option("--chunk-rows", default=10_000, show_default=True, type=click.IntRange(min=1))
@pass_state
def predict(
    state: CliState, model_uri: str, input_path: Path, output_path: Path, chunk_rows: int
) -> None:
    """Score a file with a model, in chunks."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from kiln.models.pyfunc import load_model
    from kiln.serving.batch import predict_file

    model = load_model(resolve_model(state, model_uri, None).path)
    out = console()
    columns = (TextColumn("scoring"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(*columns, TimeElapsedColumn(), console=out, transient=True) as bar:
        task = bar.add_task("scoring", total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        rows = predict_file(model, input_path, output_path, chunk_rows=chunk_rows, progress=advance)
    out.print(f"Wrote {rows} predictions to {esc(output_path)}")


__all__ = ["ResolvedModel", "predict", "resolve_model", "scoring_argv", "serve"]
