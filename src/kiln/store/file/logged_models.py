"""MLflow 3 logged models in an ``mlruns`` folder, in MLflow's file-store layout.

What ``mlflow/store/tracking/file_store.py`` writes, so either reads the other's::

    <root>/<exp>/models/<model_id>/meta.yaml         the model (status as its int code)
    <root>/<exp>/models/<model_id>/tags/<key>        tag value (no newline)
    <root>/<exp>/models/<model_id>/params/<key>      param value
    <root>/<exp>/models/<model_id>/metrics/<key>     "<ts> <value> <step> <run_id>" and
                                                     " <dataset> <digest>" when on a dataset
                                                     (the name may hold spaces)
    <root>/<exp>/<run_id>/outputs/<model_id>/meta.yaml          a run produced the model
    <root>/<exp>/<run_id>/inputs/<md5(model_id+run_id)>/meta.yaml  a run used the model

Run outputs and model inputs live in the run's folder, so the run must exist
(``NotFound`` otherwise). Writes hold an exclusive ``flock`` on
``<root>/.kiln-logged-models.lock`` (server workers and CLI processes agree);
files are replaced atomically, metric points appended. Only the ``default``
workspace opens, as for the mlruns tracking store.

No audit log: an mlruns folder has no transactions to write an audit line in
together with the change, so the file stores record nothing (``open_audit_log``
refuses a file URI, and ``kiln server --auth`` refuses file stores).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kiln.entities import DEFAULT_WORKSPACE, LifecycleStage, Page
from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.errors import InvalidInput, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.file.folders import FolderLock, check_keys_nest, mlruns_root
from kiln.store.file.inputs import INPUTS, input_id
from kiln.store.file.layout import (
    META,
    METRICS,
    PARAMS,
    TAGS,
    TRASH,
    append_text,
    dump_yaml,
    iter_key_files,
    load_yaml,
    read_text,
    write_atomic,
)
from kiln.store.query.logged_models import search_logged_models_in
from kiln.store.rules.logged_models import (
    MODELS_FOLDER,
    model_artifact_location,
    model_exists,
    model_not_found,
    new_metrics,
    new_model_id,
    new_params,
    tag_not_found,
    validate_logged_model_name,
    validate_params,
    validate_tags,
)

OUTPUTS = "outputs"
LOCK_FILE = ".kiln-logged-models.lock"
_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
_RUN_ID = re.compile(r"[0-9a-zA-Z_-]{1,64}")


class FileLoggedModelStore:
    """``LoggedModelStore`` over an mlruns folder (see the module docstring)."""

    def __init__(self, root: Path, *, clock: Clock = wall_clock_ms) -> None:
        self._root = root
        self._clock = clock
        self._lock = FolderLock(root / LOCK_FILE)

    @property
    def workspace(self) -> str:
        return DEFAULT_WORKSPACE

    # folders ---------------------------------------------------------------------------
    def _experiment_dirs(self) -> list[Path]:
        parents = [self._root, self._root / TRASH]
        return [d for p in parents if p.is_dir() for d in sorted(p.iterdir()) if d.is_dir()]

    def _model_dir(self, model_id: str) -> Path | None:
        if not isinstance(model_id, str) or not _MODEL_ID.fullmatch(model_id):
            return None
        for experiment in self._experiment_dirs():
            folder = experiment / MODELS_FOLDER / model_id
            if (folder / META).is_file():
                return folder
        return None

    def _run_dir(self, run_id: str) -> Path:
        if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id):
            for experiment in self._experiment_dirs():
                if (experiment / run_id / META).is_file():
                    return experiment / run_id
        raise NotFound(f"Run with id={run_id} not found")

    def _live_dir(self, model_id: str) -> tuple[Path, dict[str, Any]]:
        folder = self._model_dir(model_id)
        meta = load_yaml(folder / META) if folder is not None else None
        if folder is None or meta is None or meta.get("lifecycle_stage") != "active":
            raise model_not_found(model_id)
        return folder, meta

    def _touch(self, folder: Path, meta: dict[str, Any], **changes: Any) -> None:
        meta.update(last_updated_timestamp=self._clock(), **changes)
        write_atomic(folder / META, dump_yaml(meta))

    # operations ------------------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        artifact_root: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        name = validate_logged_model_name(name)
        checked_tags = validate_tags(tags or {})
        checked_params = validate_params(params or {})
        check_keys_nest(list(checked_tags), "tag")
        check_keys_nest(list(checked_params), "param")
        if not re.fullmatch(r"[0-9]+", str(experiment_id)):
            raise InvalidInput(f"invalid experiment id {experiment_id!r}")
        model_id = new_model_id()
        now = self._clock()
        folder = self._root / str(experiment_id) / MODELS_FOLDER / model_id
        meta = _model_meta(
            LoggedModel(
                model_id=model_id,
                experiment_id=str(experiment_id),
                name=name,
                artifact_location=model_artifact_location(artifact_root, model_id),
                creation_timestamp=now,
                last_updated_timestamp=now,
                model_type=model_type or None,
                source_run_id=source_run_id or None,
            )
        )
        with self._lock.writing():
            (folder / METRICS).mkdir(parents=True)
            (folder / PARAMS).mkdir()
            _write_keys(folder, TAGS, checked_tags)
            _write_keys(folder, PARAMS, checked_params)
            write_atomic(folder / META, dump_yaml(meta))  # last: the model exists once whole
        return self.get_logged_model(model_id)

    def import_logged_model(self, model: LoggedModel) -> None:
        if not _MODEL_ID.fullmatch(model.model_id) or not model.experiment_id.isdecimal():
            raise InvalidInput(f"cannot store model {model.model_id!r} in an mlruns folder")
        check_keys_nest(list(model.tags), "tag")
        check_keys_nest(list(model.params), "param")
        with self._lock.writing():
            if self._model_dir(model.model_id) is not None:
                raise model_exists(model.model_id)
            folder = self._root / model.experiment_id / MODELS_FOLDER / model.model_id
            (folder / METRICS).mkdir(parents=True)
            (folder / PARAMS).mkdir(exist_ok=True)
            _write_keys(folder, TAGS, model.tags)
            _write_keys(folder, PARAMS, model.params)
            for metric in model.metrics:
                append_text(folder / METRICS / metric.key, _metric_line(metric))
            write_atomic(folder / META, dump_yaml(_model_meta(model)))

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        folder = self._model_dir(model_id)
        model = _read_model(folder) if folder is not None else None
        if model is None or (not allow_deleted and model.lifecycle_stage is LifecycleStage.DELETED):
            raise model_not_found(model_id)
        return model

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        with self._lock.writing():
            folder, meta = self._live_dir(model_id)
            self._touch(folder, meta, status=LoggedModelStatus(status).code)
        return self.get_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        checked = validate_tags(tags)
        with self._lock.writing():
            folder, _ = self._live_dir(model_id)
            check_keys_nest([*_keys(folder / TAGS), *checked], "tag")
            _write_keys(folder, TAGS, checked)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self._lock.writing():
            folder, _ = self._live_dir(model_id)
            if key not in _keys(folder / TAGS):
                raise tag_not_found(model_id, key)
            (folder / TAGS / key).unlink()

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        checked = validate_params(params)
        with self._lock.writing():
            folder, _ = self._live_dir(model_id)
            existing = _keys(folder / PARAMS)
            fresh = new_params(model_id, existing, checked)
            check_keys_nest([*existing, *checked], "param")
            _write_keys(folder, PARAMS, fresh)

    def log_logged_model_metrics(self, model_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        for metric in metrics:  # a metric line has one point; only the name may hold spaces
            name = metric.dataset_name or ""
            for part in (metric.run_id, metric.dataset_digest):
                if part is not None and (not part or any(c.isspace() for c in part)):
                    raise InvalidInput(
                        f"metric {metric.key!r}: a run id or dataset digest cannot be empty or "
                        f"contain spaces in a file: store, got {part!r}"
                    )
            if "\n" in name or "\r" in name:
                raise InvalidInput(f"metric {metric.key!r}: the dataset name holds a line break")
        with self._lock.writing():
            folder, _ = self._live_dir(model_id)
            check_keys_nest([*_keys(folder / METRICS), *(m.key for m in metrics)], "metric")
            stored = _read_metrics(folder)
            for metric in new_metrics(stored, metrics):
                append_text(folder / METRICS / metric.key, _metric_line(metric))

    def delete_logged_model(self, model_id: str) -> None:
        with self._lock.writing():
            folder, meta = self._live_dir(model_id)
            self._touch(folder, meta, lifecycle_stage="deleted")

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        ids = [str(e) for e in experiment_ids]
        candidates = []
        for experiment_id in ids:
            models_dir = self._root / experiment_id / MODELS_FOLDER
            if not re.fullmatch(r"[0-9]+", experiment_id) or not models_dir.is_dir():
                continue
            for folder in sorted(models_dir.iterdir()):
                model = _read_model(folder)
                if model is not None and model.lifecycle_stage is LifecycleStage.ACTIVE:
                    candidates.append(model)
        return search_logged_models_in(
            candidates, ids, filter_string, datasets, max_results, order_by, page_token
        )

    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        with self._lock.writing():
            run_dir = self._run_dir(run_id)
            for output in outputs:
                self._live_dir(output.model_id)
            for output in outputs:
                meta = {
                    "destination_id": output.model_id,  # what MLflow's writer puts here
                    "destination_type": "MODEL_OUTPUT",
                    "source_id": output.model_id,
                    "source_type": "RUN_OUTPUT",
                    "step": output.step,
                    "tags": {},
                }
                path = run_dir / OUTPUTS / output.model_id / META
                if not path.exists():
                    write_atomic(path, dump_yaml(meta))

    def get_outputs(self, run_id: str) -> list[LoggedModelOutput]:
        outputs = []
        for meta in _edge_metas(self._run_dir(run_id) / OUTPUTS):
            if meta.get("destination_type") == "MODEL_OUTPUT":
                step = meta.get("step")
                outputs.append(
                    LoggedModelOutput(str(meta["destination_id"]), int(step) if step else 0)
                )
        return outputs

    def log_model_inputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        with self._lock.writing():
            run_dir = self._run_dir(run_id)
            for model_id in dict.fromkeys(model_ids):
                path = run_dir / INPUTS / input_id(model_id, run_id) / META
                if not path.exists():
                    meta = {
                        "destination_id": model_id,  # what MLflow's writer puts here
                        "destination_type": "RUN",
                        "source_id": model_id,
                        "source_type": "MODEL",
                        "tags": {},
                    }
                    write_atomic(path, dump_yaml(meta))

    def get_model_inputs(self, run_id: str) -> list[str]:
        metas = _edge_metas(self._run_dir(run_id) / INPUTS)
        return sorted({str(m["source_id"]) for m in metas if m.get("source_type") == "MODEL"})


# -- reading and writing ------------------------------------------------------------------
def _keys(folder: Path) -> dict[str, str]:
    return {key: read_text(path) for key, path in iter_key_files(folder)}


def _write_keys(model_dir: Path, kind: str, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        write_atomic(model_dir / kind / key, value, temp_dir=model_dir)


def _edge_metas(folder: Path) -> list[dict[str, Any]]:
    if not folder.is_dir():
        return []
    metas = (load_yaml(child / META) for child in sorted(folder.iterdir()))
    return [m for m in metas if m is not None and m.get("source_id")]


def _metric_line(metric: LoggedModelMetric) -> str:
    line = f"{metric.timestamp} {metric.value} {metric.step} {metric.run_id}"
    if metric.dataset_name is not None and metric.dataset_digest is not None:
        line += f" {metric.dataset_name} {metric.dataset_digest}"
    elif metric.dataset_name is not None:
        line += f" {metric.dataset_name} -"  # MLflow writes the pair or neither
    return line + "\n"


def _read_metrics(folder: Path) -> list[LoggedModelMetric]:
    metrics = []
    for key, path in sorted(iter_key_files(folder / METRICS)):
        for line in read_text(path).splitlines():
            parts = line.split(" ")  # "<ts> <value> <step> <run_id>[ <name...> <digest>]"
            if len(parts) == 5 or len(parts) < 4:
                continue  # a torn last line of a crashed writer
            try:
                timestamp, value, step = int(parts[0]), float(parts[1]), int(parts[2])
            except ValueError:
                continue
            run_id = None if parts[3] == "None" else parts[3]
            digest = parts[-1]
            dataset: tuple[str, str | None] | None = None
            if len(parts) > 4:
                dataset = (" ".join(parts[4:-1]), None if digest == "-" else digest)
            metrics.append(
                LoggedModelMetric(
                    key=key,
                    value=value,
                    timestamp=timestamp,
                    step=step,
                    run_id=run_id,
                    dataset_name=dataset[0] if dataset else None,
                    dataset_digest=dataset[1] if dataset else None,
                )
            )
    metrics.sort(key=lambda m: (m.timestamp, m.key))
    return metrics


def _model_meta(model: LoggedModel) -> dict[str, Any]:
    return {
        "artifact_location": model.artifact_location,
        "creation_timestamp": model.creation_timestamp,
        "experiment_id": model.experiment_id,
        "last_updated_timestamp": model.last_updated_timestamp,
        "lifecycle_stage": model.lifecycle_stage.value,
        "model_id": model.model_id,
        "model_type": model.model_type,
        "name": model.name,
        "source_run_id": model.source_run_id,
        "status": model.status.code,
        "status_message": model.status_message,
    }


def _read_model(folder: Path) -> LoggedModel | None:
    meta = load_yaml(folder / META)
    if meta is None or meta.get("model_id") != folder.name:
        return None
    try:
        status = LoggedModelStatus.from_code(int(meta.get("status") or 0))
    except ValueError:
        status = LoggedModelStatus.UNSPECIFIED
    stage = meta.get("lifecycle_stage")
    return LoggedModel(
        model_id=folder.name,
        experiment_id=str(meta.get("experiment_id") or folder.parent.parent.name),
        name=str(meta.get("name") or ""),
        artifact_location=str(meta.get("artifact_location") or ""),
        creation_timestamp=int(meta.get("creation_timestamp") or 0),
        last_updated_timestamp=int(meta.get("last_updated_timestamp") or 0),
        status=status,
        model_type=meta.get("model_type"),
        source_run_id=meta.get("source_run_id"),
        status_message=meta.get("status_message"),
        lifecycle_stage=LifecycleStage.DELETED if stage == "deleted" else LifecycleStage.ACTIVE,
        tags=dict(sorted(_keys(folder / TAGS).items())),
        params=dict(sorted(_keys(folder / PARAMS).items())),
        metrics=tuple(_read_metrics(folder)),
    )


def open_file_logged_model_store(uri: str, *, workspace: str) -> FileLoggedModelStore:
    """The logged models of the mlruns folder a ``file:`` URI names.

    Raises:
        InvalidInput: a workspace other than ``default``.
        InvalidUri: not a local folder.
    """
    root = mlruns_root(uri, workspace, "store")
    return FileLoggedModelStore(root)


__all__ = ["FileLoggedModelStore", "open_file_logged_model_store"]
