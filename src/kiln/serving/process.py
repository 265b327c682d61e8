"""The scoring process: ``python -m kiln.serving --model-path DIR --name NAME ...``.

``kiln models serve`` resolves the model URI to a local folder (which may need the
tracking store and SQLAlchemy) and then replaces itself with this process, so the
process that answers requests never loaded the tracking store. The bearer token
is read from a file (never from the command line, where ``ps`` would show it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiln.config import split_list
from kiln.serving.app import DEFAULT_MAX_BODY_BYTES, create_scoring_app, scoring_guard
from kiln.serving.budget import DEFAULT_MAX_INFLIGHT_BYTES
from kiln.serving.model import ScoringModel

INFLIGHT_ENV = "KILN_SERVING_MAX_INFLIGHT_BYTES"


def parser() -> argparse.ArgumentParser:
    """The scoring process's options (the CLI passes them through)."""
    p = argparse.ArgumentParser(prog="python -m kiln.serving", description=__doc__)
    p.add_argument("--model-path", required=True, help="Local model folder (with MLmodel).")
    p.add_argument("--name", required=True, help="Model name the V2 routes answer to.")
    p.add_argument("--version", default=None, help="Model version the V2 routes report.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--auth-token-file", default=None, help="File holding the bearer token.")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument(
        "--max-inflight-bytes",
        type=int,
        default=int(os.environ.get(INFLIGHT_ENV, DEFAULT_MAX_INFLIGHT_BYTES)),
        help=f"Budget of large request bodies held at once per worker (503 beyond it); "
        f"default ${INFLIGHT_ENV} or {DEFAULT_MAX_INFLIGHT_BYTES}.",
    )
    p.add_argument(
        "--allowed-hosts",
        default="",
        help="Comma-separated Host patterns to accept besides loopback and the bound address "
        "('*' for any; the default when bound to every interface).",
    )
    p.add_argument(
        "--cors-allowed-origins",
        default="",
        help="Comma-separated web origins whose pages may POST to this server.",
    )
    p.add_argument(
        "--model-threads",
        type=int,
        default=1,
        help="OpenMP/BLAS threads per worker (threadpoolctl); 0 leaves the libraries' default.",
    )
    p.add_argument("--log-level", default="info")
    return p


def read_token(path: str | None) -> str | None:
    """The token in ``path`` (surrounding whitespace stripped), or None without a file.

    Raises:
        ValueError: the file is empty.
    """
    if path is None:
        return None
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"the auth token file {path} is empty")
    return token


def load_local_model(path: str) -> ScoringModel:
    """Load the model folder with ``kiln.models.pyfunc``."""
    from kiln.models.pyfunc import load_model

    model: Any = load_model(path)
    return model  # type: ignore[no-any-return]


def limit_threads(threads: int) -> None:
    """Cap the native thread pools of every worker (set before the fork, inherited by each).

    Serving answers many small requests: a thread team per call costs more than it
    saves (a HistGradientBoosting row: 80 ms with two contended threads, 10 ms with
    one), and N workers x all-cores threads oversubscribe the machine.
    """
    if threads <= 0:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # no numeric library that uses native thread pools
        return
    threadpool_limits(limits=threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model once, then serve it in ``--workers`` processes."""
    from kiln.serving.runner import serve

    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    token = read_token(args.auth_token_file)
    model = load_local_model(args.model_path)
    limit_threads(args.model_threads)

    def build() -> Any:
        return create_scoring_app(
            model,
            name=args.name,
            version=args.version,
            auth_token=token,
            max_body_bytes=args.max_body_bytes,
            max_inflight_bytes=args.max_inflight_bytes,
            guard=scoring_guard(
                args.host, split_list(args.allowed_hosts), split_list(args.cors_allowed_origins)
            ),
        )

    def bound(port: int) -> None:
        logging.getLogger("kiln.serving").info(
            "serving model %s on http://%s:%d (pid %d, %d worker(s))",
            args.name,
            args.host,
            port,
            os.getpid(),
            args.workers,
        )
        sys.stderr.flush()

    serve(
        build,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        on_bound=bound,
    )
    return 0


__all__ = ["limit_threads", "load_local_model", "main", "parser", "read_token"]
