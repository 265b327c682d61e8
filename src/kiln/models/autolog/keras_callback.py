"""``MlflowCallback``: what Keras autolog adds to a fit, also for hand-written use
(``mlflow.keras.MlflowCallback``).

It subclasses ``keras.callbacks.Callback``, so this module imports Keras; the
autolog module imports it only when a fit is logged, and ``import kiln.keras``
stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import keras

from kiln.errors import InvalidInput
from kiln.models.autolog.patching import truncate_params
from kiln.models.autolog.runs import guarded

SUMMARY_FILE = "model_summary.txt"
_log = logging.getLogger("kiln.autolog.keras")


def check_frequency(log_every_epoch: bool, log_every_n_steps: int | None) -> None:
    """MLflow's rule: log per epoch, or every n steps, never both, never neither.

    Raises:
        InvalidInput: both or neither chosen, or a step count below 1.
    """
    if log_every_epoch and log_every_n_steps is not None:
        raise InvalidInput(
            "`log_every_n_steps` must be None if `log_every_epoch=True`, received "
            f"`log_every_epoch={log_every_epoch}` and `log_every_n_steps={log_every_n_steps}`."
        )
    if not log_every_epoch and log_every_n_steps is None:
        raise InvalidInput(
            "`log_every_n_steps` must be specified if `log_every_epoch=False`, received "
            "`log_every_epoch=False` and `log_every_n_steps=None`."
        )
    if log_every_n_steps is not None and log_every_n_steps < 1:
        raise InvalidInput(f"`log_every_n_steps` must be at least 1, got {log_every_n_steps}.")


class MlflowCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Logs a Keras fit to a run: optimizer params and the model summary when training
    begins, metrics every epoch (or every ``log_every_n_steps`` optimizer steps).

    ``run_id`` names the run; without it the active run (or a new one) is used,
    as ``mlflow.keras.MlflowCallback`` does. Logging errors become warnings.
    """

    def __init__(
        self,
        log_every_epoch: bool = True,
        log_every_n_steps: int | None = None,
        run_id: str | None = None,
    ) -> None:
        check_frequency(log_every_epoch, log_every_n_steps)
        super().__init__()
        self.log_every_epoch = log_every_epoch
        self.log_every_n_steps = log_every_n_steps
        self.run_id = run_id
        if log_every_n_steps is None:
            # Keras' own no-op: with no batch hook overridden, Keras may dispatch the
            # fit's callbacks asynchronously (JAX, PyTorch backends).
            self.on_batch_end = super().on_batch_end  # type: ignore[method-assign]

    @contextmanager
    def _safe(self, what: str) -> Iterator[None]:
        with guarded(_log, f"keras autolog could not log {what}"):
            yield

    def _metrics(self, logs: Mapping[str, Any], step: int | None) -> None:
        from kiln.tracking import fluent

        values = {str(k): float(v) for k, v in logs.items()}
        if values:
            fluent.log_metrics(values, step=step, run_id=self.run_id)

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        from kiln.tracking import fluent
        from kiln.tracking.fluent_artifacts import log_text

        with self._safe("the optimizer params"):
            config = self.model.optimizer.get_config()
            params = {f"optimizer_{k}": v for k, v in config.items()}
            fluent.log_params(truncate_params(params), run_id=self.run_id)
        with self._safe(SUMMARY_FILE):
            lines: list[str] = []
            self.model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
            log_text("\n".join(lines), SUMMARY_FILE, run_id=self.run_id)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if not self.log_every_epoch or logs is None:
            return
        with self._safe("the epoch metrics"):
            self._metrics(logs, epoch)

    def on_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.log_every_n_steps is None or logs is None:
            return
        with self._safe("the step metrics"):
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            if step % self.log_every_n_steps == 0:
                self._metrics(logs, step)

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if logs is None:
            return
        with self._safe("the validation metrics"):
            self._metrics({f"validation_{k}": v for k, v in logs.items()}, None)


MLflowCallback = MlflowCallback  # MLflow's other spelling


__all__ = ["SUMMARY_FILE", "MLflowCallback", "MlflowCallback", "check_frequency"]
