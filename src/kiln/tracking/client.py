"""``KilnClient``: the explicit, MLflow-client-like API over one tracking store.

The client holds no global state: it is built from a ``TrackingStore`` and a way to
open artifact stores, and every call names its run or experiment. The fluent API
(``kiln.start_run`` ...) is a thin layer on top of it.
"""

from __future__ import annotations

import functools
import numbers
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.config import Settings, default_tracking_uri
from kiln.entities import (
    DATASET_CONTEXT_TAG,
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    DatasetInput,
    Experiment,
    FileInfo,
    InputTag,
    Metric,
    Page,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import InvalidInput
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import close_store, open_artifact_store, open_tracking_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT, TrackingStore
from kiln.tracking import background, payloads
from kiln.tracking.system_tags import USER

if TYPE_CHECKING:
    from kiln.store.sql.engine import EnginePool

ArtifactOpener = Callable[[str], ArtifactStore]

# MLflow's integer view types (mlflow.entities.ViewType) still appear in user code.
_MLFLOW_VIEW_TYPES = {1: ViewType.ACTIVE_ONLY, 2: ViewType.DELETED_ONLY, 3: ViewType.ALL}
_ARTIFACT_CACHE_SIZE = 64


def now_ms() -> int:
    """Milliseconds since the epoch, MLflow's unit for every timestamp."""
    return time.time_ns() // 1_000_000


def to_view_type(value: ViewType | str | int) -> ViewType:
    """Accept a ViewType, its name (``"ALL"``) or MLflow's integer code.

    Raises:
        InvalidInput: none of those.
    """
    if isinstance(value, ViewType):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in _MLFLOW_VIEW_TYPES:
        return _MLFLOW_VIEW_TYPES[value]
    if isinstance(value, str):
        try:
            return ViewType(value.upper())
        except ValueError:
            pass
    known = ", ".join(v.value for v in ViewType)
    raise InvalidInput(f"invalid view type {value!r}: use one of {known}")


def to_run_status(value: RunStatus | str) -> RunStatus:
    """Accept a RunStatus or its name; raise InvalidInput for anything else."""
    if isinstance(value, RunStatus):
        return value
    try:
        return RunStatus(str(value).upper())
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise InvalidInput(f"invalid run status {value!r}: use one of {known}") from None


def to_metric_value(key: str, value: object) -> float:
    """A metric value as a float; numpy scalars and ints are accepted, strings are not."""
    if isinstance(value, numbers.Real):
        return float(value)
    raise InvalidInput(f"metric {key!r} value must be a number, got {value!r}")


def _tags(tags: Mapping[str, Any] | None) -> list[RunTag]:
    return [RunTag(str(k), str(v)) for k, v in (tags or {}).items()]


class KilnClient:
    """Experiments, runs and artifacts of one tracking store.

    Args:
        store: the tracking store every call goes to.
        artifacts: opens the artifact store under a run's ``artifact_uri``; by
            default ``open_artifact_store`` with this client's tracking URI, so
            that a server's ``mlflow-artifacts:/`` roots resolve to that server.
        clock: milliseconds since the epoch; injected so tests control time.
        tracking_uri: the URI ``store`` was opened from; when None, a REST
            store's ``base_url``.
        artifact_options: how the default opener reaches artifact stores: the S3
            endpoint of the settings, and the ``HttpClients`` that owns the
            connections of proxied artifact stores (the caller made it and closes
            it); without one, the process's shared one.
    """

    def __init__(
        self,
        store: TrackingStore,
        artifacts: ArtifactOpener | None = None,
        *,
        clock: Callable[[], int] = now_ms,
        tracking_uri: str | None = None,
        artifact_options: ArtifactOptions | None = None,
    ) -> None:
        self._store = store
        self.artifact_options = artifact_options or ArtifactOptions()
        if artifacts is None:
            base_url = getattr(store, "base_url", None)  # only a server has one
            server = tracking_uri or (base_url if isinstance(base_url, str) else None)
            artifacts = functools.partial(
                open_artifact_store, tracking_uri=server, options=self.artifact_options
            )
        self._open_artifacts = artifacts
        self._clock = clock
        self._artifact_stores: dict[str, ArtifactStore] = {}

    @classmethod
    def from_uri(
        cls,
        uri: str | None = None,
        settings: Settings | None = None,
        *,
        engines: EnginePool | None = None,
    ) -> KilnClient:
        """Open the store a tracking URI names (the configured one when None).

        With the embedded default URI (``sqlite:///$KILN_HOME/kiln.db``) the folder is
        created and artifacts go to ``$KILN_HOME/artifacts`` unless
        ``KILN_ARTIFACT_ROOT`` says otherwise. ``settings`` default to the
        environment's (this is an entry point); ``engines`` owns a SQL store's
        engine (the caller closes it), by default the process's shared pool.

        Raises:
            InvalidUri: no backend understands the URI.
        """
        settings = Settings.from_env() if settings is None else settings
        uri = uri or settings.tracking_uri
        artifact_root = settings.artifact_root
        if uri == default_tracking_uri(settings.home):
            settings.home.mkdir(parents=True, exist_ok=True)
            if artifact_root is None:
                artifact_root = str(settings.home / "artifacts")
        store = open_tracking_store(
            uri, workspace=settings.workspace, artifact_root=artifact_root, engines=engines
        )
        options = ArtifactOptions(s3_endpoint_url=settings.s3_endpoint_url)
        return cls(store, tracking_uri=uri, artifact_options=options)

    def now(self) -> int:
        """The client's clock, in milliseconds since the epoch."""
        return self._clock()

    @property
    def store(self) -> TrackingStore:
        """The tracking store this client writes to."""
        return self._store

    def close(self) -> None:
        """Release what the store holds (a REST store's connection pool); stores that
        hold nothing have no ``close``. A SQL store's engine belongs to its
        ``EnginePool`` and artifact connections to their ``HttpClients``, each closed
        by whoever made it. ``contextlib.closing`` works with a client."""
        close_store(self._store)

    # experiments -----------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id. Raises AlreadyExists, InvalidInput."""
        return self._store.create_experiment(name, artifact_location, _tags(tags))

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Raises NotFound."""
        return self._store.get_experiment(str(experiment_id))

    def default_experiment_id(self) -> str:
        """The ``Default`` experiment of the store's workspace, where runs go when no
        experiment is named: ``0`` is only the ``default`` workspace's."""
        if self._store.workspace == DEFAULT_WORKSPACE:
            return DEFAULT_EXPERIMENT_ID
        default = self._store.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)
        return default.experiment_id if default is not None else DEFAULT_EXPERIMENT_ID

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        return self._store.search_experiments(
            to_view_type(view_type), max_results, filter_string, order_by or (), page_token
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.restore_experiment(str(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(str(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(str(experiment_id), RunTag(key, str(value)))

    # runs ------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Create a RUNNING run; its user is the ``mlflow.user`` tag (as in MLflow)."""
        run_tags = _tags(tags)
        user = next((t.value for t in run_tags if t.key == USER), "unknown")
        return self._store.create_run(
            str(experiment_id),
            user_id=user,
            start_time=self._clock() if start_time is None else start_time,
            tags=run_tags,
            run_name=run_name,
        )

    def get_run(self, run_id: str) -> Run:
        """Raises NotFound."""
        return self._store.get_run(run_id)

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, name: str | None = None
    ) -> None:
        """Change a run's status and/or name."""
        self._store.update_run_info(
            run_id, status=None if status is None else to_run_status(status), run_name=name
        )

    def set_terminated(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        end_time: int | None = None,
    ) -> None:
        """Mark a run ended (FINISHED by default) at ``end_time`` (now by default)."""
        self._store.update_run_info(
            run_id,
            status=to_run_status(status),
            end_time=self._clock() if end_time is None else end_time,
        )

    def delete_run(self, run_id: str) -> None:
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._store.restore_run(run_id)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a write-once param (stored as ``str(value)``); returns ``value``.

        Raises:
            Conflict: the param was logged before with another value.
        """
        self._store.log_param(run_id, Param(key, str(value)))
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        """Log one metric point; ``timestamp`` defaults to now, ``step`` to 0."""
        metric = Metric(
            key,
            to_metric_value(key, value),
            self._clock() if timestamp is None else timestamp,
            0 if step is None else step,
        )
        self._store.log_metric(run_id, metric)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Log all of it or nothing (the store's batch limits apply)."""
        self._store.log_batch(run_id, list(metrics), list(params), list(tags))

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Link dataset inputs to a run (see ``TrackingStore.log_inputs``)."""
        self._store.log_inputs(run_id, list(datasets))

    def log_input(
        self,
        run_id: str,
        dataset: Any,
        context: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> DatasetInput:
        """Log one dataset input; returns what was sent.

        ``dataset`` is anything ``kiln.tracking.datasets.dataset_from`` accepts (a
        kiln ``Dataset``, a pandas DataFrame, a file path, an MLflow dataset);
        ``context`` becomes the ``mlflow.data.context`` tag.
        """
        from kiln.tracking.datasets import dataset_from

        items = [InputTag(DATASET_CONTEXT_TAG, context)] if context is not None else []
        items += [InputTag(str(k), str(v)) for k, v in (tags or {}).items()]
        item = DatasetInput(dataset_from(dataset), tuple(items))
        self._store.log_inputs(run_id, [item])
        return item

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._store.set_tag(run_id, RunTag(key, str(value)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of ``key``, ordered by (step, timestamp)."""
        return self._store.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[Run]:
        """One page of MLflow's run search; pass ``next_page_token`` back for the next."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self._store.search_runs(
            [str(i) for i in ids],
            filter_string or None,
            to_view_type(run_view_type),
            max_results,
            order_by or (),
            page_token,
        )

    # artifacts -------------------------------------------------------------
    def artifact_store(self, run_id: str) -> ArtifactStore:
        """The artifact store rooted at the run's ``artifact_uri`` (opened once per URI)."""
        uri = self.get_run(run_id).info.artifact_uri
        store = self._artifact_stores.get(uri)
        if store is None:
            if len(self._artifact_stores) >= _ARTIFACT_CACHE_SIZE:
                self._artifact_stores.pop(next(iter(self._artifact_stores)))
            store = self._artifact_stores[uri] = self._open_artifacts(uri)
        return store

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> None:
        """Copy one local file into the run's artifacts (under ``artifact_path``).

        Raises:
            InvalidInput: ``local_path`` is not a file.
        """
        path = Path(local_path)
        if not path.is_file():
            raise InvalidInput(f"cannot log artifact {str(local_path)!r}: no such file")
        self.artifact_store(run_id).log_artifact(str(path), artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str | None = None
    ) -> None:
        """Copy a local directory's contents into the run's artifacts.

        Raises:
            InvalidInput: ``local_dir`` is not a directory.
        """
        path = Path(local_dir)
        if not path.is_dir():
            raise InvalidInput(f"cannot log artifacts from {str(local_dir)!r}: no such directory")
        self.artifact_store(run_id).log_artifacts(str(path), artifact_path)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        """Write ``data`` as the run artifact ``artifact_file`` (a relative posix path)."""
        self.artifact_store(run_id).write_stream(artifact_file, BytesIO(data))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Write ``text`` (UTF-8) as the artifact ``artifact_file``."""
        self.log_bytes(run_id, payloads.text_bytes(text), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Write ``dictionary`` as YAML (``.yaml``/``.yml``) or indented JSON (otherwise)."""
        self.log_bytes(run_id, payloads.dict_bytes(dictionary, artifact_file), artifact_file)

    def log_figure(
        self,
        run_id: str,
        figure: Any,
        artifact_file: str,
        *,
        save_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Save a matplotlib figure in the format the extension names (png, svg, pdf, ...)."""
        data = payloads.figure_bytes(figure, artifact_file, save_kwargs)
        self.log_bytes(run_id, data, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (the root when None), sorted by path."""
        background.wait()  # what this process queued for the run is there to list
        return self.artifact_store(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | Path | None = None) -> str:
        """Copy an artifact file or folder to ``dst_path`` (a new temp folder when None).

        Returns:
            The local path of the copy.
        """
        background.wait()  # what this process queued for the run is there to copy
        dst = tempfile.mkdtemp(prefix="kiln-artifacts-") if dst_path is None else str(dst_path)
        Path(dst).mkdir(parents=True, exist_ok=True)
        return self.artifact_store(run_id).download_artifacts(path, dst)

    def iter_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_size: int = SEARCH_MAX_RESULTS_DEFAULT,
    ) -> Iterable[Run]:
        """Every matching run (up to ``max_results``), fetching pages as needed."""
        remaining = max_results
        token: str | None = None
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            page = self.search_runs(
                experiment_ids, filter_string, run_view_type, size, order_by, token
            )
            yield from page.items
            if remaining is not None:
                remaining -= len(page.items)
            token = page.next_page_token
            if not token or not page.items:
                return


__all__ = [
    "ArtifactOpener",
    "KilnClient",
    "now_ms",
    "to_metric_value",
    "to_run_status",
    "to_view_type",
]
