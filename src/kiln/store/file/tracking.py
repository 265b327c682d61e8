"""``FileTrackingStore``: the ``TrackingStore`` contract over MLflow's ``mlruns`` folder.

What is written is byte-for-byte what MLflow's own FileStore writes (see
``kiln.store.file.layout``), so ``mlflow ui --backend-store-uri ./mlruns`` opens a
folder Kiln wrote and Kiln opens one MLflow wrote.

Differences from MLflow's FileStore, on purpose:

* Single files are replaced atomically (temp file + ``os.replace``); a new run or
  experiment gets its ``meta.yaml`` last, so a crash mid-create leaves a folder
  that every reader skips rather than a half-made entity.
* ``log_batch`` checks everything (limits, keys, param conflicts, key paths) before
  the first write.
* New experiment ids are the next free integer (``1``, ``2``, ...), claimed with an
  atomic ``mkdir``; MLflow draws random 18-digit ids. Both read fine either way.

Workspaces: the layout has no tenants. Only the ``default`` workspace opens;
any other raises ``InvalidInput``. (A per-workspace sub-folder is not an option:
MLflow takes every folder in the root except ``.trash`` and ``models`` for an
experiment and its search fails on a non-numeric one.)

No audit log: an mlruns folder has no transactions to write an audit line in
together with the change, so the file stores record nothing (``open_audit_log``
refuses a file URI, and ``kiln server --auth`` refuses file stores).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    RUN_NAME_TAG,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Page,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import Conflict, InvalidInput, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.file import folders, history, inputs, layout
from kiln.store.file.tree import MAX_FOLDER_NAME, MlrunsTree
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.query.search import prepare_experiment_search, prepare_run_search
from kiln.store.rules.runs import new_run_tags, run_artifact_uri
from kiln.store.rules.tracking import (
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_metric,
    validate_new_experiment,
    validate_run_name,
)


class FileTrackingStore:
    """Experiments and runs of the ``default`` workspace in one ``mlruns`` folder.

    Safe to share between threads of one process (a lock serialises writes). Several
    processes may write the same folder as with MLflow; appends and single-file
    replaces are atomic, read-modify-write sequences are not coordinated.
    """

    def __init__(
        self,
        root: Path,
        artifact_root: str | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self._tree = MlrunsTree(root, folders.artifact_root_uri(artifact_root, root), clock)
        self._rng = random.Random()
        if self._tree.experiment_dir(DEFAULT_EXPERIMENT_ID) is None:
            self._tree.write_new_experiment(
                DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None, ()
            )

    @property
    def workspace(self) -> str:
        return DEFAULT_WORKSPACE

    @property
    def default_artifact_root(self) -> str:
        return self._tree.artifact_root

    @property
    def root(self) -> Path:
        """The mlruns folder."""
        return self._tree.root

    # -- experiments -------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        validate_new_experiment(name, tags)
        folders.check_keys_nest([t.key for t in tags], "experiment tag key")
        tree = self._tree
        with tree.lock:
            tree.check_name_free(name)
            experiment_id = tree.claim_experiment_id()
            tree.write_new_experiment(experiment_id, name, artifact_location, tags)
            return experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._tree.experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._tree.by_name(name)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        # Checked first, so a bad token or filter fails before any folder is read.
        prepared = prepare_experiment_search(filter_string, order_by, max_results, page_token)
        return prepared.page(
            e for e in self._tree.all_experiments() if view_type.admits(e.lifecycle_stage)
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        tree = self._tree
        with tree.lock:
            experiment = tree.experiment(experiment_id)
            if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise Conflict(f"cannot rename deleted experiment {experiment_id!r}; restore it")
            if new_name == experiment.name:
                return
            tree.check_name_free(new_name)
            folder = tree.experiment_dir_or_raise(experiment_id)
            renamed = replace(experiment, name=new_name, last_update_time=tree.clock())
            tree.rewrite_experiment(folder, renamed)

    def delete_experiment(self, experiment_id: str) -> None:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidInput("the default experiment '0' cannot be deleted")
        with self._tree.lock:
            experiment = self._tree.experiment(experiment_id)
            if experiment.lifecycle_stage is LifecycleStage.DELETED:
                raise NotFound(f"no active experiment {experiment_id!r} (it is already deleted)")
            self._tree.delete_experiment(experiment)

    def restore_experiment(self, experiment_id: str) -> None:
        validate_experiment_id(experiment_id)
        if len(experiment_id) > MAX_FOLDER_NAME:
            raise NotFound(f"no deleted experiment {experiment_id[:40]!r}")
        with self._tree.lock:
            self._tree.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        validate_experiment_tag(tag)
        with self._tree.lock:
            folder = self._tree.active_experiment_dir(experiment_id, "set tags on")
            layout.check_key_path_free(folder / layout.TAGS, tag.key, "experiment tag key")
            layout.write_atomic(folder / layout.TAGS / tag.key, tag.value, temp_dir=folder)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        validate_key(key, "experiment tag key")
        with self._tree.lock:
            folder = self._tree.active_experiment_dir(experiment_id, "delete tags of")
            folders.delete_tag_file(folder, key, f"experiment {experiment_id!r}")

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        name, tag_values = new_run_tags(tags, run_name, user_id, start_time, self._rng)
        folders.check_keys_nest(list(tag_values), "tag key")
        tree = self._tree
        with tree.lock:
            experiment = tree.experiment(experiment_id)
            if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
                raise Conflict(f"cannot create a run in deleted experiment {experiment_id!r}")
            run_id = uuid.uuid4().hex
            info = RunInfo(
                run_id=run_id,
                experiment_id=experiment_id,
                run_name=name,
                user_id=user_id or "",
                status=RunStatus.RUNNING,
                start_time=start_time if start_time is not None else tree.clock(),
                end_time=None,
                artifact_uri=run_artifact_uri(experiment.artifact_location, run_id),
            )
            all_tags = [RunTag(k, v) for k, v in tag_values.items()]
            tree.write_new_run(experiment_id, info, (), (), all_tags, deleted_time=None)
            return self.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        run_dir, info = self._tree.run_info(run_id)
        return folders.read_run(run_dir, info)

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        if run_name is not None:
            validate_run_name(run_name)
        with self._tree.lock:
            run_dir, info = self._tree.active_run(run_id)
            updated = replace(
                info,
                status=status if status is not None else info.status,
                end_time=end_time if end_time is not None else info.end_time,
                run_name=run_name if run_name else info.run_name,
            )
            if run_name:
                layout.write_atomic(run_dir / layout.TAGS / RUN_NAME_TAG, run_name, run_dir)
            self._tree.write_run_meta(run_dir, updated)
            return updated

    def delete_run(self, run_id: str) -> None:
        tree = self._tree
        with tree.lock:
            run_dir, info = tree.run_info(run_id)
            deleted = replace(info, lifecycle_stage=LifecycleStage.DELETED)
            tree.write_run_meta(run_dir, deleted, deleted_time=tree.clock())

    def restore_run(self, run_id: str) -> None:
        tree = self._tree
        with tree.lock:
            run_dir, info = tree.run_info(run_id)
            if run_dir.parent.parent == tree.trash:
                raise Conflict(
                    f"run {run_id!r} belongs to deleted experiment {info.experiment_id!r}; "
                    "restore the experiment"
                )
            tree.write_run_meta(run_dir, replace(info, lifecycle_stage=LifecycleStage.ACTIVE))

    def log_metric(self, run_id: str, metric: Metric) -> None:
        validate_metric(metric)
        with self._tree.lock:
            run_dir, _info = self._tree.active_run(run_id)
            layout.check_key_path_free(run_dir / layout.METRICS, metric.key, "metric key")
            folders.append_metrics(run_dir, [metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_key(key, "tag key")
        with self._tree.lock:
            run_dir, _info = self._tree.active_run(run_id)
            folders.delete_tag_file(run_dir, key, f"run {run_id!r}")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        validate_batch(metrics, params, tags)
        run_name = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
        if run_name is not None:
            validate_run_name(run_name)
        tree = self._tree
        with tree.lock:
            run_dir, info = tree.active_run(run_id)
            new_params = folders.check_batch(run_dir, run_id, metrics, params, tags)
            tree.write_keys(run_dir, layout.PARAMS, [(p.key, p.value) for p in new_params])
            folders.append_metrics(run_dir, metrics)
            tree.write_keys(run_dir, layout.TAGS, [(t.key, t.value) for t in tags])
            if run_name is not None and run_name != info.run_name:
                # MLflow keeps meta.yaml's run_name in step with the mlflow.runName tag.
                tree.write_run_meta(run_dir, replace(info, run_name=run_name))

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        items = validate_dataset_inputs(datasets)
        with self._tree.lock:
            run_dir, _info = self._tree.active_run(run_id)
            inputs.write_inputs(run_dir, run_id, items)

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        validate_key(metric_key, "metric key")
        run_dir, _info = self._tree.run_info(run_id)
        path = run_dir / layout.METRICS / metric_key
        if not path.is_file():
            return []
        points = folders.read_metric_file(metric_key, path)
        return sorted(points, key=lambda m: (m.step, m.timestamp))

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        prepared = prepare_run_search(filter_string, order_by, max_results, page_token)
        return prepared.page(self._runs_in(experiment_ids, run_view_type))

    def _runs_in(self, experiment_ids: Sequence[str], view_type: ViewType) -> Iterator[Run]:
        """The runs of ``experiment_ids`` in ``view_type``; unknown experiments have none."""
        for experiment_id in dict.fromkeys(experiment_ids):
            validate_experiment_id(experiment_id)
            folder = self._tree.experiment_dir(experiment_id)
            if folder is None:
                continue
            for run_dir, info in folders.run_infos(folder):
                if view_type.admits(info.lifecycle_stage):
                    yield folders.read_run(run_dir, info)

    # -- history import (kiln.store.protocols.history.HistoryImport) --------------------

    def import_experiment(self, experiment: Experiment) -> str:
        """See ``kiln.store.file.history.import_experiment``."""
        return history.import_experiment(self._tree, experiment)

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """See ``kiln.store.file.history.import_run``."""
        return history.import_run(self._tree, run, experiment_id, metrics)


# -- module helpers -----------------------------------------------------------------------


def open_file_store(
    uri: str,
    *,
    workspace: str,
    artifact_root: str | None = None,
) -> FileTrackingStore:
    """Open (creating if needed) the mlruns folder a ``file:`` URI names.

    Args:
        uri: ``file:///abs/mlruns``, ``file:relative/mlruns`` or a bare path.
        workspace: must be ``default``: the mlruns layout has no tenants.
        artifact_root: where new experiments put artifacts (default: the folder itself,
            as MLflow does).

    Raises:
        InvalidInput: a workspace other than ``default``.
        InvalidUri: not a local file URI.
    """
    root = folders.mlruns_root(uri, workspace, "store")
    return FileTrackingStore(root, artifact_root=artifact_root)


__all__ = ["FileTrackingStore", "open_file_store"]
