"""Did a run reproduce? The metric-by-metric verdict ``kiln reproduce`` prints.

Each metric's latest value in the original run is compared with the reproduced
run's. A pair passes when

    |original - reproduced| <= tolerance * max(1, |original|)

that is, an absolute tolerance for values below 1 in magnitude and a relative one
above (so ``1e-9`` accepts float noise at any scale, and ``0`` demands equality).
NaN matches NaN and an infinity matches the same infinity, since a metric that
was NaN before and is NaN again did reproduce. A metric on one side only fails:
a run that stops logging a metric (or starts logging a new one) behaves
differently.

``lock_differences`` compares two environment locks (``kiln/environment.lock``),
for a reproduction that runs in the current environment instead of rebuilding
the recorded one: each difference is a warning, since it may explain a metric
that moved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from kiln.errors import InvalidInput
from kiln.projects.envs import parse_lock

DEFAULT_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """One metric, original against reproduced (None: not logged on that side)."""

    key: str
    original: float | None
    reproduced: float | None
    passed: bool

    @property
    def abs_diff(self) -> float | None:
        """``|original - reproduced|``; 0 for NaN against NaN; None when one side is missing."""
        if self.original is None or self.reproduced is None:
            return None
        if math.isnan(self.original) and math.isnan(self.reproduced):
            return 0.0
        if self.original == self.reproduced:  # equal infinities: inf - inf is NaN
            return 0.0
        return abs(self.original - self.reproduced)


@dataclass(frozen=True, slots=True)
class MetricsComparison:
    """Every metric of either run, sorted by key, and the tolerance used."""

    metrics: tuple[MetricComparison, ...]
    tolerance: float

    @property
    def passed(self) -> bool:
        """True when every metric passed (also when neither run logged any)."""
        return all(m.passed for m in self.metrics)

    @property
    def failed(self) -> tuple[MetricComparison, ...]:
        return tuple(m for m in self.metrics if not m.passed)


def check_tolerance(tolerance: float) -> float:
    """``tolerance`` if it is a finite number >= 0.

    Raises:
        InvalidInput: negative, NaN or infinite.
    """
    if not math.isfinite(tolerance) or tolerance < 0:
        raise InvalidInput(
            f"the tolerance must be a finite number >= 0, got {tolerance!r}; "
            f"pass e.g. --tolerance {DEFAULT_TOLERANCE:g}"
        )
    return tolerance


def values_match(original: float, reproduced: float, tolerance: float) -> bool:
    """The rule in the module docstring, for two logged values."""
    if math.isnan(original) or math.isnan(reproduced):
        return math.isnan(original) and math.isnan(reproduced)
    if math.isinf(original) or math.isinf(reproduced):
        return original == reproduced
    return abs(original - reproduced) <= tolerance * max(1.0, abs(original))


def compare_metrics(
    original: Mapping[str, float],
    reproduced: Mapping[str, float],
    tolerance: float = DEFAULT_TOLERANCE,
) -> MetricsComparison:
    """Compare the latest values of two runs' metrics, key by key.

    Args:
        original: metric key -> latest value of the original run.
        reproduced: the same for the reproduction.
        tolerance: see the module docstring.

    Raises:
        InvalidInput: a negative or non-finite tolerance.
    """
    check_tolerance(tolerance)
    rows = []
    for key in sorted({*original, *reproduced}):
        before = original.get(key)
        after = reproduced.get(key)
        passed = before is not None and after is not None and values_match(before, after, tolerance)
        rows.append(MetricComparison(key, before, after, passed))
    return MetricsComparison(tuple(rows), tolerance)


def lock_differences(recorded: str, current: str) -> list[str]:
    """What differs between a recorded environment lock and the current one, one line each.

    Raises:
        InvalidInput: either lock is malformed (``kiln.projects.envs.parse_lock``).
    """
    old_python, old_pins = parse_lock(recorded)
    new_python, new_pins = parse_lock(current)
    lines = []
    if old_python != new_python:
        lines.append(f"python: {old_python} recorded, {new_python} here")
    before, after = dict(old_pins), dict(new_pins)
    for name in sorted({*before, *after}):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if new is None:
            lines.append(f"{name}: {old} recorded, not installed here")
        elif old is None:
            lines.append(f"{name}: not recorded, {new} installed here")
        else:
            lines.append(f"{name}: {old} recorded, {new} here")
    return lines


__all__ = [
    "DEFAULT_TOLERANCE",
    "MetricComparison",
    "MetricsComparison",
    "check_tolerance",
    "compare_metrics",
    "lock_differences",
    "values_match",
]
