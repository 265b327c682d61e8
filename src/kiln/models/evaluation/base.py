"""What an evaluation works on and returns: the data split into features and labels,
the model as predict functions, the run it logs to, and MLflow's ``EvaluationResult``.

Kept apart from the metric code so ``kiln.models.evaluation`` imports neither
scikit-learn nor matplotlib until ``evaluate`` runs.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import InvalidInput

PredictFn = Callable[..., Any]


class EvaluationArtifact:
    """A file an evaluation logged: its ``uri`` in the run, and its ``content``.

    MLflow's ``ImageEvaluationArtifact`` answers a PIL image and its
    ``CsvEvaluationArtifact`` a DataFrame; these subclasses do the same, reading the
    bytes kept at logging time (the temporary folder is gone by then).
    """

    def __init__(self, uri: str, data: bytes) -> None:
        self.uri = uri
        self._data = data

    @property
    def content(self) -> Any:
        return self._data

    def save(self, output_artifact_path: str | Path) -> None:
        """Write the artifact's bytes to a local file."""
        Path(output_artifact_path).write_bytes(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri={self.uri!r})"


class ImageEvaluationArtifact(EvaluationArtifact):
    """A PNG plot (confusion matrix, ROC curve, ...)."""

    @property
    def content(self) -> Any:
        from PIL import Image

        return Image.open(io.BytesIO(self._data))


class CsvEvaluationArtifact(EvaluationArtifact):
    """A CSV table (per-class metrics)."""

    @property
    def content(self) -> Any:
        import pandas as pd

        return pd.read_csv(io.BytesIO(self._data))


@dataclass
class EvaluationResult:
    """What ``evaluate`` returns, as MLflow's: ``metrics`` by name, ``artifacts`` by name
    (without the file extension), and the ``run_id`` they were logged to."""

    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, EvaluationArtifact] = field(default_factory=dict)
    run_id: str | None = None

    def __repr__(self) -> str:
        return f"EvaluationResult(metrics={self.metrics!r}, artifacts={sorted(self.artifacts)!r})"


@dataclass
class Dataset:
    """The evaluation data: ``features`` to predict on, ``labels``, and predictions
    already present in the data (``predictions=`` names a column)."""

    features: Any
    labels: Any
    predictions: Any = None


def split_data(
    data: Any,
    targets: Any,
    predictions: str | None,
    feature_names: list[str] | None,
) -> Dataset:
    """Features, labels and given predictions out of a DataFrame (``targets`` and
    ``predictions`` name columns) or an array (``targets`` is the label array)."""
    import numpy as np
    import pandas as pd

    if targets is None:
        raise InvalidInput("evaluate needs targets: the label column, or the label array.")
    if isinstance(data, pd.DataFrame):
        if not isinstance(targets, str) or targets not in data.columns:
            raise InvalidInput(f"targets={targets!r} is not a column of the data.")
        drop = [targets]
        given = None
        if predictions is not None:
            if predictions not in data.columns:
                raise InvalidInput(f"predictions={predictions!r} is not a column of the data.")
            drop.append(predictions)
            given = data[predictions].to_numpy()
        features: Any = data.drop(columns=drop)
        if feature_names is not None:
            features = features[list(feature_names)]
        return Dataset(features, data[targets].to_numpy(), given)
    if isinstance(data, (np.ndarray, list)):
        features = np.asarray(data)
        labels = np.asarray(targets)
        if features.ndim != 2 or labels.ndim != 1 or len(labels) != len(features):
            raise InvalidInput(
                "An array's data must be 2-D and its targets a 1-D array of the same length; "
                f"got shapes {features.shape} and {labels.shape}."
            )
        if feature_names is not None:
            return Dataset(pd.DataFrame(features, columns=list(feature_names)), labels)
        return Dataset(features, labels)
    raise InvalidInput(
        f"evaluate takes a pandas DataFrame or a numpy array as data, not {type(data).__name__}."
    )


@dataclass
class Predictor:
    """The model as MLflow's evaluator uses it: ``predict``, ``predict_proba`` when the
    underlying scikit-learn model has one, and that model for its ``score``."""

    predict: PredictFn | None
    predict_proba: PredictFn | None = None
    raw_sklearn: Any = None
    model_uuid: str | None = None  # a pyfunc model's, for the mlflow.datasets tag


def resolve_model(model: Any, model_config: Mapping[str, Any] | None) -> Predictor:
    """A ``Predictor`` for a model URI, a loaded ``PyFuncModel``, a callable, or None
    (the data's ``predictions`` are evaluated)."""
    from kiln.models.pyfunc import PyFuncModel, load_model

    if model is None:
        return Predictor(None)
    if isinstance(model, (str, Path)):
        model = load_model(str(model))
    if isinstance(model, PyFuncModel):
        raw = model.unwrap_python_model() if model.loader_module == "mlflow.sklearn" else None
        proba = getattr(raw, "predict_proba", None) if raw is not None else None
        return Predictor(model.predict, proba, raw, model.metadata.model_uuid)
    if callable(model):
        return Predictor(model)
    raise InvalidInput(
        "evaluate takes a model URI (runs:/, models:/, a path), a loaded pyfunc model or a "
        f"callable as model, not {type(model).__name__}."
    )


def to_1d(values: Any) -> Any:
    """A prediction as a 1-D array (a one-column frame or an (n, 1) array included)."""
    import numpy as np
    import pandas as pd

    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise InvalidInput(
                f"The model returned {values.shape[1]} columns; evaluate needs one prediction "
                "per row."
            )
        return values.iloc[:, 0].to_numpy()
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    return array


class Logger:
    """Logs an evaluation's metrics and files to one run, and keeps the artifacts'
    bytes for the result."""

    def __init__(self, run_id: str, prefix: str) -> None:
        self.run_id = run_id
        self.prefix = prefix
        self.artifacts: dict[str, EvaluationArtifact] = {}
        self._dir = tempfile.TemporaryDirectory(prefix="kiln-evaluate-")

    def close(self) -> None:
        self._dir.cleanup()

    def _log(self, name: str, path: Path, kind: type[EvaluationArtifact]) -> None:
        from kiln.tracking import fluent
        from kiln.tracking.fluent_artifacts import log_artifact

        log_artifact(path, run_id=self.run_id)
        base = fluent.get_run(self.run_id).info.artifact_uri.rstrip("/")
        self.artifacts[name] = kind(f"{base}/{path.name}", path.read_bytes())

    def log_plot(self, name: str, draw: Callable[[], None]) -> None:
        """Draw with matplotlib (Agg) and log ``<prefix><name>.png``."""
        import matplotlib
        from matplotlib import pyplot

        path = Path(self._dir.name) / f"{self.prefix}{name}.png"
        pyplot.clf()
        try:
            with matplotlib.rc_context(PLOT_STYLE):
                draw()
                pyplot.savefig(path, bbox_inches="tight")
        finally:
            pyplot.close("all")
        self._log(name, path, ImageEvaluationArtifact)

    def log_image(self, name: str, save: Callable[[Path], None]) -> None:
        """Log ``<prefix><name>.png`` that ``save`` writes at the path it is given (a
        figure drawn without pyplot's current figure, e.g. the SHAP plots)."""
        path = Path(self._dir.name) / f"{self.prefix}{name}.png"
        save(path)
        self._log(name, path, ImageEvaluationArtifact)

    def log_csv(self, name: str, frame: Any) -> None:
        """Log a DataFrame as ``<name>.csv`` (MLflow puts no prefix on it)."""
        path = Path(self._dir.name) / f"{name}.csv"
        frame.to_csv(path, index=False)
        self._log(name, path, CsvEvaluationArtifact)


# MLflow's default evaluator's matplotlib settings.
PLOT_STYLE: Any = {
    "figure.dpi": 175,
    "figure.figsize": [6.0, 4.0],
    "figure.autolayout": True,
    "font.size": 8,
}
