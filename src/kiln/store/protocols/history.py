"""The optional ``HistoryImport`` capability of a tracking store (``kiln import``).

``kiln.store.transfer.history.copy_history`` keeps run ids, times and lifecycle
stages when the destination implements it; otherwise runs are re-created with new
ids. The memory, SQL and file stores implement it; the REST store does not (the
REST API has no call that writes a run as it was). The contract suite is
``kiln.testing.contracts.history.HistoryImportContract``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kiln.entities import Experiment, Metric, Run, RunInfo


@runtime_checkable
class HistoryImport(Protocol):
    """Optional capability of a tracking store: re-create history as it was.

    A store that implements it lets ``copy_history`` keep run ids, times and
    lifecycle stages. Both methods write what they are given, bypassing the rules
    that apply to live logging (runs may go into deleted experiments, start and
    end times and status are taken as given). Implemented by the file store;
    the SQL and memory stores implement it with the same semantics.
    """

    def import_experiment(self, experiment: Experiment) -> str:
        """Create an experiment like ``experiment`` and return its id here.

        Copies name, tags, lifecycle stage, ``creation_time`` and
        ``last_update_time``. The artifact location is the store's default for
        the new id (the source location belongs to the source). A store may keep
        ``experiment.experiment_id`` when that id is free, or assign its own.

        Raises:
            AlreadyExists: an experiment with this name exists (active or deleted).
            InvalidInput: the name or a tag fails validation.
        """
        ...

    def import_run(self, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> RunInfo:
        """Create a run like ``run`` in experiment ``experiment_id``; return its info here.

        Keeps ``run.info``'s run id, run name, user id, status, start and end time
        and lifecycle stage (a run in a deleted experiment is stored deleted);
        params and tags come from ``run.data`` exactly (``mlflow.runName``
        included); ``run.inputs`` are linked as ``log_inputs`` would (datasets
        deduplicated per experiment); ``metrics`` is the full history, each
        point (key, timestamp, step, value) stored once, as ``log_batch`` does.
        ``run.data.metrics`` is ignored. The artifact URI is the store's own
        (``<experiment artifact location>/<run_id>/artifacts`` by default).
        All or nothing: on error no part of the run is visible.

        Raises:
            AlreadyExists: a run with this id exists in the store.
            NotFound: no experiment ``experiment_id``.
            InvalidInput: a key or value fails validation.
        """
        ...


__all__ = ["HistoryImport"]
