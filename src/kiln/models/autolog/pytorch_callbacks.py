"""The Lightning callbacks behind ``kiln.pytorch.autolog()``: params, metrics, checkpoints.

``lightning.pytorch`` and ``pytorch_lightning`` are two distributions with two
class trees, so the callbacks are built per package (``callback_classes``) and
subclass that package's ``Callback``; the hooks themselves live in plain mixins.
What they log, under MLflow's names:

* at train start: the ``Mode=training`` tag; params ``epochs``, ``optimizer_name``
  and the first optimizer's ``defaults`` (``lr``, ``betas``, ...);
* at each ``log_every_n_epoch``-th train epoch end: ``trainer.callback_metrics``
  at step ``current_epoch`` (training and validation metrics together);
* with ``log_every_n_step``: step metrics at step ``global_step``, and these are
  then left out of the epoch metrics (as MLflow keeps the two apart);
* at test end: ``Mode=testing`` and the test metrics at step 0;
* checkpoints (``CheckpointHooks``): ``checkpoints/latest_checkpoint.pth`` (best
  only) or ``checkpoints/epoch_<n>/checkpoint.pth``, their metrics JSON and the
  ``mlflow.latest_checkpoint_artifact`` tag.

A hook that fails logs a warning and training goes on (MLflow's
``ExceptionSafeAbstractClass``); only the global-zero rank logs.
"""

from __future__ import annotations

import functools
import importlib
import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.autolog.patching import truncate_params

LATEST_CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"
CHECKPOINT_DIR = "checkpoints"
_log = logging.getLogger("kiln.autolog.pytorch")

Hook = Callable[..., None]


def _safe(hook: Hook) -> Hook:
    """Run ``hook`` on the global-zero rank only; its failure is a warning, not the fit's."""

    @functools.wraps(hook)
    def safe(self: Any, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if not getattr(trainer, "is_global_zero", True):
            return
        try:
            hook(self, trainer, *args, **kwargs)
        except Exception as exc:
            _log.warning("pytorch autolog: %s failed: %s", hook.__name__, exc)

    return safe


def optimizer_name(optimizer: Any) -> str:
    """The class name of the optimizer behind a ``LightningOptimizer`` (or of ``optimizer``)."""
    inner = getattr(optimizer, "_optimizer", optimizer)
    return type(inner).__name__


def _floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in metrics.items()}


class MetricsBuffer:
    """Metric points recorded in training, sent a step at a time at flush (MLflow batches too)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._points: list[tuple[int, int, dict[str, float]]] = []

    def record(self, metrics: Mapping[str, float], step: int = 0) -> None:
        from kiln.tracking.client import now_ms

        if metrics:
            self._points.append((step, now_ms(), dict(metrics)))

    def flush(self) -> None:
        from kiln.tracking import fluent

        points, self._points = self._points, []
        for step, when, values in points:
            fluent.log_metrics(values, step=step, run_id=self.run_id, timestamp=when)


class AutologHooks:
    """MLflow's ``__MlflowPLCallback``: params at train start, metrics per epoch/step."""

    kiln_autolog = True

    def __init__(
        self,
        run_id: str,
        log_models: bool = True,
        log_every_n_epoch: int = 1,
        log_every_n_step: int | None = None,
        log_model_signatures: bool = True,
    ) -> None:
        self.run_id = run_id
        self.metrics = MetricsBuffer(run_id)
        self.log_models = log_models
        self.log_every_n_epoch = log_every_n_epoch
        self.log_every_n_step = log_every_n_step
        self.log_model_signatures = log_model_signatures
        self._steps_per_training_step = 1
        self._step_metrics: set[str] = set()
        self._epoch_metrics: set[str] = set()
        self.example: tuple[Any, Any] | None = None  # first (input, output) of forward
        self._undo_forward: Callable[[], None] | None = None

    def _tags(self, tags: Mapping[str, str]) -> None:
        from kiln.tracking import fluent

        fluent.set_tags(tags, run_id=self.run_id)

    def _record(self, trainer: Any, step: int, metrics: Mapping[str, Any]) -> None:
        if not trainer.sanity_checking:
            self.metrics.record(_floats(metrics), step)

    @_safe
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        from kiln.tracking import fluent

        self._tags({"Mode": "training"})
        params: dict[str, Any] = {"epochs": trainer.max_epochs}
        optimizers = list(getattr(trainer, "optimizers", None) or [])
        if optimizers:
            # Lightning counts a global step per optimizer step
            self._steps_per_training_step = len(optimizers)
            params["optimizer_name"] = optimizer_name(optimizers[0])
            params.update(getattr(optimizers[0], "defaults", None) or {})
        fluent.log_params(truncate_params(params), run_id=self.run_id)
        if self.log_models and self.log_model_signatures:
            self._capture_first_forward(trainer.strategy.lightning_module)

    def _capture_first_forward(self, module: Any) -> None:
        """Keep the first training batch's forward input and output, for the signature."""
        import torch

        own = module.__dict__.get("forward")
        original = module.forward
        checked = False

        def forward(*inputs: Any, **kwargs: Any) -> Any:
            nonlocal checked
            result = original(*inputs, **kwargs)
            if not checked:
                checked = True
                if (
                    len(inputs) == 1
                    and isinstance(inputs[0], torch.Tensor)
                    and isinstance(result, torch.Tensor)
                ):
                    self.example = (inputs[0].detach().cpu(), result.detach().cpu())
            return result

        module.forward = forward

        def undo() -> None:
            if own is not None:
                module.forward = own
            elif "forward" in module.__dict__:
                del module.__dict__["forward"]

        self._undo_forward = undo

    def restore_forward(self) -> None:
        """Take the forward patch off the module (before it is pickled)."""
        undo, self._undo_forward = self._undo_forward, None
        if undo is not None:
            undo()

    def _epoch_end(self, trainer: Any, pl_module: Any) -> None:
        items = {
            name: value
            for name, value in trainer.callback_metrics.items()
            if name not in self._step_metrics
        }
        self._epoch_metrics.update(items)
        if (pl_module.current_epoch + 1) % self.log_every_n_epoch == 0:
            self._record(trainer, pl_module.current_epoch, items)
        self.metrics.flush()

    @_safe
    def on_train_epoch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        self._epoch_end(trainer, pl_module)

    @_safe
    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if not self.log_every_n_step:
            return
        metrics = trainer.callback_metrics
        # a metric logged on step and epoch is "<name>_step" here, its plain name the epoch's
        items = {
            name: value
            for name, value in metrics.items()
            if name not in self._epoch_metrics and f"{name}_step" not in metrics
        }
        self._step_metrics.update(items)
        step = trainer.global_step
        if ((step // self._steps_per_training_step) + 1) % self.log_every_n_step == 0:
            self._record(trainer, step, items)

    @_safe
    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.metrics.flush()

    @_safe
    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._tags({"Mode": "testing"})
        self.metrics.record(_floats(trainer.callback_metrics))
        self.metrics.flush()


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

    @_safe
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.trainer = trainer

    @_safe
    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        step = trainer.global_step
        if isinstance(self.save_freq, int) and step > 0 and step % self.save_freq == 0:
            self.check_and_save(trainer.current_epoch, step, _floats(trainer.callback_metrics))

    @_safe
    def on_train_epoch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if self.save_freq == "epoch":
            self.check_and_save(
                trainer.current_epoch, trainer.global_step, _floats(trainer.callback_metrics)
            )


@functools.cache
def callback_classes(package: str) -> tuple[type[AutologHooks], type[CheckpointHooks]]:
    """The autolog and checkpoint callbacks as ``<package>.Callback`` subclasses."""
    base = importlib.import_module(package).Callback
    autolog = type("KilnAutologCallback", (AutologHooks, base), {"__module__": __name__})
    checkpoint = type("MlflowModelCheckpointCallback", (CheckpointHooks, base), {})
    checkpoint.__module__ = __name__
    return autolog, checkpoint


__all__ = [
    "LATEST_CHECKPOINT_TAG",
    "AutologHooks",
    "CheckpointHooks",
    "MetricsBuffer",
    "callback_classes",
    "check_checkpoint_options",
    "optimizer_name",
]
