"""MLflow's fluent run functions beyond logging: ``kiln.get_artifact_uri``,
``kiln.last_active_run``, ``kiln.delete_tag``, ``kiln.log_table``, ``kiln.log_image``, ...

Like the rest of the fluent API they act on ``run_id``, else the active run, else a
new run (as MLflow does); the process-wide state stays in ``kiln.tracking.fluent``.
pandas, numpy and Pillow load only in the calls that need them.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.entities import Run
from kiln.errors import InvalidInput
from kiln.tracking import fluent, system_tags

if TYPE_CHECKING:
    import pandas as pd

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # MLflow's list of a run's tables
_TABLE_SUFFIXES = (".json", ".parquet")


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact URI, or that of ``artifact_path`` under it."""
    client, run_id = fluent._target(None)
    root = client.get_run(run_id).info.artifact_uri
    return posixpath.join(root, artifact_path) if artifact_path else root


def last_active_run() -> Run | None:
    """The active run (read again from the store), else the last run this thread ended."""
    active = fluent.active_run()
    last: str | None = getattr(fluent._state._local, "last_run_id", None)  # set by end_run
    run_id = active.info.run_id if active is not None else last
    return fluent.get_run(run_id) if run_id else None


def delete_tag(key: str) -> None:
    """Delete a tag of the active run. Raises NotFound when the run has no such tag."""
    client, run_id = fluent._target(None)
    client.delete_tag(run_id, key)


def delete_run(run_id: str) -> None:
    """Move a run to the deleted stage (restorable, as in MLflow)."""
    fluent._client().delete_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The run whose nested run ``run_id`` is (its ``mlflow.parentRunId`` tag), or None."""
    parent = fluent.get_run(run_id).data.tags.get(system_tags.PARENT_RUN_ID)
    return fluent.get_run(parent) if parent else None


def _table_frame(data: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, dict):
        raise InvalidInput("log_table needs a pandas DataFrame or a dict of columns")
    try:
        return pd.DataFrame(data)
    except ValueError:  # all scalars: one row, as MLflow reads it
        return pd.DataFrame([data])


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a table as ``.json`` (pandas' split layout) or ``.parquet``, as MLflow does.

    Logging to an existing table appends the rows; the run's
    ``mlflow.loggedArtifacts`` tag lists the table so MLflow's UI shows it.

    Raises:
        InvalidInput: another extension, or data that is not a frame or a dict.
    """
    import pandas as pd

    if not artifact_file.endswith(_TABLE_SUFFIXES):
        raise InvalidInput(
            f"cannot log the table {artifact_file!r}: its name must end in .json or .parquet"
        )
    frame = _table_frame(data)
    client, target = fluent._target(run_id)
    folder = posixpath.dirname(posixpath.normpath(artifact_file)) or None
    with tempfile.TemporaryDirectory(prefix="kiln-table-") as tmp:
        if artifact_file in {f.path for f in client.list_artifacts(target, folder)}:
            old = Path(client.download_artifacts(target, artifact_file, tmp))
            previous = (
                pd.read_json(old, orient="split")
                if artifact_file.endswith(".json")
                else pd.read_parquet(old)
            )
            frame = pd.concat([previous, frame], ignore_index=True)
        local = Path(tmp) / "table" / posixpath.basename(artifact_file)
        local.parent.mkdir()
        if artifact_file.endswith(".json"):
            frame.to_json(local, orient="split", index=False, date_format="iso")
        else:
            frame.to_parquet(local, index=False)
        client.log_artifact(target, local, folder)
    tags = fluent.get_run(target).data.tags
    listed = json.loads(tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in listed:
        client.set_tag(target, LOGGED_ARTIFACTS_TAG, json.dumps([*listed, entry]))


def _pil_image(image: Any) -> Any:
    """A PIL image from a PIL image or a numpy array (floats in [0, 1] or 0-255 ints)."""
    import numpy as np
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if not isinstance(image, np.ndarray):
        raise InvalidInput(
            f"log_image needs a numpy array or a PIL image, not a {type(image).__name__}"
        )
    array = image
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidInput(
            f"cannot log an image of shape {image.shape}: use (H, W), (H, W, 1), "
            "(H, W, 3) or (H, W, 4)"
        )
    if array.dtype.kind == "f":
        if array.min() < 0 or array.max() > 1:
            raise InvalidInput("a float image's values must be within [0, 1]")
        array = array * 255
    elif array.dtype.kind in "iu":
        if array.min() < 0 or array.max() > 255:
            raise InvalidInput("an integer image's values must be within [0, 255]")
    elif array.dtype.kind != "b":
        raise InvalidInput(f"cannot log an image of dtype {array.dtype}")
    return Image.fromarray(np.asarray(array * (255 if array.dtype.kind == "b" else 1), np.uint8))


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """Save ``image`` (numpy array or PIL image) as the artifact ``artifact_file``, in
    the format its extension names (PNG for ``.png``), as MLflow 2 did.

    Raises:
        InvalidInput: no ``artifact_file`` (MLflow's time-stepped ``key``/``step``
            images are not supported yet), or an image Kiln cannot convert.
    """
    if artifact_file is None:
        raise InvalidInput(
            "log_image needs artifact_file: time-stepped images (key=, step=) are not "
            "supported by Kiln yet"
        )
    if any(arg is not None for arg in (key, step, timestamp)):
        raise InvalidInput("pass artifact_file, or key with step and timestamp, not both")
    picture = _pil_image(image)
    client, target = fluent._target(None)
    with tempfile.TemporaryDirectory(prefix="kiln-image-") as tmp:
        local = Path(tmp) / posixpath.basename(artifact_file)
        try:
            picture.save(local)
        except (KeyError, ValueError) as exc:  # Pillow knows no such extension
            raise InvalidInput(f"cannot save an image as {artifact_file!r}: {exc}") from exc
        folder = posixpath.dirname(posixpath.normpath(artifact_file)) or None
        client.log_artifact(target, local, folder)


__all__ = [
    "LOGGED_ARTIFACTS_TAG",
    "delete_run",
    "delete_tag",
    "get_artifact_uri",
    "get_parent_run",
    "last_active_run",
    "log_image",
    "log_table",
]
