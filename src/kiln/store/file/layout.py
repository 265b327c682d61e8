"""The ``mlruns`` folder layout: paths, file formats and crash-safe file writes.

This module is the one place that knows what MLflow's own ``FileStore`` (MLflow
3.x, ``mlflow/store/tracking/file_store.py``) writes, so that MLflow reads what
Kiln writes and the other way round::

    <root>/<experiment_id>/meta.yaml          experiment (YAML, keys sorted)
    <root>/<experiment_id>/tags/<key>         experiment tag value (no newline)
    <root>/<experiment_id>/<run_id>/meta.yaml run info (status as an int enum)
    <root>/<experiment_id>/<run_id>/params/<key>   param value (no newline)
    <root>/<experiment_id>/<run_id>/tags/<key>     run tag value (no newline)
    <root>/<experiment_id>/<run_id>/metrics/<key>  "<timestamp> <value> <step>\\n" per point
    <root>/<experiment_id>/<run_id>/artifacts/     default artifact root of the run
    <root>/<experiment_id>/datasets/, <run_id>/inputs/   dataset inputs (kiln.store.file.inputs)
    <root>/.trash/<experiment_id>/...              a deleted experiment, moved whole

Keys containing ``/`` become sub-folders. Folders MLflow 3 adds and Kiln does not
model (``traces``, ``models`` under an experiment; ``outputs`` under a run;
``models`` at the root for the model registry) are left untouched and ignored
when reading.
"""

from __future__ import annotations

import enum
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from kiln.entities import Experiment, LifecycleStage, Metric, RunInfo, RunStatus
from kiln.errors import InvalidInput

TRASH = ".trash"
META = "meta.yaml"
METRICS = "metrics"
PARAMS = "params"
TAGS = "tags"
ARTIFACTS = "artifacts"
# Sub-folders of an experiment folder that are not runs (MLflow's RESERVED_EXPERIMENT_FOLDERS).
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})
# Temp files live in the entity folder itself (never inside params/, tags/ or metrics/,
# where a reader would take a left-over temp file for a key) and start with this prefix.
TEMP_PREFIX = ".kiln-tmp-"


class Absent(enum.Enum):
    """Marks a meta.yaml key to leave out (as opposed to writing ``null``)."""

    ABSENT = "absent"


ABSENT = Absent.ABSENT

# MLflow stores RunStatus as its protobuf enum number in meta.yaml.
_STATUS_TO_INT = {
    RunStatus.RUNNING: 1,
    RunStatus.SCHEDULED: 2,
    RunStatus.FINISHED: 3,
    RunStatus.FAILED: 4,
    RunStatus.KILLED: 5,
}
_INT_TO_STATUS = {number: status for status, number in _STATUS_TO_INT.items()}
_SOURCE_TYPE_LOCAL = 4  # mlflow.entities.SourceType.LOCAL, written for old readers


# -- file I/O -----------------------------------------------------------------------------


def write_atomic(path: Path, text: str, temp_dir: Path | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8, written as is) in one ``os.replace``.

    A reader, or a process that crashed mid-write, sees the old content or the new
    one, never a half-written file. (No fsync: this guards against a crashed
    process, not a lost power supply, like MLflow's own store.) The temp file is
    made in ``temp_dir`` (default: the file's folder), which must be on the same
    filesystem.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = temp_dir if temp_dir is not None else path.parent
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def append_text(path: Path, text: str) -> None:
    """Append ``text`` with one ``write`` on an ``O_APPEND`` descriptor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def read_text(path: Path) -> str:
    """Read a value file exactly (no newline translation), as MLflow's ``read_file``."""
    return path.read_bytes().decode("utf-8")


def iter_key_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(key, path)`` for every file below ``folder``; sub-folders join with ``/``."""
    if not folder.is_dir():
        return
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            full = Path(parent, name)
            yield full.relative_to(folder).as_posix(), full


def check_key_path_free(folder: Path, key: str, kind: str) -> None:
    """Raise if writing file ``folder/key`` would clash with an existing file or folder.

    ``a`` and ``a/b`` cannot both be keys, because ``a`` would have to be a file and
    a folder at once. Checked before a write so a batch fails before it starts.
    """
    parts = key.split("/")
    current = folder
    for part in parts[:-1]:
        current = current / part
        if current.is_file():
            raise InvalidInput(
                f"{kind} {key!r} cannot be stored: {kind} "
                f"{current.relative_to(folder).as_posix()!r} exists and the mlruns layout "
                "keeps keys as file paths"
            )
    if (folder / key).is_dir():
        raise InvalidInput(
            f"{kind} {key!r} cannot be stored: keys below {key + '/'!r} exist and the "
            "mlruns layout keeps keys as file paths"
        )


# -- YAML ---------------------------------------------------------------------------------


def dump_yaml(data: Mapping[str, Any]) -> str:
    """YAML text exactly as MLflow's ``write_yaml`` makes it (block style, sorted keys)."""
    return yaml.safe_dump(dict(data), default_flow_style=False, allow_unicode=True, sort_keys=True)


def load_yaml(path: Path) -> dict[str, Any] | None:
    """Parse a meta.yaml; None when it is missing, empty or not a mapping."""
    try:
        text = read_text(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


# -- experiments --------------------------------------------------------------------------


def experiment_to_meta(experiment: Experiment, *, with_tags: bool) -> dict[str, Any]:
    """The experiment meta.yaml mapping MLflow 3 writes.

    MLflow leaves ``tags`` out when it creates an experiment and writes them (as a
    mapping that readers ignore; the ``tags/`` folder is the truth) whenever it
    rewrites the file on rename, delete and restore. ``with_tags`` copies that.
    """
    meta: dict[str, Any] = {
        "artifact_location": experiment.artifact_location,
        "creation_time": experiment.creation_time,
        "effective_trace_archival_retention": None,
        "experiment_id": experiment.experiment_id,
        "last_update_time": experiment.last_update_time,
        "lifecycle_stage": str(experiment.lifecycle_stage),
        "name": experiment.name,
        "trace_location": None,
        "workspace": experiment.workspace,
    }
    if with_tags:
        meta["tags"] = dict(experiment.tags)
    return meta


def experiment_from_meta(
    meta: Mapping[str, Any], tags: dict[str, str], workspace: str
) -> Experiment:
    """Build an Experiment from a meta.yaml mapping (any MLflow version's)."""
    stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
    return Experiment(
        experiment_id=str(meta["experiment_id"]),  # int in MLflow < 1.0
        name=str(meta.get("name", "")),
        artifact_location=str(meta.get("artifact_location") or ""),
        lifecycle_stage=LifecycleStage(stage),
        creation_time=_optional_int(meta.get("creation_time")),
        last_update_time=_optional_int(meta.get("last_update_time")),
        tags=tags,
        workspace=workspace,
    )


# -- runs ---------------------------------------------------------------------------------


def run_info_to_meta(info: RunInfo, deleted_time: int | Absent | None = ABSENT) -> dict[str, Any]:
    """The run meta.yaml mapping MLflow writes (``_make_persisted_run_info_dict``).

    ``deleted_time``: MLflow writes ``deleted_time: null`` when it creates a run,
    the deletion time when it deletes one, and no key at all on every other
    rewrite; pass None, an int, or leave the default ``ABSENT``.
    """
    meta: dict[str, Any] = {
        "artifact_uri": info.artifact_uri,
        "end_time": info.end_time,
        "entry_point_name": "",
        "experiment_id": info.experiment_id,
        "lifecycle_stage": str(info.lifecycle_stage),
        "run_id": info.run_id,
        "run_name": info.run_name,
        "source_name": "",
        "source_type": _SOURCE_TYPE_LOCAL,
        "source_version": "",
        "start_time": info.start_time,
        "status": _STATUS_TO_INT[info.status],
        "tags": [],
        "user_id": info.user_id,
    }
    if deleted_time is not ABSENT:
        meta["deleted_time"] = deleted_time
    return meta


def run_info_from_meta(meta: Mapping[str, Any], workspace: str) -> RunInfo:
    """Build a RunInfo from a run meta.yaml (any MLflow version's).

    Old files use ``run_uuid``, store ints for experiment ids, may lack
    ``lifecycle_stage``, ``status`` or ``run_name``; the name then comes from the
    ``mlflow.runName`` tag (the caller fills it in).
    """
    run_id = meta.get("run_id") or meta.get("run_uuid")
    if not run_id:
        raise KeyError("run_id")
    stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
    return RunInfo(
        run_id=str(run_id),
        experiment_id=str(meta["experiment_id"]),
        run_name=str(meta.get("run_name") or ""),
        user_id=str(meta.get("user_id") or ""),
        status=_status_from_meta(meta.get("status")),
        start_time=_optional_int(meta.get("start_time")) or 0,
        end_time=_optional_int(meta.get("end_time")),
        artifact_uri=str(meta.get("artifact_uri") or ""),
        lifecycle_stage=LifecycleStage(stage),
        workspace=workspace,
    )


def _status_from_meta(value: object) -> RunStatus:
    if value is None:
        return RunStatus.RUNNING
    if isinstance(value, int):
        return _INT_TO_STATUS.get(value, RunStatus.RUNNING)
    return RunStatus(str(value).upper())


def _optional_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(value)  # type: ignore[call-overload,no-any-return]


# -- metrics ------------------------------------------------------------------------------


def format_metric_line(metric: Metric) -> str:
    """``"<timestamp> <value> <step>\\n"`` with the value as Python's ``str(float)``.

    That is what MLflow writes (``nan``, ``inf``, ``-inf``, ``1e+20``, ``3.0``) and
    it round-trips every float exactly.
    """
    return f"{metric.timestamp} {float(metric.value)!r} {metric.step}\n"


def parse_metric_line(key: str, line: str) -> Metric | None:
    """Parse one metric line; None for a blank or torn line.

    MLflow accepts 2 fields (``timestamp value``, step 0), 3, or 5 (dataset name
    and digest appended). MLflow 3.x reads step 0 from 5-field lines, which loses
    the step it wrote; Kiln reads the third field whenever there is one.
    """
    parts = line.split()
    if len(parts) < 2:
        return None
    try:
        timestamp = int(parts[0])
        value = float(parts[1])
        step = int(parts[2]) if len(parts) >= 3 else 0
    except ValueError:
        return None
    return Metric(key=key, value=value, timestamp=timestamp, step=step)


__all__ = [
    "ABSENT",
    "Absent",
    "ARTIFACTS",
    "META",
    "METRICS",
    "PARAMS",
    "RESERVED_EXPERIMENT_FOLDERS",
    "TAGS",
    "TEMP_PREFIX",
    "TRASH",
    "append_text",
    "check_key_path_free",
    "dump_yaml",
    "experiment_from_meta",
    "experiment_to_meta",
    "format_metric_line",
    "iter_key_files",
    "load_yaml",
    "parse_metric_line",
    "read_text",
    "run_info_from_meta",
    "run_info_to_meta",
    "write_atomic",
]
