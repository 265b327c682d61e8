"""Checkpoints of a Lightning fit as run artifacts, and loading them back (MLflow's layout).

``CheckpointHooks`` is MLflow's ``MlflowModelCheckpointCallback`` (autolog adds one
unless the trainer has one; ``kiln.pytorch.MlflowModelCheckpointCallback`` is the
class for users). Best-only checkpoints go to ``checkpoints/latest_checkpoint.pth``
(overwritten when the monitored metric improves), the others to
``checkpoints/epoch_<n>/checkpoint.pth`` or ``checkpoints/global_step_<n>/...``,
each with its metrics JSON; the ``mlflow.latest_checkpoint_artifact`` tag names
the newest. ``load_checkpoint`` reads them back into a ``LightningModule``.
"""

from __future__ import annotations

import logging
import posixpath
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.autolog.pytorch_callbacks import float_metrics, safe_hook

LATEST_CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"
CHECKPOINT_DIR = "checkpoints"
_log = logging.getLogger("kiln.autolog.pytorch")


def check_checkpoint_options(monitor: str | None, mode: str, save_best_only: bool) -> None:
    """MLflow's checks of the checkpoint options (it makes them when the callback is built).

    Raises:
        InvalidInput: best-only checkpoints without a monitor, or a mode not min/max.
    """
    if not save_best_only:
        return
    if monitor is None:
        raise InvalidInput(
            "If checkpoint 'save_best_only' config is set to True, you need to set "
            "'monitor' config as well."
        )
    if mode not in ("min", "max"):
        raise InvalidInput(
            "If checkpoint 'save_best_only' config is set to True, you need to set 'mode' "
            "config and available modes includes 'min' and 'max', but you set "
            f"'mode' to '{mode}'."
        )


class CheckpointHooks:
    """MLflow's ``MlflowModelCheckpointCallback``: checkpoints as run artifacts.

    Logs to ``run_id``, or to the active run when it is None.
    """

    kiln_autolog = False

    def __init__(
        self,
        monitor: str | None = "val_loss",
        mode: str = "min",
        save_best_only: bool = True,
        save_weights_only: bool = False,
        save_freq: str | int = "epoch",
        run_id: str | None = None,
    ) -> None:
        check_checkpoint_options(monitor, mode, save_best_only)
        self.monitor = monitor
        self.mode = mode
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.run_id = run_id
        self.last_monitor_value: float | None = None
        self.trainer: Any = None

    def _better(self, value: float) -> bool:
        last = self.last_monitor_value
        if last is None:
            return True
        return value < last if self.mode == "min" else value > last

    def _place(self, epoch: int, global_step: int) -> tuple[str, str, str]:
        """(artifact folder, checkpoint file name, metrics file name), MLflow's layout."""
        weights = ".weights" if self.save_weights_only else ""
        prefix = "latest_" if self.save_best_only else ""
        folder = CHECKPOINT_DIR
        if not self.save_best_only:
            sub = f"epoch_{epoch}" if self.save_freq == "epoch" else f"global_step_{global_step}"
            folder = f"{CHECKPOINT_DIR}/{sub}"
        return folder, f"{prefix}checkpoint{weights}.pth", f"{prefix}checkpoint_metrics.json"

    def save_checkpoint(self, filepath: str) -> None:
        # not trainer.save_checkpoint: its barrier would hang when only rank 0 calls it
        trainer = self.trainer
        checkpoint = trainer._checkpoint_connector.dump_checkpoint(self.save_weights_only)
        trainer.strategy.save_checkpoint(checkpoint, filepath)

    def check_and_save(self, epoch: int, global_step: int, metrics: Mapping[str, float]) -> None:
        from kiln.tracking import fluent
        from kiln.tracking.fluent_artifacts import log_artifact, log_dict

        if self.save_best_only:
            if self.monitor not in metrics:
                _log.warning(
                    "Checkpoint logging is skipped: checkpoint 'save_best_only' compares the "
                    "monitored metric %r, which is not available.",
                    self.monitor,
                )
                return
            value = metrics[str(self.monitor)]
            if not self._better(value):
                return
            self.last_monitor_value = value
        folder, model_file, metrics_file = self._place(epoch, global_step)
        fluent.set_tags({LATEST_CHECKPOINT_TAG: f"{folder}/{model_file}"}, run_id=self.run_id)
        log_dict(
            {**metrics, "epoch": epoch, "global_step": global_step},
            f"{folder}/{metrics_file}",
            run_id=self.run_id,
        )
        with tempfile.TemporaryDirectory(prefix="kiln-checkpoint-") as tmp:
            path = Path(tmp) / model_file
            self.save_checkpoint(str(path))
            log_artifact(path, folder, run_id=self.run_id)

    @safe_hook
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.trainer = trainer

    @safe_hook
    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        step = trainer.global_step
        if isinstance(self.save_freq, int) and step > 0 and step % self.save_freq == 0:
            self.check_and_save(
                trainer.current_epoch, step, float_metrics(trainer.callback_metrics)
            )

    @safe_hook
    def on_train_epoch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if self.save_freq == "epoch":
            self.check_and_save(
                trainer.current_epoch, trainer.global_step, float_metrics(trainer.callback_metrics)
            )


def checkpoint_artifact(
    run_id: str | None = None, epoch: int | None = None, global_step: int | None = None
) -> tuple[str, str]:
    """(run id, artifact path) of the run's latest checkpoint, or of the one at ``epoch``
    or ``global_step``.

    Raises:
        InvalidInput: no run given or active, no checkpoint logged, or both
            ``epoch`` and ``global_step``.
    """
    from kiln.tracking import fluent

    if run_id is None:
        active = fluent.active_run()
        if active is None:
            raise InvalidInput(
                "There is no active run, please provide the 'run_id' argument for "
                "'load_checkpoint' invocation."
            )
        run_id = active.info.run_id
    latest = fluent.get_run(run_id).data.tags.get(LATEST_CHECKPOINT_TAG)
    if latest is None:
        raise InvalidInput("There is no logged checkpoint artifact in the current run.")
    if epoch is not None and global_step is not None:
        raise InvalidInput(
            "Only one of 'epoch' and 'global_step' can be set for 'load_checkpoint'."
        )
    name = posixpath.basename(latest)
    if global_step is not None:
        return run_id, f"{CHECKPOINT_DIR}/global_step_{global_step}/{name}"
    if epoch is not None:
        return run_id, f"{CHECKPOINT_DIR}/epoch_{epoch}/{name}"
    return run_id, latest


def load_checkpoint(
    model_class: Any,
    run_id: str | None = None,
    epoch: int | None = None,
    global_step: int | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """``model_class.load_from_checkpoint`` on a checkpoint that autolog logged to the run.

    Raises:
        InvalidInput: as ``checkpoint_artifact``.
        NotFound: no checkpoint at that epoch or step.
    """
    from kiln.tracking import fluent

    run_id, path = checkpoint_artifact(run_id, epoch, global_step)
    with tempfile.TemporaryDirectory(prefix="kiln-checkpoint-") as tmp:
        local = fluent._client().download_artifacts(run_id, path, tmp)
        return model_class.load_from_checkpoint(str(Path(local)), **dict(kwargs or {}))


def user_callback_class() -> type[CheckpointHooks]:
    """``MlflowModelCheckpointCallback`` for users: a ``pytorch_lightning`` callback as
    MLflow's is (``lightning``'s when only that is installed)."""
    import importlib.util

    from kiln.models.autolog.pytorch_callbacks import callback_classes

    found = importlib.util.find_spec("pytorch_lightning") is not None
    return callback_classes("pytorch_lightning" if found else "lightning.pytorch")[1]


__all__ = [
    "CHECKPOINT_DIR",
    "LATEST_CHECKPOINT_TAG",
    "CheckpointHooks",
    "check_checkpoint_options",
    "checkpoint_artifact",
    "load_checkpoint",
    "user_callback_class",
]
