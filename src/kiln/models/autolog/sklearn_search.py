"""What scikit-learn autolog adds for a parameter search (GridSearchCV, RandomizedSearchCV).

As MLflow's autolog: the best estimator as the model ``best_estimator``,
``best_cv_score``, ``best_<param>`` params, ``cv_results.csv`` (``cv_results_``
as a table) and one child run per candidate, for the ``max_tuning_runs`` best
ranked (all when None), each with the seed estimator's params updated by the
candidate's, the row's aggregate numbers as metrics and the parent's tags.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.models.autolog.patching import AUTOLOGGING_TAG, truncate_params, truncate_tags
from kiln.models.autolog.sklearn_content import (
    estimator_tags,
    is_search,
    numeric_row_metrics,
    training_dataset,
)

if TYPE_CHECKING:
    import pandas as pd

    from kiln.models.autolog.sklearn import _Fit

_log = logging.getLogger("kiln.autolog.sklearn")
RANK_COLUMN = "rank_test_score"


def _best_rows(results: pd.DataFrame, max_tuning_runs: int | None) -> pd.DataFrame:
    if max_tuning_runs is None:
        return results
    rank = RANK_COLUMN
    if rank not in results.columns:
        rank = next((str(c) for c in results.columns if "rank_test_" in str(c)), "")
        warnings.warn(
            f"Top {max_tuning_runs} child runs will be created based on ordering in {rank} "
            "column.  You can choose not to limit the number of child runs created by "
            "setting `max_tuning_runs=None`.",
            stacklevel=2,
        )
    kept = results.nsmallest(max_tuning_runs, rank)
    _log.info("logging %d of %d candidates as child runs", len(kept), len(results))
    return kept


def log_child_runs(fit: _Fit, results: pd.DataFrame, X: Any, y: Any) -> None:
    """One finished child run per kept candidate, under the fit's run."""
    from kiln.tracking import fluent

    search = fit.estimator
    seed = search.estimator
    base = seed.get_params(deep=not is_search(seed))
    tags = truncate_tags({AUTOLOGGING_TAG: "sklearn", **estimator_tags(seed)})
    dataset = training_dataset(X, y) if fit.config.log_datasets else None
    for _, row in _best_rows(results, fit.config.max_tuning_runs).iterrows():
        fluent.start_run(nested=True, parent_run_id=fit.run_id, tags=tags)
        try:
            fluent.log_params(truncate_params({**base, **dict(row.get("params", {}))}))
            fluent.log_metrics(numeric_row_metrics(row.to_dict()), step=0)
            if dataset is not None:
                fluent.log_input(dataset, context="train")
        finally:
            fluent.end_run("FINISHED")


def _log_results_table(results: pd.DataFrame, run_id: str) -> None:
    from kiln.tracking import fluent_artifacts

    with tempfile.TemporaryDirectory(prefix="kiln-autolog-") as tmp:
        path = Path(tmp) / "cv_results.csv"
        results.to_csv(path, index=False)
        fluent_artifacts.log_artifact(path, None, run_id=run_id)


def log_search(fit: _Fit, X: Any, y: Any, example: Any, signature: Any) -> None:
    """Everything MLflow logs for a search after its fit (see the module docstring)."""
    import pandas as pd

    search = fit.estimator
    if hasattr(search, "best_estimator_") and fit.config.log_models:
        fit.log_model(search.best_estimator_, "best_estimator", example, signature)
    if hasattr(search, "best_score_"):
        fit.metrics({"best_cv_score": float(search.best_score_)})
    if hasattr(search, "best_params_"):
        fit.params({f"best_{k}": v for k, v in search.best_params_.items()})
    if not hasattr(search, "cv_results_"):
        return
    results = pd.DataFrame.from_dict(search.cv_results_)
    try:
        log_child_runs(fit, results, X, y)
    except Exception as exc:
        _log.warning("child runs of the parameter search may be missing: %s", exc)
    try:
        _log_results_table(results, fit.run_id)
    except Exception as exc:
        _log.warning("cv_results.csv is not logged: %s", exc)


__all__ = ["RANK_COLUMN", "log_child_runs", "log_search"]
