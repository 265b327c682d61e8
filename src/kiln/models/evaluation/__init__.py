"""kiln.models.evaluation: MLflow's ``evaluate`` for regressors and classifiers, and
model validation against thresholds (``validate_evaluation_results``).

``evaluate`` (``kiln.models.evaluation.api``) logs the metrics and plots of MLflow's
default evaluator under its names; scikit-learn and matplotlib are imported only
when it runs.
"""

from __future__ import annotations

from kiln.models.evaluation.api import evaluate
from kiln.models.evaluation.base import (
    CsvEvaluationArtifact,
    EvaluationArtifact,
    EvaluationResult,
    ImageEvaluationArtifact,
)
from kiln.models.evaluation.validation import (
    MetricThreshold,
    ModelValidationFailedException,
    validate_evaluation_results,
)

__all__ = [
    "CsvEvaluationArtifact",
    "EvaluationArtifact",
    "EvaluationResult",
    "ImageEvaluationArtifact",
    "MetricThreshold",
    "ModelValidationFailedException",
    "evaluate",
    "validate_evaluation_results",
]
