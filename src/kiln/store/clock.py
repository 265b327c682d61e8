"""The stores' wall clock: milliseconds since the epoch, as MLflow stores times.

Stores take a ``Clock`` so that tests can inject one; this is the default.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A store's source of "now", in milliseconds since the epoch.
Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


__all__ = ["Clock", "wall_clock_ms"]
