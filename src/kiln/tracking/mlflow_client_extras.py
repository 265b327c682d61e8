"""``MlflowClient``'s methods beyond ``KilnClient``'s: tables, images, streams, and the
asynchronous path of ``log_metric(..., synchronous=False)``.

Kept apart from ``mlflow_client.py`` (which holds the constructor and the registry) so
each module stays short; ``MlflowClient`` derives from ``ClientExtras``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from kiln.entities import Metric, Param, RunTag
from kiln.tracking import async_logging, images, tables
from kiln.tracking.async_logging import RunOperations
from kiln.tracking.client import KilnClient

if TYPE_CHECKING:
    import pandas as pd


class ClientExtras(KilnClient):
    """The methods ``MlflowClient`` adds to ``KilnClient`` with MLflow's signatures."""

    _plain: KilnClient | None = None

    def _queue_if_async(
        self,
        run_id: str,
        synchronous: bool | None,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> RunOperations | None:
        """Queue the call when ``synchronous`` (or, unset, the process default) says so;
        None means the caller logs it now.

        The queue's worker sends through a plain ``KilnClient`` on the same store, whose
        ``log_batch`` has no ``synchronous`` to send it back to the queue.
        """
        if not async_logging.is_async(synchronous):
            return None
        if self._plain is None:
            self._plain = KilnClient(
                self.store,
                self._open_artifacts,
                clock=self._clock,
                artifact_options=self.artifact_options,
            )
        return async_logging.submit(self._plain, run_id, metrics, params, tags)

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """A numpy array, PIL image or ``kiln.Image`` as the file ``artifact_file``, or
        with ``key`` as a step of an image chart (``kiln.tracking.images``); Kiln writes
        the files at once, whatever ``synchronous`` says."""
        images.log_image(self, run_id, image, artifact_file, key, step, timestamp)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Log (or append to) a ``.json``/``.parquet`` table (``kiln.tracking.tables``)."""
        tables.log_table(self, run_id, data, artifact_file)

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: Sequence[str] | None = None,
        extra_columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The table of every run of the experiment that logged it, concatenated."""
        return tables.load_table(self, experiment_id, artifact_file, run_ids, extra_columns)

    def log_stream(self, run_id: str, stream: BinaryIO, artifact_file: str) -> None:
        """A binary file-like object as the file ``artifact_file``, copied in chunks."""
        from kiln.tracking.fluent_artifacts import log_stream_to

        log_stream_to(self, run_id, stream, artifact_file)


__all__ = ["ClientExtras"]
