"""``MlflowClient``: ``KilnClient`` under MLflow's name, constructor and method signatures.

``import kiln as mlflow; mlflow.MlflowClient()`` must run MLflow scripts unchanged: the
URI resolves as the fluent API's does (``kiln.set_tracking_uri``, then
``KILN_``/``MLFLOW_TRACKING_URI``, then the embedded default), the tracking methods are
``KilnClient``'s (with MLflow's extra keywords accepted), and the registry methods go
through ``RegistryService`` over the registry kept where the tracking data lives (or at
``registry_uri``), in the client's workspace. Positional order and keyword names are
MLflow's (a test compares them with the real ``mlflow.MlflowClient``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kiln.config import Settings
from kiln.entities import (
    DatasetInput,
    Experiment,
    Metric,
    ModelVersion,
    Page,
    Param,
    RegisteredModel,
    Run,
    RunStatus,
    RunTag,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.registry.service import RegistryService
from kiln.store.open import close_store, open_registry_store
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)
from kiln.tracking.async_logging import RunOperations
from kiln.tracking.client import KilnClient, to_metric_value
from kiln.tracking.fluent_workspaces import WorkspaceMethods
from kiln.tracking.mlflow_client_extras import ClientExtras
from kiln.tracking.mlflow_client_models import LoggedModelMethods

if TYPE_CHECKING:
    from kiln.store.sql.engine import EnginePool

# MLflow's stage names, in MLflow's order (``get_model_version_stages``).
MODEL_VERSION_STAGES = ("None", "Staging", "Production", "Archived")


def _strs(tags: Mapping[str, Any] | None) -> dict[str, str] | None:
    return None if tags is None else {str(k): str(v) for k, v in tags.items()}


class MlflowClient(LoggedModelMethods, ClientExtras, WorkspaceMethods):
    """MLflow's ``MlflowClient`` over Kiln's stores.

    Args:
        tracking_uri: where runs live; None: what ``kiln.get_tracking_uri()`` says.
        registry_uri: where registered models live; None: ``MLFLOW_REGISTRY_URI``, else
            the tracking URI (the same database, mlruns folder or server).
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        from kiln.tracking.fluent import get_tracking_uri

        uri = str(tracking_uri) if tracking_uri is not None else get_tracking_uri()
        self._open(uri, registry_uri, Settings.from_env(), None)

    @classmethod
    def from_uri(
        cls,
        uri: str | None = None,
        settings: Settings | None = None,
        *,
        engines: EnginePool | None = None,
    ) -> MlflowClient:
        """``KilnClient.from_uri``'s contract (None: the settings' URI), as an MlflowClient."""
        settings = Settings.from_env() if settings is None else settings
        client = cls.__new__(cls)
        client._open(uri or settings.tracking_uri, None, settings, engines)
        return client

    def _open(
        self,
        uri: str,
        registry_uri: str | None,
        settings: Settings,
        engines: EnginePool | None,
    ) -> None:
        opened = KilnClient.from_uri(uri, settings, engines=engines)
        KilnClient.__init__(
            self, opened.store, tracking_uri=uri, artifact_options=opened.artifact_options
        )
        self._tracking_uri = uri
        self._registry_uri = registry_uri or _registry_uri_from_env() or uri
        self._registry: RegistryService | None = None

    @property
    def tracking_uri(self) -> str:
        """The tracking URI this client was opened on."""
        return self._tracking_uri

    @property
    def registry_uri(self) -> str:
        """The URI of the model registry this client uses."""
        return self._registry_uri

    def close(self) -> None:
        """Release what the tracking store and, once opened, the registry store hold."""
        super().close()
        if self._registry is not None:
            close_store(self._registry.store)
            self._registry = None

    def _service(self) -> RegistryService:
        """The registry, opened on first use (tracking-only scripts never open it)."""
        if self._registry is None:
            store = open_registry_store(self._registry_uri, workspace=self.store.workspace)
            self._registry = RegistryService(
                store, tracking=self.store, artifact_options=self.artifact_options
            )
        return self._registry

    # tracking: MLflow's extra keywords ------------------------------------------
    def set_terminated(
        self,
        run_id: str,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
    ) -> None:
        """End a run: FINISHED unless ``status`` says otherwise."""
        super().set_terminated(run_id, RunStatus.FINISHED if status is None else status, end_time)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Log a write-once param and return ``value``, or queue it (``synchronous=False``)
        and return a ``RunOperations``."""
        queued = self._queue_if_async(run_id, synchronous, params=[Param(key, str(value))])
        return queued if queued is not None else super().log_param(run_id, key, value)

    def log_metric(  # type: ignore[override]  # MLflow's: queued calls answer RunOperations
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> RunOperations | None:
        """Log one metric point, or queue it (``synchronous=False``, or unset after
        ``kiln.config.enable_async_logging()``) and return a ``RunOperations``. With
        ``model_id`` the point goes on that logged model too (with the dataset's name
        and digest), as MLflow 3 logs it.
        """
        when = self.now() if timestamp is None else timestamp
        point = Metric(key, to_metric_value(key, value), when, 0 if step is None else step)
        if self._log_model_metric(run_id, point, model_id, dataset_name, dataset_digest):
            return None  # a server logged the run's point with the model's
        queued = self._queue_if_async(run_id, synchronous, metrics=[point])
        if queued is None:
            super().log_metric(run_id, key, value, timestamp, step)
        return queued

    def log_batch(  # type: ignore[override]  # MLflow's: queued calls answer RunOperations
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Log all of it or nothing, or queue it (``synchronous=False``)."""
        queued = self._queue_if_async(run_id, synchronous, metrics, params, tags)
        if queued is None:
            super().log_batch(run_id, metrics, params, tags)
        return queued

    def log_inputs(  # MLflow's extra keywords
        self,
        run_id: str,
        datasets: Sequence[DatasetInput] | None = None,
        models: Sequence[Any] | None = None,
    ) -> None:
        """Link dataset inputs and logged-model inputs (``LoggedModelInput``s) to a run."""
        if models:
            self._log_model_inputs(run_id, models)
        super().log_inputs(run_id, datasets or ())

    def set_tag(  # type: ignore[override]  # MLflow's: queued calls answer RunOperations
        self, run_id: str, key: str, value: Any, synchronous: bool | None = None
    ) -> RunOperations | None:
        """Set a run tag, or queue it (``synchronous=False``)."""
        queued = self._queue_if_async(run_id, synchronous, tags=[RunTag(key, str(value))])
        if queued is None:
            super().set_tag(run_id, key, value)
        return queued

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.store.delete_experiment_tag(str(experiment_id), key)

    def get_parent_run(self, run_id: str) -> Run | None:
        """The run named by the ``mlflow.parentRunId`` tag, or None."""
        parent = self.get_run(run_id).data.tags.get("mlflow.parentRunId")
        return None if parent is None else self.get_run(parent)

    def search_experiments(  # MLflow's extra keywords
        self,
        view_type: Any = 1,
        max_results: int | None = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """One page of experiments (MLflow's integer view types work)."""
        size = 1000 if max_results is None else max_results
        return super().search_experiments(view_type, size, filter_string, order_by, page_token)

    # registered models ------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        """Raises AlreadyExists. ``deployment_job_id`` (Databricks) is accepted and unused."""
        return self._service().create_registered_model(name, _strs(tags), description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._service().get_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        return self._service().search_registered_models(
            filter_string, max_results, order_by or (), page_token
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._service().rename_registered_model(name, new_name)

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        return self._service().update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self._service().delete_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._service().set_registered_model_tag(name, key, str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._service().delete_registered_model_tag(name, key)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        return self._service().get_latest_versions(name, stages or ())

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self._service().set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._service().delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._service().get_model_version_by_alias(name, alias)

    # model versions -----------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Add a version of ``name``; it is READY at once, so ``await_creation_for`` is
        accepted and unused. Raises NotFound, InvalidInput."""
        return self._service().create_model_version(
            name, source, run_id, _strs(tags), run_link, description, model_id
        )

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """Register the version a ``models:/`` URI names as the next version of ``dst_name``
        (created when missing), with its tags, description, run and files, as MLflow does.

        Raises:
            InvalidInput: not a registry ``models:/`` URI.
            NotFound: the source version is missing.
        """
        service = self._service()
        src = service.get_version_for_uri(src_model_uri)
        with contextlib.suppress(AlreadyExists):
            service.create_registered_model(dst_name)
        return service.create_model_version(
            dst_name,
            f"models:/{src.name}/{src.version}",
            src.run_id,
            dict(src.tags),
            src.run_link,
            src.description,
            src.model_id,
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._service().get_model_version(name, version)

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None
    ) -> ModelVersion:
        return self._service().update_model_version(name, version, description)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        return self._service().transition_model_version_stage(
            name, version, stage, archive_existing_versions
        )

    def delete_model_version(self, name: str, version: int | str) -> None:
        self._service().delete_model_version(name, version)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self._service().get_model_version_download_uri(name, version)

    def get_model_version_stages(self, name: str, version: int | str) -> list[str]:
        """MLflow's fixed stage names (the same for every version)."""
        return list(MODEL_VERSION_STAGES)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        return self._service().search_model_versions(
            filter_string, max_results, order_by or (), page_token
        )

    def set_model_version_tag(
        self,
        name: str,
        version: int | str | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        """Tag a version, named by number or (deprecated in MLflow) by its stage."""
        number, tag = self._version_and_key(name, version, key, stage)
        self._service().set_model_version_tag(name, number, tag, str(value))

    def delete_model_version_tag(
        self,
        name: str,
        version: int | str | None = None,
        key: str | None = None,
        stage: str | None = None,
    ) -> None:
        number, tag = self._version_and_key(name, version, key, stage)
        self._service().delete_model_version_tag(name, number, tag)

    def _version_and_key(
        self, name: str, version: int | str | None, key: str | None, stage: str | None
    ) -> tuple[int | str, str]:
        """MLflow's rules: a key, and exactly one of version and stage.

        Raises:
            InvalidInput: no key, both or neither of version and stage.
            NotFound: no version of ``name`` is in ``stage``.
        """
        if key is None:
            raise InvalidInput("the tag key is required")
        if (version is None) == (stage is None):
            raise InvalidInput("pass exactly one of version and stage")
        if version is not None:
            return version, key
        assert stage is not None
        found = self.get_latest_versions(name, [stage])
        if not found:
            raise NotFound(f"No versions of model with name '{name}' and stage '{stage}'")
        return found[0].version, key


def _registry_uri_from_env() -> str | None:
    """``kiln.set_registry_uri``'s URI, else ``MLFLOW_REGISTRY_URI``, else None."""
    from kiln.tracking.fluent_registry import registry_uri_from_context

    return registry_uri_from_context()


__all__ = ["MODEL_VERSION_STAGES", "MlflowClient"]
