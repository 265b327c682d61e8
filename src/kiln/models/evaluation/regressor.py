"""The regressor metrics of MLflow's default evaluator, under its names."""

from __future__ import annotations

from typing import Any


def regressor_metrics(y_true: Any, y_pred: Any, sample_weights: Any = None) -> dict[str, Any]:
    """example_count, the error metrics, the target's sum and mean, r2_score and
    max_error, computed as MLflow's ``RegressorEvaluator`` does (scikit-learn)."""
    import numpy as np
    from sklearn import metrics as sk

    y = np.asarray(y_true)
    weights = None if sample_weights is None else np.asarray(sample_weights)
    total = (y * weights).sum() if weights is not None else y.sum()
    return {
        "example_count": len(y),
        "mean_absolute_error": sk.mean_absolute_error(y, y_pred, sample_weight=weights),
        "mean_squared_error": sk.mean_squared_error(y, y_pred, sample_weight=weights),
        "root_mean_squared_error": float(
            np.sqrt(sk.mean_squared_error(y, y_pred, sample_weight=weights))
        ),
        "sum_on_target": total,
        "mean_on_target": total / len(y),
        "r2_score": sk.r2_score(y, y_pred, sample_weight=weights),
        "max_error": sk.max_error(y, y_pred),
        "mean_absolute_percentage_error": sk.mean_absolute_percentage_error(
            y, y_pred, sample_weight=weights
        ),
    }
