"""The classifier metrics and artifacts of MLflow's default evaluator, under its names.

Binary: the confusion counts (true_negatives, false_positives, false_negatives,
true_positives), example_count, accuracy/recall/precision/f1 for the positive label,
log_loss, roc_auc and precision_recall_auc (average precision); plots
roc_curve_plot, precision_recall_curve_plot, lift_curve_plot,
calibration_curve_plot and confusion_matrix. Multiclass: the same scores averaged
("weighted" unless ``average`` says otherwise), log_loss and a one-vs-rest roc_auc;
calibration, ROC and precision-recall plots (up to
``max_classes_for_multiclass_roc_pr`` classes, 10), per_class_metrics.csv and
confusion_matrix.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.evaluation import plots
from kiln.models.evaluation.base import Logger


def _common(
    y_true: Any, y_pred: Any, proba: Any, labels: Any, average: str, pos_label: Any, w: Any
) -> dict[str, Any]:
    from sklearn import metrics as sk

    scores: dict[str, Any] = {
        "example_count": len(y_true),
        "accuracy_score": sk.accuracy_score(y_true, y_pred, sample_weight=w),
    }
    for name, fn in (
        ("recall_score", sk.recall_score),
        ("precision_score", sk.precision_score),
        ("f1_score", sk.f1_score),
    ):
        scores[name] = fn(y_true, y_pred, average=average, pos_label=pos_label, sample_weight=w)
    if proba is not None:
        # One class only in y_true: MLflow leaves the metric out.
        with contextlib.suppress(ValueError):
            scores["log_loss"] = sk.log_loss(y_true, proba, labels=labels, sample_weight=w)
    return scores


def binary_metrics(
    y_true: Any, y_pred: Any, proba: Any, labels: Any, pos_label: Any, w: Any
) -> dict[str, Any]:
    """The confusion counts, then the common scores for ``pos_label``."""
    from sklearn import metrics as sk

    tn, fp, fn, tp = sk.confusion_matrix(y_true, y_pred, labels=labels).ravel()
    return {
        "true_negatives": tn,
        "false_positives": fp,
        "false_negatives": fn,
        "true_positives": tp,
        **_common(y_true, y_pred, proba, labels, "binary", pos_label, w),
    }


class ClassifierEvaluation:
    """One classifier evaluation: labels, predictions, probabilities and the config."""

    def __init__(self, y_true: Any, y_pred: Any, proba: Any, config: dict[str, Any]) -> None:
        import numpy as np

        self.y_true = np.asarray(y_true)
        self.y_pred = np.asarray(y_pred)
        self.proba = None if proba is None else np.asarray(proba)
        self.weights = config.get("sample_weights")
        self.config = config
        given = config.get("label_list")
        labels = np.unique(np.concatenate([self.y_true, self.y_pred])) if given is None else given
        labels = np.sort(np.asarray(labels))
        if len(labels) < 2:
            raise InvalidInput(
                f"Evaluation dataset for classification must contain at least two unique labels, "
                f"but only {len(labels)} unique labels were found. Give evaluator_config="
                "{'label_list': [...]} with all possible classes."
            )
        self.pos_label = config.get("pos_label")
        self.pos_index = 1
        if len(labels) == 2:
            if self.pos_label is not None and self.pos_label in labels:
                self.pos_index = int(np.where(labels == self.pos_label)[0][0])
            if self.pos_label is None:
                self.pos_label = labels[-1]
            labels = np.append(labels[labels != self.pos_label], self.pos_label)
        self.labels = labels
        self.binary = len(labels) == 2

    def metrics(self) -> dict[str, Any]:
        """The metrics MLflow's ``ClassifierEvaluator`` logs for this label count."""
        from sklearn import metrics as sk

        if self.binary:
            scores = binary_metrics(
                self.y_true, self.y_pred, self.proba, self.labels, self.pos_label, self.weights
            )
            if self.proba is not None:
                positive = self.proba[:, self.pos_index]
                try:
                    scores["roc_auc"] = sk.roc_auc_score(
                        self.y_true == self.pos_label, positive, sample_weight=self.weights
                    )
                    scores["precision_recall_auc"] = sk.average_precision_score(
                        self.y_true, positive, pos_label=self.pos_label, sample_weight=self.weights
                    )
                except ValueError:  # one class only: MLflow leaves the curves out
                    pass
            return scores
        average = str(self.config.get("average", "weighted"))
        scores = _common(
            self.y_true, self.y_pred, self.proba, self.labels, average, None, self.weights
        )
        if average in ("macro", "weighted") and self.proba is not None:
            scores["roc_auc"] = sk.roc_auc_score(
                self.y_true,
                self.proba,
                sample_weight=self.weights,
                average=average,
                multi_class="ovr",
            )
        return scores

    def log_artifacts(self, logger: Logger) -> None:
        """The plots (and, for several classes, the per-class table), in MLflow's order."""
        if self.binary:
            if self.proba is not None:
                y, p, pos, w = self.y_true, self.proba, self.pos_label, self.weights
                positive = p[:, self.pos_index]
                logger.log_plot(
                    "roc_curve_plot", lambda: plots.binary_curve("roc", y, positive, pos, w)
                )
                logger.log_plot(
                    "precision_recall_curve_plot",
                    lambda: plots.binary_curve("pr", y, positive, pos, w),
                )
                logger.log_plot("lift_curve_plot", lambda: plots.lift_curve(y, p, pos))
                logger.log_plot(
                    "calibration_curve_plot", lambda: plots.calibration_curve(y == pos, positive)
                )
        else:
            self._log_multiclass(logger)
        self._log_confusion_matrix(logger)

    def _log_multiclass(self, logger: Logger) -> None:
        import pandas as pd

        rows = []
        for label in self.labels:
            truth = (self.y_true == label).astype(int)
            guess = (self.y_pred == label).astype(int)
            rows.append(
                {
                    "positive_class": label,
                    **binary_metrics(truth, guess, None, [0, 1], 1, self.weights),
                }
            )
        table = pd.DataFrame(rows)
        proba = self.proba
        if proba is not None:
            logger.log_plot(
                "calibration_curve_plot",
                lambda: plots.multiclass_calibration(self.y_true, proba, self.labels),
            )
            limit = int(self.config.get("max_classes_for_multiclass_roc_pr", 10))
            if len(self.labels) <= limit:
                y, labels, w = self.y_true, self.labels, self.weights
                aucs: dict[str, list[float]] = {}
                for kind, name, column in (
                    ("roc", "roc_curve_plot", "roc_auc"),
                    ("pr", "precision_recall_curve_plot", "precision_recall_auc"),
                ):
                    aucs[column] = plots.one_vs_rest_aucs(kind, y, proba, labels, w)
                    logger.log_plot(
                        name, functools.partial(plots.one_vs_rest_curves, kind, y, proba, labels, w)
                    )
                for column, values in aucs.items():
                    table[column] = values
        logger.log_csv("per_class_metrics", table)

    def _log_confusion_matrix(self, logger: Logger) -> None:
        from sklearn import metrics as sk

        matrix = sk.confusion_matrix(
            self.y_true,
            self.y_pred,
            labels=self.labels,
            normalize="true",
            sample_weight=self.weights,
        )
        size = min(8, math.ceil(50.0 / len(self.labels)))
        logger.log_plot(
            "confusion_matrix", lambda: plots.confusion_matrix(matrix, self.labels, size)
        )
