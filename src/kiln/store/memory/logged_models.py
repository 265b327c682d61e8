"""An in-process ``LoggedModelStore``: the reference backend for the contract tests.

Also what a server over a ``memory://`` tracking backend uses, so there they
last as long as the process (a ``file:`` backend keeps them in the mlruns folder,
``kiln.store.file.logged_models``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiln.entities import LifecycleStage, Page
from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.query.logged_models import search_logged_models_in
from kiln.store.rules.audit import lifecycle_event
from kiln.store.rules.logged_models import (
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

ACTIVE = LifecycleStage.ACTIVE.value
DELETED = LifecycleStage.DELETED.value


@dataclass
class _WorkspaceTables:
    models: dict[str, LoggedModel] = field(default_factory=dict)
    outputs: dict[str, list[LoggedModelOutput]] = field(default_factory=dict)
    inputs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LoggedModelMemoryState:
    """The shared "database": workspace -> its models, run outputs and run inputs.

    Stores over one state see one storage, each only its own workspace's part.
    """

    workspaces: dict[str, _WorkspaceTables] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Where deletes are recorded.
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)


class MemoryLoggedModelStore:
    """Logged models of one workspace, in dicts guarded by the state's lock."""

    def __init__(
        self,
        *,
        workspace: str,
        state: LoggedModelMemoryState | None = None,
        clock: Clock = wall_clock_ms,
    ):
        state = state if state is not None else LoggedModelMemoryState()
        self._workspace = workspace
        self._clock = clock
        self._lock = state.lock
        self._audit = state.audit
        with state.lock:
            tables = state.workspaces.setdefault(workspace, _WorkspaceTables())
        self._models = tables.models
        self._outputs = tables.outputs
        self._inputs = tables.inputs

    @property
    def workspace(self) -> str:
        return self._workspace

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
        model_id = new_model_id()
        now = self._clock()
        model = LoggedModel(
            model_id=model_id,
            experiment_id=experiment_id,
            name=name,
            artifact_location=model_artifact_location(artifact_root, model_id),
            creation_timestamp=now,
            last_updated_timestamp=now,
            status=LoggedModelStatus.PENDING,
            model_type=model_type or None,
            source_run_id=source_run_id or None,
            tags=checked_tags,
            params=checked_params,
        )
        with self._lock:
            self._models[model_id] = model
        return model

    def _live(self, model_id: str) -> LoggedModel:
        model = self._models.get(model_id)
        if model is None or model.lifecycle_stage is LifecycleStage.DELETED:
            raise model_not_found(model_id)
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        with self._lock:
            model = self._models.get(model_id)
            if model is None or (
                not allow_deleted and model.lifecycle_stage is LifecycleStage.DELETED
            ):
                raise model_not_found(model_id)
            return model

    def _replace(self, model_id: str, **changes: Any) -> LoggedModel:
        model = dataclasses.replace(
            self._live(model_id), last_updated_timestamp=self._clock(), **changes
        )
        self._models[model_id] = model
        return model

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        with self._lock:
            return self._replace(model_id, status=LoggedModelStatus(status))

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        checked = validate_tags(tags)
        with self._lock:
            model = self._live(model_id)
            self._models[model_id] = dataclasses.replace(model, tags={**model.tags, **checked})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self._lock:
            model = self._live(model_id)
            if key not in model.tags:
                raise tag_not_found(model_id, key)
            tags = {k: v for k, v in model.tags.items() if k != key}
            self._models[model_id] = dataclasses.replace(model, tags=tags)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        checked = validate_params(params)
        with self._lock:
            model = self._live(model_id)
            fresh = new_params(model_id, model.params, checked)
            self._models[model_id] = dataclasses.replace(model, params={**model.params, **fresh})

    def log_logged_model_metrics(self, model_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        with self._lock:
            model = self._live(model_id)
            fresh = new_metrics(model.metrics, metrics)
            self._models[model_id] = dataclasses.replace(model, metrics=(*model.metrics, *fresh))

    def delete_logged_model(self, model_id: str) -> None:
        with self._lock:
            self._replace(model_id, lifecycle_stage=LifecycleStage.DELETED)
            self._audit.append(
                lifecycle_event(self._workspace, "logged_model", model_id, ACTIVE, DELETED)
            )

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        with self._lock:
            candidates = list(self._models.values())
        return search_logged_models_in(
            candidates, experiment_ids, filter_string, datasets, max_results, order_by, page_token
        )

    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        with self._lock:
            for output in outputs:
                self._live(output.model_id)
            self._outputs.setdefault(run_id, []).extend(outputs)

    def get_outputs(self, run_id: str) -> list[LoggedModelOutput]:
        with self._lock:
            return list(self._outputs.get(run_id, ()))

    def log_model_inputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        with self._lock:
            known = self._inputs.setdefault(run_id, [])
            known.extend(m for m in dict.fromkeys(model_ids) if m not in known)

    def import_logged_model(self, model: LoggedModel) -> None:
        with self._lock:
            if model.model_id in self._models:
                raise model_exists(model.model_id)
            self._models[model.model_id] = model

    def get_model_inputs(self, run_id: str) -> list[str]:
        with self._lock:
            return sorted(self._inputs.get(run_id, ()))


def open_memory_logged_model_store(uri: str, *, workspace: str) -> MemoryLoggedModelStore:
    """A fresh, empty in-process logged-model store (``memory://``)."""
    return MemoryLoggedModelStore(workspace=workspace)


__all__ = [
    "LoggedModelMemoryState",
    "MemoryLoggedModelStore",
    "open_memory_logged_model_store",
    "wall_clock_ms",
]
