"""MLflow's tables: ``log_table`` and ``load_table`` for a given client and run.

A table is a ``.json`` artifact in pandas' split layout or a ``.parquet`` file; logging
to an existing one appends rows, and the run's ``mlflow.loggedArtifacts`` tag lists it
(MLflow's UI and ``load_table`` find tables by that tag). The fluent functions
(``kiln.log_table``) and ``MlflowClient``'s methods both come here.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pandas as pd

    from kiln.tracking.client import KilnClient

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # MLflow's list of a run's tables
_TABLE_SUFFIXES = (".json", ".parquet")


def _frame(data: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, dict):
        raise InvalidInput("log_table needs a pandas DataFrame or a dict of columns")
    try:
        return pd.DataFrame(data)
    except ValueError:  # all scalars: one row, as MLflow reads it
        return pd.DataFrame([data])


def _read(local: str | Path, artifact_file: str) -> pd.DataFrame:
    import pandas as pd

    if artifact_file.endswith(".json"):
        return pd.read_json(local, orient="split")
    return pd.read_parquet(local)


def log_table(client: KilnClient, run_id: str, data: Any, artifact_file: str) -> None:
    """Log (or append to) the table ``artifact_file`` of ``run_id``.

    Raises:
        InvalidInput: another extension, or data that is not a frame or a dict.
    """
    import pandas as pd

    if not artifact_file.endswith(_TABLE_SUFFIXES):
        raise InvalidInput(
            f"cannot log the table {artifact_file!r}: its name must end in .json or .parquet"
        )
    frame = _frame(data)
    folder = posixpath.dirname(posixpath.normpath(artifact_file)) or None
    with tempfile.TemporaryDirectory(prefix="kiln-table-") as tmp:
        if artifact_file in {f.path for f in client.list_artifacts(run_id, folder)}:
            old = client.download_artifacts(run_id, artifact_file, tmp)
            frame = pd.concat([_read(old, artifact_file), frame], ignore_index=True)
        local = Path(tmp) / "table" / posixpath.basename(artifact_file)
        local.parent.mkdir()
        if artifact_file.endswith(".json"):
            frame.to_json(local, orient="split", index=False, date_format="iso")
        else:
            frame.to_parquet(local, index=False)
        client.log_artifact(run_id, local, folder)
    tags = client.get_run(run_id).data.tags
    listed = json.loads(tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in listed:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*listed, entry]))


def load_table(
    client: KilnClient,
    experiment_id: str,
    artifact_file: str,
    run_ids: Sequence[str] | None = None,
    extra_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The table ``artifact_file`` of every run of ``experiment_id`` that logged it (or of
    ``run_ids`` only), concatenated, as MLflow's ``load_table``.

    ``extra_columns`` names columns of ``search_runs``' frame (``run_id``,
    ``params.alpha``, ...) added to each run's rows; a name the table already has gets
    a trailing ``_``, as in MLflow.

    Raises:
        NotFound: no run has the table.
    """
    import pandas as pd

    from kiln.tracking.frames import runs_to_frame

    entry = {"path": artifact_file, "type": "table"}
    having = [
        run
        for run in client.iter_runs([str(experiment_id)])
        if entry in json.loads(run.data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
        and (not run_ids or run.info.run_id in run_ids)
    ]
    tables = []
    for _, row in runs_to_frame(having).iterrows():
        with tempfile.TemporaryDirectory(prefix="kiln-table-") as tmp:
            table = _read(
                client.download_artifacts(row["run_id"], artifact_file, tmp), artifact_file
            )
        for extra in extra_columns or ():
            table[f"{extra}_" if extra in table else extra] = row[extra]
        tables.append(table)
    if not tables:
        raise NotFound(f"no run of experiment {experiment_id} has the table {artifact_file!r}")
    return pd.concat(tables, ignore_index=True)


__all__ = ["LOGGED_ARTIFACTS_TAG", "load_table", "log_table"]
