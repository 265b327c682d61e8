"""Runs -> the pandas DataFrame ``search_runs`` returns, column for column as MLflow.

Columns: ``run_id``, ``experiment_id``, ``status``, ``artifact_uri``, ``start_time``,
``end_time`` (UTC datetimes), then ``metrics.<key>`` (latest value, NaN when absent),
``params.<key>`` and ``tags.<key>`` (None when absent). pandas is imported here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kiln.entities import Run

if TYPE_CHECKING:
    import pandas as pd

INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run, in the given order."""
    import pandas as pd

    data: dict[str, list[Any]] = {name: [] for name in INFO_COLUMNS}
    metrics: dict[str, list[Any]] = {}
    params: dict[str, list[Any]] = {}
    tags: dict[str, list[Any]] = {}
    for index, run in enumerate(runs):
        info = run.info
        data["run_id"].append(info.run_id)
        data["experiment_id"].append(info.experiment_id)
        data["status"].append(str(info.status))
        data["artifact_uri"].append(info.artifact_uri)
        data["start_time"].append(info.start_time)
        data["end_time"].append(info.end_time)
        values = run.data.metrics
        for columns, row, missing in (
            (metrics, values, float("nan")),
            (params, run.data.params, None),
            (tags, run.data.tags, None),
        ):
            for key in row.keys() - columns.keys():
                columns[key] = [missing] * index
            for key, column in columns.items():
                column.append(row.get(key, missing))
    frame_data: dict[str, Any] = dict(data)
    for prefix, columns in (("metrics.", metrics), ("params.", params), ("tags.", tags)):
        for key in sorted(columns):
            frame_data[prefix + key] = columns[key]
    frame = pd.DataFrame(frame_data)
    for name in ("start_time", "end_time"):
        frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
    return frame


__all__ = ["INFO_COLUMNS", "runs_to_frame"]
