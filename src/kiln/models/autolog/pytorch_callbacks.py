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
* checkpoints: ``kiln.models.autolog.pytorch_checkpoint``.

A hook that fails logs a warning and training goes on (MLflow's
``ExceptionSafeAbstractClass``); only the global-zero rank logs.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kiln.models.autolog.patching import truncate_params

if TYPE_CHECKING:
    from kiln.models.autolog.pytorch_checkpoint import CheckpointHooks

_log = logging.getLogger("kiln.autolog.pytorch")

Hook = Callable[..., None]


def safe_hook(hook: Hook) -> Hook:
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


def float_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
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
            self.metrics.record(float_metrics(metrics), step)

    @safe_hook
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

    @safe_hook
    def on_train_epoch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        self._epoch_end(trainer, pl_module)

    @safe_hook
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

    @safe_hook
    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.metrics.flush()

    @safe_hook
    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._tags({"Mode": "testing"})
        self.metrics.record(float_metrics(trainer.callback_metrics))
        self.metrics.flush()


@functools.cache
def callback_classes(package: str) -> tuple[type[AutologHooks], type[CheckpointHooks]]:
    """The autolog and checkpoint callbacks as ``<package>.Callback`` subclasses."""
    from kiln.models.autolog.pytorch_checkpoint import CheckpointHooks

    base = importlib.import_module(package).Callback
    autolog = type("KilnAutologCallback", (AutologHooks, base), {"__module__": __name__})
    checkpoint = type("MlflowModelCheckpointCallback", (CheckpointHooks, base), {})
    checkpoint.__module__ = __name__
    return autolog, checkpoint


__all__ = [
    "AutologHooks",
    "MetricsBuffer",
    "callback_classes",
    "float_metrics",
    "optimizer_name",
    "safe_hook",
]
