"""Prometheus metrics of one scoring process, rendered in the text exposition format.

Kept in plain dicts (no client library): a request costs one dict lookup and a
``bisect``. With ``--workers N`` each process counts its own requests, so a
scrape sees the process that answered it (label ``pid`` tells them apart).

    kiln_scoring_requests_total{route,status}
    kiln_scoring_request_duration_seconds{route,status}   histogram
    kiln_scoring_errors_total{route,error}                error = the error class
    kiln_scoring_predicted_rows_total
    kiln_scoring_model_info{name,version}                 1
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(slots=True)
class _Histogram:
    counts: list[int]
    total: float = 0.0
    count: int = 0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass(slots=True)
class ScoringMetrics:
    """Request counts, latency histograms, errors and rows of one process."""

    model_name: str = ""
    model_version: str = ""
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    rows: int = 0
    _latency: dict[tuple[str, int], _Histogram] = field(default_factory=dict)
    _errors: dict[tuple[str, str], int] = field(default_factory=dict)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request on ``route`` (a route template) and its latency."""
        key = (route, status)
        hist = self._latency.get(key)
        if hist is None:
            hist = self._latency[key] = _Histogram([0] * (len(self.buckets) + 1))
        hist.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        hist.total += seconds
        hist.count += 1

    def error(self, route: str, kind: str) -> None:
        """Count one refused or failed request by error class name."""
        key = (route, kind)
        self._errors[key] = self._errors.get(key, 0) + 1

    def add_rows(self, rows: int) -> None:
        """Count rows predicted."""
        self.rows += rows

    def render(self) -> str:
        """The exposition text (``text/plain; version=0.0.4``)."""
        pid = str(os.getpid())
        info = _labels(name=self.model_name, version=self.model_version, pid=pid)
        out = [
            "# HELP kiln_scoring_model_info The model this process serves.",
            "# TYPE kiln_scoring_model_info gauge",
            f"kiln_scoring_model_info{{{info}}} 1",
            "# HELP kiln_scoring_requests_total Requests answered, by route and status.",
            "# TYPE kiln_scoring_requests_total counter",
        ]
        items = sorted(self._latency.items())
        for (route, status), hist in items:
            labels = _labels(route=route, status=str(status))
            out.append(f"kiln_scoring_requests_total{{{labels}}} {hist.count}")
        out += [
            "# HELP kiln_scoring_request_duration_seconds Time to answer, by route and status.",
            "# TYPE kiln_scoring_request_duration_seconds histogram",
        ]
        for (route, status), hist in items:
            labels = _labels(route=route, status=str(status))
            running = 0
            for bound, count in zip(self.buckets, hist.counts, strict=False):
                running += count
                le = _number(bound)
                out.append(
                    f'kiln_scoring_request_duration_seconds_bucket{{{labels},le="{le}"}} {running}'
                )
            out.append(
                f'kiln_scoring_request_duration_seconds_bucket{{{labels},le="+Inf"}} {hist.count}'
            )
            out.append(f"kiln_scoring_request_duration_seconds_sum{{{labels}}} {hist.total!r}")
            out.append(f"kiln_scoring_request_duration_seconds_count{{{labels}}} {hist.count}")
        out += [
            "# HELP kiln_scoring_errors_total Requests refused or failed, by route and error.",
            "# TYPE kiln_scoring_errors_total counter",
        ]
        for (route, kind), count in sorted(self._errors.items()):
            out.append(f"kiln_scoring_errors_total{{{_labels(route=route, error=kind)}}} {count}")
        out += [
            "# HELP kiln_scoring_predicted_rows_total Rows the model predicted.",
            "# TYPE kiln_scoring_predicted_rows_total counter",
            f"kiln_scoring_predicted_rows_total {self.rows}",
        ]
        return "\n".join(out) + "\n"


__all__ = ["DEFAULT_BUCKETS", "ScoringMetrics"]
