"""The demo: the ``taxi`` example through ``kiln.examples.pipeline``, its server kept up.

``run_demo`` runs the taxi example in experiment ``kiln-demo`` and registers its
model as ``nyc-taxi-duration``; the scoring server it starts stays up until the
caller closes the ``ExitStack`` it passed. Then it scores the example's
``dataframe_split`` request (three trips) itself and returns the trips with their
predicted durations, for the CLI to show.

Core code: it reports progress through a callback and prints nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from kiln.config import Settings
from kiln.errors import DemoFailed
from kiln.examples.catalog import ReferenceRequest, examples_root, load_example
from kiln.examples.pipeline import ExampleResult, http_client, run_example, send
from kiln.examples.scoring import ScoringServer
from kiln.examples.taxi import ZONES

EXAMPLE = "taxi"
EXPERIMENT_NAME = "kiln-demo"
MODEL_NAME = "nyc-taxi-duration"
REQUEST = "dataframe_split"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class ScoredTrip:
    """One trip of the demo request, in words, and the served model's answer."""

    when: str
    pickup: str
    dropoff: str
    passengers: int
    miles: float
    minutes: float


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo did: the example's result (with its running server) and the
    trips it scored through that server."""

    example: ExampleResult
    server: ScoringServer
    request: ReferenceRequest
    trips: tuple[ScoredTrip, ...]


def _zone_name(zone_id: int) -> str:
    return next((z.name for z in ZONES if z.zone_id == zone_id), f"zone {zone_id}")


def _trips(request: ReferenceRequest, minutes: list[float]) -> tuple[ScoredTrip, ...]:
    split = json.loads(request.read_body())["dataframe_split"]
    rows = [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
    return tuple(
        ScoredTrip(
            when=f"{WEEKDAYS[row['pickup_weekday']]} {row['pickup_hour']:02d}:00",
            pickup=_zone_name(row["pickup_zone"]),
            dropoff=_zone_name(row["dropoff_zone"]),
            passengers=int(row["passenger_count"]),
            miles=float(row["trip_distance"]),
            minutes=value,
        )
        for row, value in zip(rows, minutes, strict=True)
    )


def run_demo(
    *,
    tracking_uri: str,
    settings: Settings,
    keep_serving: contextlib.ExitStack,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Train, register, serve and score the taxi example; the server stays in ``keep_serving``.

    Raises:
        DemoFailed: a step failed (the reason is in the message).
        NotFound: the examples (or the taxi example) are not installed.
    """
    example = load_example(examples_root(settings.examples_dir) / EXAMPLE)
    result = run_example(
        example,
        tracking_uri=tracking_uri,
        settings=settings,
        experiment_name=EXPERIMENT_NAME,
        model_name=MODEL_NAME,
        keep_serving=keep_serving,
        progress=progress,
    )
    if not result.passed or result.server is None:
        raise DemoFailed(f"the taxi example failed: {result.reason}")
    request = next((r for r in example.requests if r.name == REQUEST), example.requests[0])
    with http_client() as client:
        minutes = send(client, result.server, request)
    return DemoResult(result, result.server, request, _trips(request, minutes))


__all__ = [
    "EXPERIMENT_NAME",
    "MODEL_NAME",
    "DemoResult",
    "ScoredTrip",
    "run_demo",
]
