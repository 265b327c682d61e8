"""``kiln models serve`` and ``kiln models predict``.

``serve`` resolves the model URI to a local folder here (``models:/`` and ``runs:/``
URIs need the tracking store), then replaces this process with the scoring
process (``python -m kiln.serving``), which loads the folder and never imports
the tracking store or SQLAlchemy. ``predict`` scores a file in chunks with a
progress bar, into a temporary file beside the output that replaces it only on
success (a failed predict never truncates or creates the output).

A model fetched from a store goes into a ``kiln-model-*`` temporary folder: ``predict``
removes it when it is done, ``serve`` leaves a detached watcher
(``kiln.cli.cleanup``) that removes it when the scoring process exits.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiln.cli.render import console, esc
from kiln.cli.state import CliState, pass_state
from kiln.errors import BadInput, InvalidInput, NotFound, UnsupportedMediaType

if TYPE_CHECKING:
    from kiln.serving.model import ScoringModel


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model URI made local: its folder and the name/version the server reports.

    ``download_dir`` is the temporary folder the model was fetched into (the caller
    removes it), None when the model is used in place.
    """

    path: Path
    name: str
    version: str | None
    download_dir: Path | None = None


def resolve_model(state: CliState, model_uri: str, name: str | None) -> ResolvedModel:
    """The local folder of ``model_uri``, and its name (registered name, else folder name).

    Raises:
        NotFound / InvalidUri: from ``kiln.models.resolve.download_model``; an alias
            the model does not have is NotFound too, like a version it does not have.
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

            try:
                found = _service(state).get_version_for_uri(model_uri)
            except InvalidInput as error:  # the registry answers a missing alias so (MLflow)
                if parsed.alias is None:
                    raise
                raise NotFound(error.message) from None
            default_name, version = found.name, str(found.version)
            uri = f"models:/{found.name}/{found.version}"  # pin what the alias meant now
        else:
            default_name = parsed.model_id
    folder = Path(tempfile.mkdtemp(prefix="kiln-model-"))
    try:
        path = download_model(uri, folder, tracking_uri=state.resolved_uri())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    download_dir: Path | None = folder
    if not path.resolve().is_relative_to(folder.resolve()):  # used in place: nothing fetched
        shutil.rmtree(folder, ignore_errors=True)
        download_dir = None
    if default_name is None:
        default_name = path.resolve().name
    return ResolvedModel(path, name or default_name, version, download_dir)


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once, as the scoring process will, so a busy port is one clear
    error here instead of a traceback after "Serving ...".

    Raises:
        InvalidInput: the port is in use, or ``host`` is not an address of this machine.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OverflowError:
        raise InvalidInput(f"--port {port} is not a TCP port (0-65535)") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"port {port} on {host} is already in use: stop what listens there or "
                "choose another --port"
            ) from None
        raise InvalidInput(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def check_token_file(path: str | None) -> None:
    """An empty ``--auth-token-file`` is refused here, before the scoring process starts.

    Raises:
        InvalidInput: the file is empty or unreadable.
    """
    if path is None:
        return
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read the auth token file {path}: {error}") from None
    if not token:
        raise InvalidInput(
            f"the auth token file {path} is empty: put the token in it, e.g. "
            f"python -c 'import secrets; print(secrets.token_urlsafe(32))' > {path}"
        )


def scoring_argv(
    model: ResolvedModel,
    *,
    host: str,
    port: int,
    workers: int,
    auth_token_file: str | None,
    max_body_mb: float,
    model_threads: int = 1,
    max_inflight_mb: float | None = None,
    allowed_hosts: str | None = None,
    cors_allowed_origins: str | None = None,
) -> list[str]:
    """The command line of the scoring process for ``model``."""
    argv = [sys.executable, "-m", "kiln.serving", "--model-path", str(model.path)]
    argv += ["--name", model.name, "--host", host, "--port", str(port)]
    argv += ["--workers", str(workers), "--max-body-bytes", str(int(max_body_mb * 1024 * 1024))]
    argv += ["--model-threads", str(model_threads)]
    if max_inflight_mb is not None:
        argv += ["--max-inflight-bytes", str(int(max_inflight_mb * 1024 * 1024))]
    if allowed_hosts:
        argv += ["--allowed-hosts", allowed_hosts]
    if cors_allowed_origins:
        argv += ["--cors-allowed-origins", cors_allowed_origins]
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
    "--allowed-hosts",
    metavar="HOSTS",
    help="Comma-separated Host header patterns to accept besides loopback and the bound "
    "address ('*' for any). Bound to 0.0.0.0 every Host is accepted unless this is given.",
)
@click.option(
    "--cors-allowed-origins",
    metavar="ORIGINS",
    help="Comma-separated web origins (https://app.example) whose pages may POST here.",
)
@click.option(
    "--max-inflight-mb",
    type=click.FloatRange(min=0, min_open=True),
    help="Memory budget per worker for large request bodies being scored at once; beyond it "
    "503 with Retry-After. Default: $KILN_SERVING_MAX_INFLIGHT_BYTES or 256 MiB.",
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
    allowed_hosts: str | None,
    cors_allowed_origins: str | None,
    max_inflight_mb: float | None,
    model_threads: int,
) -> None:
    """Serve a model over HTTP (MLflow /invocations and the Open Inference Protocol)."""
    check_token_file(auth_token_file)
    check_port_free(host, port)
    model = resolve_model(state, model_uri, name)
    argv = scoring_argv(
        model,
        host=host,
        port=port,
        workers=workers,
        auth_token_file=auth_token_file,
        max_body_mb=max_body_mb,
        model_threads=model_threads,
        max_inflight_mb=max_inflight_mb,
        allowed_hosts=allowed_hosts,
        cors_allowed_origins=cors_allowed_origins,
    )
    console().print(f"Serving {esc(model.name)} from {esc(model.path)} on http://{host}:{port}")
    sys.stdout.flush()
    if model.download_dir is not None:
        from kiln.cli.cleanup import start_watcher

        start_watcher(os.getpid(), model.download_dir)  # the pid stays ours across execv
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

    from kiln.models.pyfunc import load_model

    if not output_path.parent.is_dir():
        raise InvalidInput(f"the folder of --output-path {output_path} does not exist")
    resolved = resolve_model(state, model_uri, None)
    try:
        model = load_model(resolved.path)
        rows = _score_atomically(model, input_path, output_path, chunk_rows)
    finally:
        if resolved.download_dir is not None:
            shutil.rmtree(resolved.download_dir, ignore_errors=True)
    console().print(f"Wrote {rows} predictions to {esc(output_path)}")


def _score_atomically(model: ScoringModel, input_path: Path, output: Path, chunk_rows: int) -> int:
    """Score into a temporary file beside ``output`` and rename it over ``output`` only
    when every chunk was written: a failure leaves ``output`` as it was.

    Raises:
        InvalidInput: the input cannot be read as model input, or the model raised on it.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from kiln.serving.batch import predict_file

    # Same folder (so the rename is atomic) and same suffix (it picks the output format).
    handle, name = tempfile.mkstemp(
        dir=output.parent, prefix=f".{output.name}.", suffix=output.suffix
    )
    os.close(handle)
    partial = Path(name)
    out = console()
    columns = (TextColumn("scoring"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    try:
        with Progress(*columns, TimeElapsedColumn(), console=out, transient=True) as bar:
            task = bar.add_task("scoring", total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            try:
                rows = predict_file(
                    model, input_path, partial, chunk_rows=chunk_rows, progress=advance
                )
            except (BadInput, UnsupportedMediaType):  # InvalidInput: the input's fault
                raise
            except OSError:  # disk full, permissions: reported by the CLI edge as they are
                raise
            except Exception as error:  # the model's own code raised on this input
                raise InvalidInput(
                    f"the model could not score {input_path}: {type(error).__name__}: {error}"
                ) from None
        umask = os.umask(0)
        os.umask(umask)
        partial.chmod(0o666 & ~umask)  # mkstemp makes it 0600; a plain create would not
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return rows


__all__ = [
    "ResolvedModel",
    "check_port_free",
    "check_token_file",
    "predict",
    "resolve_model",
    "scoring_argv",
    "serve",
]
