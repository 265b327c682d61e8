"""The stores' wall clock: milliseconds since the epoch, as MLflow stores times.

Stores take a ``Clock`` so that tests can inject one; this is the default.
"""

from __future__ import annotations

import time


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


__all__ = ["wall_clock_ms"]
