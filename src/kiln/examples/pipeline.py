"""One example through the whole lifecycle: train, register, serve, query.

``run_example`` runs the example as a project (``kiln.projects.runner``, the local
environment), reads its main metric from the run, registers ``runs:/<id>/model``
as a new version of ``example-<name>`` with the alias ``champion``, serves
``models:/example-<name>@champion`` in a real ``kiln models serve`` process with
token auth, checks that a request without the token gets 401, sends every
reference request and checks each answer (``kiln.examples.checks``), measures
the predict latency, and stops the server. Any failure becomes the result's
``reason``; ``run_example`` itself only raises on Ctrl-C.

Core code: it reports progress through a callback and prints nothing.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.entities import RunStatus
from kiln.errors import AnswerMismatch, ExampleFailed, KilnError
from kiln.examples.catalog import Example, ReferenceRequest
from kiln.examples.checks import check_answer
from kiln.examples.scoring import ScoringServer, serve_model

if TYPE_CHECKING:
    import httpx

    from kiln.config import Settings

CHAMPION = "champion"
LATENCY_SAMPLES = 7
STDERR_TAIL_TAG = "kiln.project.stderrTail"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """What happened to one example. ``passed`` is False with a ``reason`` otherwise;
    ``skipped`` examples were not run (``reason`` says why)."""

    name: str
    passed: bool
    seconds: float
    reason: str | None = None
    skipped: bool = False
    run_id: str | None = None
    metric_name: str | None = None
    metric: float | None = None
    model_name: str | None = None
    model_version: str | None = None
    latency_ms: float | None = None
    server: ScoringServer | None = None


@dataclass(frozen=True, slots=True)
class _Progress:
    name: str
    report: Progress | None

    def __call__(self, message: str) -> None:
        if self.report is not None:
            self.report(f"{self.name}: {message}")


def model_name_for(example: Example) -> str:
    """The registered model an example's runs become versions of."""
    return f"example-{example.name}"


def train(
    example: Example,
    *,
    tracking_uri: str,
    settings: Settings,
    experiment_name: str,
    progress: Progress | None = None,
) -> tuple[str, float]:
    """Run the example as a project; its run id and main metric.

    Raises:
        ExampleFailed: the run did not finish, or did not log the main metric.
    """
    from kiln.projects.runner import run_project
    from kiln.tracking.client import KilnClient

    done = run_project(
        str(example.root),
        settings=settings,
        parameters=dict(example.parameters),
        env_manager="local",
        experiment_name=experiment_name,
        tracking_uri=tracking_uri,
        progress=progress,
    )
    run = KilnClient.from_uri(tracking_uri, settings).get_run(done.run_id)
    if done.status is not RunStatus.FINISHED:
        tail = run.data.tags.get(STDERR_TAIL_TAG, "").strip().splitlines()
        last = tail[-1] if tail else "no stderr"
        raise ExampleFailed(
            f"training {done.status.name.lower()} (exit code {done.exit_code}): {last}"
        )
    logged = run.data.metrics.get(example.metric.name)
    if logged is None:
        raise ExampleFailed(
            f"the run logged no {example.metric.name!r} metric (kiln-example.yaml's main metric)"
        )
    return done.run_id, logged


def register(
    example: Example, run_id: str, *, tracking_uri: str, settings: Settings, model_name: str
) -> str:
    """Register the run's model as a new version of ``model_name``, alias ``champion``."""
    from kiln.models.registration import logged_model_locator, register_through
    from kiln.registry.service import RegistryService
    from kiln.store.open import open_registry_store
    from kiln.tracking.client import KilnClient

    client = KilnClient.from_uri(tracking_uri, settings)
    service = RegistryService(
        open_registry_store(tracking_uri, workspace=settings.workspace),
        tracking=client.store,
        logged_models=logged_model_locator(tracking_uri, settings.workspace),
        artifact_options=client.artifact_options,
    )
    uri = f"runs:/{run_id}/model"
    version = register_through(service, client, tracking_uri, uri, model_name, run_id=run_id)
    service.set_registered_model_alias(model_name, CHAMPION, version.version)
    return str(version.version)


def http_client() -> httpx.Client:
    """A keep-alive client with TCP_NODELAY: without it, a body written after its headers
    waits for the server's delayed ACK (~40 ms) and the latency measures the kernel."""
    import socket

    import httpx

    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    return httpx.Client(timeout=60.0, transport=httpx.HTTPTransport(socket_options=options))


def send(client: httpx.Client, server: ScoringServer, request: ReferenceRequest) -> list[float]:
    """Send one reference request with the token; the checked predictions.

    Raises:
        ExampleFailed: the answer is not what the request expects.
    """
    response = client.post(
        server.invocations_url,
        content=request.read_body(),
        headers=server.headers(request.content_type),
    )
    try:
        return check_answer(response.status_code, response.content, request.predictions)
    except AnswerMismatch as exc:
        raise ExampleFailed(f"request {request.name!r}: {exc.message}") from None


def query(server: ScoringServer, example: Example) -> float:
    """Check auth and every reference request; the median predict latency in ms.

    Raises:
        ExampleFailed: a request without the token was not refused with 401, or an
            answer was wrong.
    """
    first = example.requests[0]
    body, headers = first.read_body(), server.headers(first.content_type)
    with http_client() as client:
        anonymous = client.post(
            server.invocations_url, content=body, headers={"Content-Type": first.content_type}
        )
        if anonymous.status_code != 401:
            raise ExampleFailed(f"a request without the token got {anonymous.status_code}, not 401")
        for request in example.requests:
            send(client, server, request)
        timings: list[float] = []
        for _ in range(LATENCY_SAMPLES):
            started = time.perf_counter()
            response = client.post(server.invocations_url, content=body, headers=headers)
            timings.append((time.perf_counter() - started) * 1000.0)
            if response.status_code != 200:
                raise ExampleFailed(f"request {first.name!r} got {response.status_code}")
    return statistics.median(timings)


def run_example(
    example: Example,
    *,
    tracking_uri: str,
    settings: Settings,
    experiment_name: str | None = None,
    model_name: str | None = None,
    keep_serving: contextlib.ExitStack | None = None,
    progress: Progress | None = None,
) -> ExampleResult:
    """Take ``example`` through the lifecycle (module docstring).

    ``settings`` is the configuration the caller read at the edge (``Settings.from_env()``).
    With ``keep_serving``, the server is left running and its stop is pushed on that
    stack (the caller closes it); the result then carries the server.
    """
    started = time.perf_counter()
    say = _Progress(example.name, progress)
    model = model_name or model_name_for(example)
    experiment = experiment_name or f"examples-{example.name}"
    run_id: str | None = None
    metric: float | None = None
    version: str | None = None
    latency: float | None = None
    server: ScoringServer | None = None

    def result(passed: bool, reason: str | None = None) -> ExampleResult:
        return ExampleResult(
            name=example.name,
            passed=passed,
            seconds=time.perf_counter() - started,
            reason=reason,
            run_id=run_id,
            metric_name=example.metric.name,
            metric=metric,
            model_name=model,
            model_version=version,
            latency_ms=latency,
            server=server,
        )

    try:
        say(f"training (experiment {experiment})")
        run_id, metric = train(
            example,
            tracking_uri=tracking_uri,
            settings=settings,
            experiment_name=experiment,
            progress=say,
        )
        say(f"run {run_id}: {example.metric.name} = {metric:.4g}")
        version = register(
            example, run_id, tracking_uri=tracking_uri, settings=settings, model_name=model
        )
        say(f"registered {model} version {version} as @{CHAMPION}")
        with contextlib.ExitStack() as stack:
            prefix = f"kiln-example-{example.name}-"
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
            say("starting kiln models serve")
            running = stack.enter_context(
                serve_model(
                    f"models:/{model}@{CHAMPION}", tracking_uri=tracking_uri, workdir=workdir
                )
            )
            say(f"serving on {running.url}; sending {len(example.requests)} reference requests")
            latency = query(running, example)
            if keep_serving is not None:
                keep_serving.push(stack.pop_all())
                server = running
            else:
                say("stopping the server")
    except KilnError as exc:
        return result(False, exc.message)
    except Exception as exc:  # a release check reports every failure and goes on
        return result(False, f"{type(exc).__name__}: {exc}")
    return result(True)


def skipped(example: Example, reason: str) -> ExampleResult:
    """The result for an example that was not run."""
    return ExampleResult(name=example.name, passed=True, seconds=0.0, reason=reason, skipped=True)


__all__ = [
    "CHAMPION",
    "ExampleResult",
    "http_client",
    "model_name_for",
    "query",
    "register",
    "run_example",
    "send",
    "skipped",
    "train",
]
