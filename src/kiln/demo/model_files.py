"""Write a scikit-learn model folder (``model.pkl`` + ``MLmodel``) for the demo.

This is deliberately minimal: Kiln's full model format (signatures, environments,
its own flavors) comes later. The ``MLmodel`` written here uses MLflow's field
names (``python_function`` with ``loader_module: mlflow.sklearn`` and the
``sklearn`` flavor with ``serialization_format: pickle``), so
``mlflow.pyfunc.load_model`` can load the folder (MLflow asks for
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`` before unpickling anything).
"""

from __future__ import annotations

import pickle
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_FILE = "model.pkl"
MLMODEL_FILE = "MLmodel"


def mlmodel_document(
    run_id: str, artifact_path: str, sklearn_version: str, created: datetime
) -> dict[str, Any]:
    """The ``MLmodel`` content for a pickled scikit-learn model."""
    return {
        "artifact_path": artifact_path,
        "flavors": {
            "python_function": {
                "data": MODEL_FILE,
                "loader_module": "mlflow.sklearn",
                "predict_fn": "predict",
                "python_version": platform.python_version(),
            },
            "sklearn": {
                "code": None,
                "pickled_model": MODEL_FILE,
                "serialization_format": "pickle",
                "sklearn_version": sklearn_version,
            },
        },
        "run_id": run_id,
        "utc_time_created": created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }


def write_sklearn_model(
    model: Any, folder: Path, run_id: str, artifact_path: str = "model"
) -> Path:
    """Pickle ``model`` and write its ``MLmodel`` into ``folder`` (created if needed).

    Returns:
        ``folder``.
    """
    import sklearn
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / MODEL_FILE).open("wb") as stream:
        pickle.dump(model, stream, protocol=pickle.DEFAULT_PROTOCOL)
    document = mlmodel_document(run_id, artifact_path, sklearn.__version__, datetime.now(UTC))
    (folder / MLMODEL_FILE).write_text(
        yaml.safe_dump(document, default_flow_style=False, sort_keys=False), encoding="utf-8"
    )
    return folder


__all__ = ["MLMODEL_FILE", "MODEL_FILE", "mlmodel_document", "write_sklearn_model"]
