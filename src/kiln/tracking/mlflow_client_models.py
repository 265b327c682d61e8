"""``MlflowClient``'s MLflow 3 logged-model methods, with MLflow's names and signatures.

The models live in the logged-model store kept where the client's tracking data
lives (``logged_model_ops.model_store``: the same database, mlruns folder or
server), in the client's workspace. As in MLflow, ``create_logged_model`` makes a
PENDING model with no context tags (the fluent ``initialize_logged_model`` adds them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kiln.entities import FileInfo, Metric, Page
from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.errors import InvalidInput
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.tracking import logged_model_ops as ops

if TYPE_CHECKING:
    from kiln.tracking.client import KilnClient

    _Base = KilnClient
else:
    _Base = object


def _strs(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def _status(value: LoggedModelStatus | str) -> LoggedModelStatus:
    try:
        return LoggedModelStatus(str(getattr(value, "value", value)).upper())
    except ValueError:
        known = ", ".join(s.value for s in LoggedModelStatus)
        raise InvalidInput(f"invalid logged model status {value!r}: use one of {known}") from None


class LoggedModelMethods(_Base):
    """Mixed into ``MlflowClient``, which sets ``_tracking_uri``."""

    _tracking_uri: str

    def _logged_models(self) -> LoggedModelStore:
        return ops.model_store(self._tracking_uri, self.store.workspace)

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A PENDING model under the experiment's artifact location.

        Raises:
            NotFound: no such experiment. InvalidInput: a bad name, key or value.
        """
        root = self.get_experiment(str(experiment_id)).artifact_location
        return self._logged_models().create_logged_model(
            str(experiment_id),
            root,
            name=name,
            source_run_id=source_run_id,
            tags=_strs(tags),
            params=_strs(params),
            model_type=model_type,
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Raises: NotFound."""
        return self._logged_models().get_logged_model(model_id)

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        """One page of MLflow's logged-model search; pass ``page.token`` back for the next."""
        return self._logged_models().search_logged_models(
            [str(i) for i in experiment_ids],
            filter_string,
            datasets,
            max_results,
            order_by,
            page_token,
        )

    def finalize_logged_model(
        self, model_id: str, status: Literal["READY", "FAILED"] | LoggedModelStatus
    ) -> LoggedModel:
        return self._logged_models().finalize_logged_model(model_id, _status(status))

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self._logged_models().set_logged_model_tags(model_id, _strs(tags))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Raises: NotFound (the model or the tag)."""
        self._logged_models().delete_logged_model_tag(model_id, key)

    def log_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Write-once params. Raises: Conflict (another value), NotFound."""
        self._logged_models().log_logged_model_params(model_id, _strs(params))

    def delete_logged_model(self, model_id: str) -> None:
        self._logged_models().delete_logged_model(model_id)

    def log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        """Record that the run produced these models (``LoggedModelOutput``s)."""
        outputs = [LoggedModelOutput(m.model_id, int(getattr(m, "step", 0))) for m in models]
        self._logged_models().log_outputs(run_id, outputs)

    def _model_files(self, model_id: str) -> ArtifactStore:
        """The artifact store at the model's artifact location."""
        location = self.get_logged_model(model_id).artifact_location
        return open_artifact_store(
            location, tracking_uri=self._tracking_uri, options=self.artifact_options
        )

    def log_model_artifacts(
        self, model_id: str, local_dir: str, artifact_path: str | None = None
    ) -> None:
        """Upload a folder to the model's artifact location (under ``artifact_path``)."""
        self._model_files(model_id).log_artifacts(str(Path(local_dir)), artifact_path)

    def log_model_artifact(
        self, model_id: str, local_path: str, artifact_path: str | None = None
    ) -> None:
        """Upload one file to the model's artifact location (under ``artifact_path``).

        Raises:
            InvalidInput: ``local_path`` is not a file.
        """
        if not Path(local_path).is_file():
            raise InvalidInput(f"cannot log artifact {str(local_path)!r}: no such file")
        self._model_files(model_id).log_artifact(str(local_path), artifact_path)

    def list_logged_model_artifacts(self, model_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` in the model's artifacts."""
        return self._model_files(model_id).list_artifacts(path)

    def _log_model_metric(
        self,
        run_id: str,
        point: Metric,
        model_id: str | None,
        dataset_name: str | None,
        dataset_digest: str | None,
    ) -> bool:
        """The point on ``model_id`` too (and the model as a run input when the run did
        not produce it); True when the store logged the run's point as well.

        Raises:
            NotFound: the run, then the model, does not exist (nothing is written).
        """
        if model_id is None:
            return False
        self.get_run(run_id)
        store = self._logged_models()
        store.get_logged_model(model_id)
        produced = {o.model_id for o in store.get_outputs(run_id)}
        if model_id not in produced and model_id not in store.get_model_inputs(run_id):
            store.log_model_inputs(run_id, [model_id])
        metric = LoggedModelMetric(
            point.key,
            point.value,
            point.timestamp,
            point.step,
            run_id,
            dataset_name,
            dataset_digest,
        )
        store.log_logged_model_metrics(model_id, [metric])
        return ops.sends_run_metrics(store)

    def _log_model_inputs(self, run_id: str, models: Sequence[Any]) -> None:
        """MLflow's ``LoggedModelInput``s (or ids) as the run's model inputs."""
        ids = [str(getattr(m, "model_id", m)) for m in models]
        self._logged_models().log_model_inputs(run_id, ids)


__all__ = ["LoggedModelMethods"]
