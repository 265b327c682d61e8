"""Request metrics in the Prometheus text format, without a client library.

``RequestMetrics`` counts requests by (route, method, status), records latency in
a histogram by (route, method), and counts errors (status >= 400) by error class
(4xx/5xx; ``client_abort`` for status 499, a client that hung up mid-request).
Route labels are route templates, never raw paths, so label
cardinality stays bounded. Each worker process keeps its own numbers.

Collectors add gauges read at scrape time: ``pool_collectors(store)`` gives the
SQLAlchemy connection pool of a SQL store (connections checked out, pool size,
overflow in use, idle), so pool exhaustion shows before requests time out.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A collector returns exposition lines (HELP/TYPE included), read at each scrape.
Collector = Callable[[], list[str]]

CLIENT_ABORT = 499  # nginx's "client closed request": counted, never sent
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}"


@dataclass
class RequestMetrics:
    """Thread-safe counters; ``render()`` gives the text exposition (version 0.0.4)."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _errors: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _buckets: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    _sums: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    collectors: list[Collector] = field(default_factory=list)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(route, method, str(status))] += 1
            if status == CLIENT_ABORT:
                self._errors[(route, method, "client_abort")] += 1
            elif status >= 400:
                self._errors[(route, method, f"{status // 100}xx")] += 1
            counts = self._buckets.setdefault((route, method), [0] * (len(LATENCY_BUCKETS) + 1))
            counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._sums[(route, method)] += seconds

    def render(self) -> str:
        lines = [
            "# HELP kiln_http_requests_total HTTP requests by route, method and status.",
            "# TYPE kiln_http_requests_total counter",
        ]
        with self._lock:
            for (route, method, status), n in sorted(self._requests.items()):
                labels = _labels(route=route, method=method, status=status)
                lines.append(f"kiln_http_requests_total{labels} {n}")
            lines += [
                "# HELP kiln_http_errors_total HTTP answers with status >= 400, by class.",
                "# TYPE kiln_http_errors_total counter",
            ]
            for (route, method, kind), n in sorted(self._errors.items()):
                lines.append(
                    f"kiln_http_errors_total{_labels(route=route, method=method, kind=kind)} {n}"
                )
            lines += [
                "# HELP kiln_http_request_duration_seconds Time to answer, by route and method.",
                "# TYPE kiln_http_request_duration_seconds histogram",
            ]
            for (route, method), counts in sorted(self._buckets.items()):
                running = 0
                for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                    running += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    labels = _labels(route=route, method=method, le=le)
                    lines.append(f"kiln_http_request_duration_seconds_bucket{labels} {running}")
                base = _labels(route=route, method=method)
                lines.append(
                    f"kiln_http_request_duration_seconds_sum{base} {self._sums[(route, method)]}"
                )
                lines.append(f"kiln_http_request_duration_seconds_count{base} {running}")
        for collect in self.collectors:
            lines += collect()
        return "\n".join(lines) + "\n"


_POOL_GAUGES = (
    ("kiln_db_pool_checked_out", "Database connections in use now.", "checkedout"),
    ("kiln_db_pool_size", "Connections the pool keeps open (pool_size).", "size"),
    (
        "kiln_db_pool_overflow",
        "Connections open beyond pool_size now (negative while the pool is not full).",
        "overflow",
    ),
    ("kiln_db_pool_checked_in", "Idle connections in the pool.", "checkedin"),
)


def pool_collectors(store: object) -> list[Collector]:
    """Gauges of the SQLAlchemy pool behind ``store.engine``; none for other stores
    (memory, file, REST) or pools without counters (in-memory SQLite's StaticPool)."""
    engine: Any = getattr(store, "engine", None)
    pool: Any = getattr(engine, "pool", None)
    if pool is None or not all(callable(getattr(pool, m, None)) for _, _, m in _POOL_GAUGES):
        return []
    labels = _labels(backend=str(engine.dialect.name))

    def collect() -> list[str]:
        lines: list[str] = []
        for name, help_text, method in _POOL_GAUGES:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines.append(f"{name}{labels} {int(getattr(pool, method)())}")
        return lines

    return [collect]


class MetricsMiddleware:
    """ASGI middleware feeding ``RequestMetrics``; unmatched paths count as ``<unmatched>``."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, names: dict[int, str]) -> None:
        """``names`` maps ``id(endpoint)`` of each route to its label (the route template)."""
        self.app = app
        self.metrics = metrics
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            name = self.names.get(id(scope.get("endpoint")), "<unmatched>")
            self.metrics.observe(name, scope["method"], status, time.perf_counter() - start)


__all__ = [
    "CLIENT_ABORT",
    "LATENCY_BUCKETS",
    "Collector",
    "MetricsMiddleware",
    "RequestMetrics",
    "pool_collectors",
]
