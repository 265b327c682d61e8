"""The demo training job: ElasticNet on wine quality, tracked through a ``KilnClient``.

One parent run (``wine-elasticnet``) in experiment ``kiln-demo`` holds one nested
run per (alpha, l1_ratio) candidate. Each candidate is fitted by coordinate
descent one pass ("epoch") at a time with a warm start, so its ``train_rmse`` and
``val_rmse`` histories show the fit converging. The parent gets the best
candidate's metrics, a residual plot, the coefficients as JSON, a text summary and
the fitted model under ``model/``.

Core code: takes its client and settings as arguments, prints nothing.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.demo.dataset import FEATURES, TARGET, load_wine_quality
from kiln.entities import LifecycleStage, Metric, Param, RunStatus, RunTag
from kiln.errors import Conflict
from kiln.tracking.client import KilnClient
from kiln.tracking.system_tags import NOTE, PARENT_RUN_ID, RUN_NAME, resolve_system_tags

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

EXPERIMENT_NAME = "kiln-demo"
PARENT_RUN_NAME = "wine-elasticnet"
DEFAULT_GRID: tuple[tuple[float, float], ...] = (
    (0.01, 0.2),
    (0.01, 0.8),
    (0.1, 0.2),
    (0.1, 0.8),
    (0.5, 0.5),
)
DEMO_TAG = "kiln.demo"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One nested run: its hyper-parameters and final validation metrics."""

    run_id: str
    alpha: float
    l1_ratio: float
    rmse: float
    mae: float
    r2: float


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What ``run_demo`` logged, for the caller to report."""

    experiment_id: str
    parent_run_id: str
    best: Candidate
    candidates: tuple[Candidate, ...]
    artifact_uri: str
    rows: int


@dataclass(frozen=True, slots=True)
class _Split:
    x_train: np.ndarray[Any, Any]
    x_test: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]


def _experiment_id(client: KilnClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return client.create_experiment(name, tags={DEMO_TAG: "true"})
    if experiment.lifecycle_stage is LifecycleStage.DELETED:
        raise Conflict(
            f"the experiment {name!r} is deleted; restore it with "
            f"`kiln experiments restore {experiment.experiment_id}` and run the demo again"
        )
    return experiment.experiment_id


def _rmse(y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]) -> float:
    import numpy as np

    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def _fit_candidate(
    client: KilnClient,
    experiment_id: str,
    parent_run_id: str,
    split: _Split,
    alpha: float,
    l1_ratio: float,
    epochs: int,
    seed: int,
) -> tuple[Candidate, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import ElasticNet
    from sklearn.metrics import mean_absolute_error, r2_score

    name = f"alpha={alpha:g} l1_ratio={l1_ratio:g}"
    tags = resolve_system_tags({RUN_NAME: name, PARENT_RUN_ID: parent_run_id, DEMO_TAG: "true"})
    run = client.create_run(experiment_id, tags=tags, run_name=name)
    run_id = run.info.run_id
    try:
        # One coordinate-descent pass per fit call; warm_start continues from the last one.
        model = ElasticNet(
            alpha=alpha, l1_ratio=l1_ratio, max_iter=1, tol=0.0, warm_start=True, random_state=seed
        )
        history: list[Metric] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for epoch in range(1, epochs + 1):
                model.fit(split.x_train, split.y_train)
                now = client.now()
                train = _rmse(split.y_train, model.predict(split.x_train))
                val = _rmse(split.y_test, model.predict(split.x_test))
                history += [
                    Metric("train_rmse", train, now, epoch),
                    Metric("val_rmse", val, now, epoch),
                ]
        predicted = model.predict(split.x_test)
        final = Candidate(
            run_id=run_id,
            alpha=alpha,
            l1_ratio=l1_ratio,
            rmse=_rmse(split.y_test, predicted),
            mae=float(mean_absolute_error(split.y_test, predicted)),
            r2=float(r2_score(split.y_test, predicted)),
        )
        now = client.now()
        history += [
            Metric("rmse", final.rmse, now, epochs),
            Metric("mae", final.mae, now, epochs),
            Metric("r2", final.r2, now, epochs),
        ]
        params = [
            Param("alpha", str(alpha)),
            Param("l1_ratio", str(l1_ratio)),
            Param("epochs", str(epochs)),
            Param("max_iter_per_epoch", "1"),
        ]
        client.log_batch(run_id, metrics=history, params=params)
        client.set_terminated(run_id, RunStatus.FINISHED)
    except BaseException:
        client.set_terminated(run_id, RunStatus.FAILED)
        raise
    return final, model


def _residual_figure(y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.add_subplot()
    axes.scatter(y_pred, y_true - y_pred, s=6, alpha=0.35)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("predicted quality")
    axes.set_ylabel("residual (true - predicted)")
    axes.set_title("ElasticNet residuals on the held-out wines")
    figure.tight_layout()
    return figure


def _summary_text(result_rows: int, best: Candidate, candidates: Sequence[Candidate]) -> str:
    lines = [
        "Kiln demo: ElasticNet on UCI wine quality (red + white)",
        f"rows: {result_rows}, features: {len(FEATURES)}, target: {TARGET}",
        "",
        "candidate                      rmse     mae      r2",
    ]
    for c in candidates:
        mark = "  <- best" if c.run_id == best.run_id else ""
        lines.append(
            f"alpha={c.alpha:<6g} l1_ratio={c.l1_ratio:<6g}  "
            f"{c.rmse:.4f}  {c.mae:.4f}  {c.r2:.4f}{mark}"
        )
    lines += ["", "Data: P. Cortez et al. (2009), UCI Machine Learning Repository, CC BY 4.0."]
    return "\n".join(lines) + "\n"


def run_demo(
    client: KilnClient,
    *,
    experiment_name: str = EXPERIMENT_NAME,
    grid: Sequence[tuple[float, float]] = DEFAULT_GRID,
    epochs: int = 15,
    seed: int = 42,
    test_size: float = 0.2,
) -> DemoResult:
    """Train the candidates in ``grid`` and log everything to ``client``'s store.

    Returns:
        The ids and metrics of what was logged.

    Raises:
        Conflict: the demo experiment exists but is deleted.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from kiln.models.mlmodel import ModelMetadata
    from kiln.models.signature import infer_signature
    from kiln.models.sklearn import save_model as save_sklearn_model

    frame = load_wine_quality()
    x = frame[list(FEATURES)].astype("float64")
    y = frame[TARGET].to_numpy(dtype=float)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed
    )
    # Fitted on the DataFrame, the scaler records the column names, so the served
    # pipeline checks them and the signature comes from real inputs.
    scaler = StandardScaler().fit(x_train)
    split = _Split(scaler.transform(x_train), scaler.transform(x_test), y_train, y_test)

    experiment_id = _experiment_id(client, experiment_name)
    tags = resolve_system_tags(
        {
            RUN_NAME: PARENT_RUN_NAME,
            DEMO_TAG: "true",
            NOTE: "ElasticNet grid on the UCI wine-quality data; nested runs are candidates.",
        }
    )
    parent = client.create_run(experiment_id, tags=tags, run_name=PARENT_RUN_NAME)
    parent_id = parent.info.run_id
    try:
        client.log_batch(
            parent_id,
            params=[
                Param("dataset", "uci-wine-quality"),
                Param("rows", str(len(frame))),
                Param("features", str(len(FEATURES))),
                Param("test_size", str(test_size)),
                Param("seed", str(seed)),
                Param("epochs", str(epochs)),
                Param("candidates", str(len(grid))),
            ],
        )
        candidates: list[Candidate] = []
        models: dict[str, Any] = {}
        for alpha, l1_ratio in grid:
            candidate, model = _fit_candidate(
                client, experiment_id, parent_id, split, alpha, l1_ratio, epochs, seed
            )
            candidates.append(candidate)
            models[candidate.run_id] = model
            # The parent's candidate_rmse history: one point per candidate, in grid order.
            client.log_metric(parent_id, "candidate_rmse", candidate.rmse, step=len(candidates))
        best = min(candidates, key=lambda c: c.rmse)
        best_model = models[best.run_id]
        now = client.now()
        client.log_batch(
            parent_id,
            metrics=[
                Metric("best_rmse", best.rmse, now, 0),
                Metric("best_mae", best.mae, now, 0),
                Metric("best_r2", best.r2, now, 0),
            ],
            params=[
                Param("best_alpha", str(best.alpha)),
                Param("best_l1_ratio", str(best.l1_ratio)),
            ],
            tags=[RunTag("best_run_id", best.run_id)],
        )
        predicted = best_model.predict(split.x_test)
        client.log_figure(parent_id, _residual_figure(split.y_test, predicted), "residuals.png")
        coefficients = {
            name: float(value)
            for name, value in sorted(
                zip(FEATURES, best_model.coef_, strict=True), key=lambda item: -abs(item[1])
            )
        }
        client.log_dict(
            parent_id,
            {
                "model": "ElasticNet",
                "alpha": best.alpha,
                "l1_ratio": best.l1_ratio,
                "intercept": float(best_model.intercept_),
                "coefficients_on_standardized_features": coefficients,
            },
            "feature_importance.json",
        )
        client.log_text(parent_id, _summary_text(len(frame), best, candidates), "summary.txt")
        pipeline = Pipeline([("scale", scaler), ("model", best_model)])
        example = x_train.head(5)
        signature = infer_signature(example, pipeline.predict(example))
        with tempfile.TemporaryDirectory(prefix="kiln-demo-") as tmp:
            folder = Path(tmp) / "model"
            save_sklearn_model(
                pipeline,
                folder,
                signature=signature,
                input_example=example,
                metadata=ModelMetadata(run_id=parent_id, artifact_path="model"),
            )
            client.log_artifacts(parent_id, str(folder), "model")
        client.set_terminated(parent_id, RunStatus.FINISHED)
    except KeyboardInterrupt:
        client.set_terminated(parent_id, RunStatus.KILLED)
        raise
    except BaseException:
        client.set_terminated(parent_id, RunStatus.FAILED)
        raise
    return DemoResult(
        experiment_id=experiment_id,
        parent_run_id=parent_id,
        best=best,
        candidates=tuple(candidates),
        artifact_uri=client.get_run(parent_id).info.artifact_uri,
        rows=len(frame),
    )


__all__ = [
    "DEFAULT_GRID",
    "EXPERIMENT_NAME",
    "PARENT_RUN_NAME",
    "Candidate",
    "DemoResult",
    "run_demo",
]
