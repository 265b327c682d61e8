"""PyTorch Lightning autolog: what ``mlflow.pytorch.autolog()`` logs, under the same names.

``autolog()`` patches ``Trainer.fit`` of ``lightning`` and of ``pytorch_lightning``
(two distributions, two ``Trainer`` classes; each that is installed). A fit logs
to the active run or to a run it starts (tagged ``mlflow.autologging=pytorch``
and ``extra_tags``) and ends (FINISHED, or FAILED when the fit raises):

* before the fit: each ``EarlyStopping`` callback's ``monitor``, ``mode``,
  ``patience``, ``min_delta`` and ``stopped_epoch`` as params;
* during it, through callbacks added to the trainer
  (``kiln.models.autolog.pytorch_callbacks``): the ``Mode`` tag, ``epochs``,
  ``optimizer_name`` and the optimizer's defaults, the metrics of
  ``trainer.callback_metrics`` per epoch (and per step with ``log_every_n_step``),
  and with ``checkpoint`` the checkpoints under ``checkpoints/``
  (``kiln.models.autolog.pytorch_checkpoint``);
* after it: ``stopped_epoch``, ``restored_epoch``, ``best_score`` and
  ``wait_count`` when early stopping stopped the fit; ``model_summary.txt``; the
  model at ``model`` (pickled, signature from the first training batch's forward
  input and output), and with early stopping the trainer's best checkpoint under
  ``restored_model_checkpoint``.

Unlike MLflow (which only recognises ``pytorch_lightning``'s class), the
``EarlyStopping`` of the trainer's own package is recognised, so ``lightning``
users get the early-stopping params and metrics too. Anything that fails while
logging is a warning; the fit always runs and its result or error is the user's.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.autolog.patching import (
    truncate_params,
)
from kiln.models.autolog.pytorch_callbacks import callback_classes
from kiln.models.autolog.pytorch_checkpoint import CheckpointHooks, check_checkpoint_options
from kiln.models.autolog.runs import (
    FitState,
    Settings,
    autolog_run,
    checked_tags,
    guarded,
)

FLAVOR_NAME = "pytorch"
# import name of each Lightning distribution -> the package that holds its Trainer
PACKAGES = {"lightning": "lightning.pytorch", "pytorch_lightning": "pytorch_lightning"}
_EARLY_STOP_PARAMS = ("monitor", "mode", "patience", "min_delta", "stopped_epoch")
_log = logging.getLogger("kiln.autolog.pytorch")


@dataclass
class Config(Settings):
    log_every_n_epoch: int = 1
    log_every_n_step: int | None = None
    checkpoint: bool = True
    checkpoint_monitor: str | None = "val_loss"
    checkpoint_mode: str = "min"
    checkpoint_save_best_only: bool = True
    checkpoint_save_weights_only: bool = False
    checkpoint_save_freq: str | int = "epoch"


_state: FitState[Config] = FitState()


def early_stop_params(callback: Any) -> dict[str, Any]:
    return {p: getattr(callback, p) for p in _EARLY_STOP_PARAMS if hasattr(callback, p)}


def early_stop_metrics(callback: Any) -> dict[str, float]:
    """What early stopping did, as MLflow logs it; nothing when it did not stop the fit."""
    stopped = callback.stopped_epoch
    if stopped == 0:
        return {}
    metrics = {
        "stopped_epoch": float(stopped),
        "restored_epoch": float(stopped - max(1, callback.patience)),
    }
    if hasattr(callback, "best_score"):
        metrics["best_score"] = float(callback.best_score)
    if hasattr(callback, "wait_count"):
        metrics["wait_count"] = float(callback.wait_count)
    return metrics


class _Fit:
    """One logged ``Trainer.fit``: the callbacks it adds and what it logs around them."""

    def __init__(self, config: Config, package: str, trainer: Any, run_id: str) -> None:
        self.config = config
        self.package = importlib.import_module(package)
        self.trainer = trainer
        self.run_id = run_id
        self.hooks_class, self.checkpoint_class = callback_classes(package)
        self.hooks: Any = None

    def early_stopping(self) -> list[Any]:
        kind = self.package.callbacks.EarlyStopping
        return [c for c in self.trainer.callbacks if isinstance(c, kind)]

    def before(self) -> None:
        from kiln.tracking import fluent

        config, trainer = self.config, self.trainer
        for callback in self.early_stopping():
            fluent.log_params(truncate_params(early_stop_params(callback)), run_id=self.run_id)
        # a trainer fitted again logs to this fit's run: earlier autolog callbacks go
        callbacks = [c for c in trainer.callbacks if not getattr(c, "kiln_autolog", False)]
        self.hooks = self.hooks_class(
            self.run_id,
            config.log_models,
            config.log_every_n_epoch,
            config.log_every_n_step,
            config.log_model_signatures,
        )
        callbacks.append(self.hooks)
        # the user's MlflowModelCheckpointCallback (of either package) replaces autolog's
        if config.checkpoint and not any(isinstance(c, CheckpointHooks) for c in callbacks):
            checkpoint = self.checkpoint_class(
                monitor=config.checkpoint_monitor,
                mode=config.checkpoint_mode,
                save_best_only=config.checkpoint_save_best_only,
                save_weights_only=config.checkpoint_save_weights_only,
                save_freq=config.checkpoint_save_freq,
                run_id=self.run_id,
            )
            checkpoint.kiln_autolog = True
            callbacks.append(checkpoint)
        trainer.callbacks = callbacks

    def signature(self) -> Any:
        from kiln.models.signature import infer_signature

        example = self.hooks.example if self.hooks is not None else None
        if example is None:
            return None
        try:
            return infer_signature(example[0].numpy(), example[1].numpy())
        except Exception as exc:
            _log.warning(
                "Inferring model signature failed, skip logging signature. You need to "
                "manually log the model with a provided signature after training: %s",
                exc,
            )
            return None

    def after(self) -> None:
        from kiln.models import pytorch as flavor
        from kiln.tracking import fluent
        from kiln.tracking.fluent_artifacts import log_artifact, log_text

        config, trainer = self.config, self.trainer
        early = self.early_stopping()
        if early:
            metrics = early_stop_metrics(early[-1])
            if metrics:
                fluent.log_metrics(metrics, step=0, run_id=self.run_id)
        try:
            summaries = importlib.import_module(f"{self.package.__name__}.utilities.model_summary")
            summary = summaries.ModelSummary(trainer.model, max_depth=-1)
            log_text(str(summary), "model_summary.txt", run_id=self.run_id)
        except Exception as exc:
            _log.warning("model_summary.txt is not logged: %s", exc)
        if not config.log_models:
            return
        try:
            flavor.log_model(
                trainer.model,
                "model",
                signature=self.signature(),
                serialization_format="pickle",
                registered_model_name=config.registered_model_name,
            )
        except Exception as exc:
            _log.warning("the model is not logged: %s", exc)
        best = getattr(trainer.checkpoint_callback, "best_model_path", None)
        if early and best:
            log_artifact(best, "restored_model_checkpoint", run_id=self.run_id)


def _fit_wrapper(package: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _state.logging_fit(self) as config:
                if config is None:
                    return original(self, *args, **kwargs)
                return _logged_fit(config, package, original, self, args, kwargs)

        return patched

    return make


def _logged_fit(
    config: Config,
    package: str,
    original: Callable[..., Any],
    trainer: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    with autolog_run(FLAVOR_NAME, config.extra_tags, _log, config.silent) as run:
        if run is None:
            return original(trainer, *args, **kwargs)
        fit: _Fit | None = None
        with guarded(_log, "pytorch autolog could not log before the fit"):
            starting = _Fit(config, package, trainer, run.info.run_id)
            starting.before()
            fit = starting
        try:
            result = original(trainer, *args, **kwargs)
        finally:
            if fit is not None and fit.hooks is not None:
                fit.hooks.restore_forward()
        if fit is not None:
            with guarded(_log, "pytorch autolog could not log after the fit"):
                fit.after()
        return result


def installed_packages() -> list[str]:
    """The Lightning packages (``lightning.pytorch``, ``pytorch_lightning``) installed."""
    return [
        package for name, package in PACKAGES.items() if importlib.util.find_spec(name) is not None
    ]


def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    checkpoint: bool = True,
    checkpoint_monitor: str | None = "val_loss",
    checkpoint_mode: str = "min",
    checkpoint_save_best_only: bool = True,
    checkpoint_save_weights_only: bool = False,
    checkpoint_save_freq: str | int = "epoch",
    log_model_signatures: bool = True,
) -> None:
    """Turn PyTorch Lightning autolog on (again, with these settings) or off (``disable``).

    ``log_datasets`` and ``disable_for_unsupported_versions`` are accepted as
    MLflow's are (its Lightning autolog logs no datasets).

    Raises:
        InvalidInput: ``extra_tags`` that is not a mapping, ``log_every_n_epoch`` or
            ``log_every_n_step`` under 1, a ``checkpoint_save_freq`` that is neither
            ``"epoch"`` nor a positive int, or best-only checkpoints without a
            monitor or with a mode other than min/max (MLflow finds these at fit).
    """
    tags = checked_tags(extra_tags)
    if log_every_n_epoch < 1 or (log_every_n_step is not None and log_every_n_step < 1):
        raise InvalidInput("log_every_n_epoch and log_every_n_step must be at least 1")
    if checkpoint_save_freq != "epoch" and not (
        isinstance(checkpoint_save_freq, int) and checkpoint_save_freq > 0
    ):
        raise InvalidInput(
            f"checkpoint_save_freq must be 'epoch' or a positive int, not {checkpoint_save_freq!r}"
        )
    if checkpoint:
        check_checkpoint_options(checkpoint_monitor, checkpoint_mode, checkpoint_save_best_only)
    _state.patches.restore()
    _state.config = None
    if disable:
        return
    _state.config = Config(
        log_every_n_epoch=log_every_n_epoch,
        log_every_n_step=log_every_n_step,
        log_models=log_models,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        extra_tags=tags,
        checkpoint=checkpoint,
        checkpoint_monitor=checkpoint_monitor,
        checkpoint_mode=checkpoint_mode,
        checkpoint_save_best_only=checkpoint_save_best_only,
        checkpoint_save_weights_only=checkpoint_save_weights_only,
        checkpoint_save_freq=checkpoint_save_freq,
        log_model_signatures=log_model_signatures,
    )
    for package in installed_packages():
        trainer = importlib.import_module(package).Trainer
        _state.patches.patch_method(trainer, "fit", _fit_wrapper(package))


def enabled() -> bool:
    """Whether PyTorch Lightning autolog is on in this process."""
    return _state.config is not None


__all__ = ["FLAVOR_NAME", "autolog", "early_stop_metrics", "early_stop_params", "enabled"]
