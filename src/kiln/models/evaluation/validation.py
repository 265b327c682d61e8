"""Model validation, as MLflow's ``validate_evaluation_results``: a candidate's metrics
against fixed thresholds, and against a baseline's metrics by a minimum absolute or
relative change. A pipeline gates deployment on the ``ModelValidationFailedException``
it raises, whose message names every failed check with both values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiln.errors import InvalidInput, ModelValidationFailed
from kiln.models.evaluation.base import EvaluationResult

ModelValidationFailedException = ModelValidationFailed  # MLflow's name for it

_EPSILON = 1e-10  # MLflow's "strictly better" margin for a relative change on a zero baseline


def _number(value: Any) -> bool:
    return type(value) in (int, float)


class MetricThreshold:
    """The bar one metric must clear (MLflow's ``MetricThreshold``).

    Args:
        threshold: the value the metric must reach (>= when greater is better, else <=).
        min_absolute_change: a positive number the candidate must beat the baseline by.
        min_relative_change: a float in [0, 1]: the candidate must beat the baseline by
            this share of the baseline's magnitude.
        greater_is_better: required; whether a greater value is better.

    Raises:
        InvalidInput: a value of the wrong type or range, or no threshold at all.
    """

    def __init__(
        self,
        threshold: float | None = None,
        min_absolute_change: float | None = None,
        min_relative_change: float | None = None,
        greater_is_better: bool | None = None,
    ) -> None:
        def bad(why: str) -> InvalidInput:
            return InvalidInput(f"Could not instantiate MetricThreshold class: {why}")

        if threshold is not None and not _number(threshold):
            raise bad("`threshold` parameter must be a number.")
        if min_absolute_change is not None and (
            not _number(min_absolute_change) or min_absolute_change <= 0
        ):
            raise bad("`min_absolute_change` parameter must be a positive number.")
        if min_relative_change is not None:
            if not isinstance(min_relative_change, float):
                raise bad("`min_relative_change` parameter must be a floating point number.")
            if not 0 <= min_relative_change <= 1:
                raise bad("`min_relative_change` parameter must be between 0 and 1.")
        if not isinstance(greater_is_better, bool):
            raise bad("`greater_is_better` parameter must be a boolean.")
        if threshold is None and min_absolute_change is None and min_relative_change is None:
            raise bad("no threshold was specified.")
        self.threshold = threshold
        self.min_absolute_change = min_absolute_change
        self.min_relative_change = min_relative_change
        self.greater_is_better = greater_is_better

    def __str__(self) -> str:
        parts = []
        if self.threshold is not None:
            parts.append(f"Threshold: {self.threshold}.")
        if self.min_absolute_change is not None:
            parts.append(f"Minimum Absolute Change: {self.min_absolute_change}.")
        if self.min_relative_change is not None:
            parts.append(f"Minimum Relative Change: {self.min_relative_change}.")
        parts.append(
            "Greater value is better." if self.greater_is_better else "Lower value is better."
        )
        return " ".join(parts)


def _failures(name: str, bar: MetricThreshold, candidate: Any, baseline: Any) -> list[str]:
    """What ``candidate`` fails of ``bar`` (MLflow's wording), or nothing."""
    if candidate is None:
        return [
            f"Metric validation failed: metric {name} was missing from the evaluation result "
            "of the candidate model."
        ]

    def better(value: Any, bound: Any) -> bool:
        return bool(value >= bound) if bar.greater_is_better else bool(value <= bound)

    sign = 1 if bar.greater_is_better else -1
    out = []
    if bar.threshold is not None and not better(candidate, bar.threshold):
        out.append(
            f"Metric {name} value threshold check failed: candidate model {name} = "
            f"{candidate}, {name} threshold = {bar.threshold}."
        )
    if bar.min_absolute_change is None and bar.min_relative_change is None:
        return out
    if baseline is None:
        return [
            *out,
            f"Model comparison failed: metric {name} was missing from the evaluation result "
            "of the baseline model.",
        ]
    values = f"candidate model {name} = {candidate}, baseline model {name} = {baseline}"
    change = bar.min_absolute_change
    if change is not None and not better(candidate, baseline + sign * change):
        out.append(
            f"Metric {name} minimum absolute change check failed: {values}, {name} minimum "
            f"absolute change threshold = {change}."
        )
    relative = bar.min_relative_change
    if relative is not None:
        if baseline == 0:
            short = not better(candidate, baseline + sign * _EPSILON)
        else:
            short = sign * (candidate - baseline) / abs(baseline) < relative
        if short:
            out.append(
                f"Metric {name} minimum relative change check failed: {values}, {name} "
                f"minimum relative change threshold = {relative}."
            )
    return out


def validate_evaluation_results(
    validation_thresholds: Mapping[str, MetricThreshold],
    candidate_result: EvaluationResult,
    baseline_result: EvaluationResult | None = None,
) -> None:
    """Check the candidate's metrics against ``validation_thresholds`` (and the
    baseline's metrics, for the change thresholds).

    Raises:
        InvalidInput: the thresholds are not a dict of names to ``MetricThreshold``.
        ModelValidationFailedException: a check failed; the message lists each one.
    """
    if not isinstance(validation_thresholds, Mapping) or not all(
        isinstance(k, str) and isinstance(v, MetricThreshold)
        for k, v in validation_thresholds.items()
    ):
        raise InvalidInput(
            "The validation thresholds argument must be a dictionary that maps strings to "
            "MetricThreshold objects."
        )
    candidate = candidate_result.metrics
    baseline = baseline_result.metrics if baseline_result is not None else {}
    failed = [
        message
        for name, bar in validation_thresholds.items()
        for message in _failures(name, bar, candidate.get(name), baseline.get(name))
    ]
    if failed:
        raise ModelValidationFailedException("\n".join(failed))
