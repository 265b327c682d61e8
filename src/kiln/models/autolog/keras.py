"""Keras 3 autolog: what ``mlflow.keras.autolog()`` logs, under the same names.

``autolog()`` patches ``keras.Model.fit``. Each (outermost) fit logs to the
active run or to a run it starts (tagged ``mlflow.autologging=keras``) and ends
(FINISHED, or FAILED when the fit raises):

* params: every argument of ``fit`` as called or by its default, except ``x``,
  ``y``, ``callbacks``, ``validation_data`` and ``verbose`` (``batch_size`` is
  read from a batched dataset when not given), and ``optimizer_<key>`` for each
  key of the optimizer's ``get_config()``;
* metrics: Keras' epoch logs (``loss``, ``val_loss``, ...) at step = epoch, or
  with ``log_every_n_steps`` the batch logs at step = optimizer iteration; each
  validation pass also logs ``validation_<name>`` (at step 0, as MLflow does);
* artifacts: ``model_summary.txt`` and the model at ``model``
  (``kiln.keras.log_model``) with a tensor signature from the model's input and
  output shapes;
* datasets: the training data (context ``train``) and a ``validation_data``
  keyword argument (``eval``).

MLflow 3 puts the model in a LoggedModel; Kiln keeps it in the run at
``model``, as ``kiln.sklearn.autolog`` does. As in MLflow, ``log_input_examples``
is accepted and logs nothing: the signature comes from the model itself. The
callback logs synchronously; a failure while logging is a warning, never the
user's fit failing. ``MlflowCallback`` is the same callback for hand-written
use, as ``mlflow.keras.MlflowCallback``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiln.models.autolog.keras_data import infer_batch_size, log_datasets
from kiln.models.autolog.patching import (
    rerouted_warnings,
    truncate_params,
)
from kiln.models.autolog.runs import (
    FitState,
    Settings,
    autolog_run,
    checked_tags,
    guarded,
)

FLAVOR_NAME = "keras"
UNLOGGED_PARAMS = ("self", "x", "y", "callbacks", "validation_data", "verbose")
_CALLBACKS_POSITION = 5  # fit(x, y, batch_size, epochs, verbose, callbacks, ...)
_log = logging.getLogger("kiln.autolog.keras")


@dataclass
class Config(Settings):
    log_every_epoch: bool = True
    log_every_n_steps: int | None = None
    save_exported_model: bool = False
    save_model_kwargs: dict[str, Any] | None = None


_state: FitState[Config] = FitState()


def fit_params(
    fit: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], unlogged: set[str]
) -> dict[str, Any]:
    """The arguments of a ``fit`` call by name, defaults filled in, ``unlogged`` left out."""
    parameters = [p for p in inspect.signature(fit).parameters.values() if p.name != "self"]
    values = {p.name: p.default for p in parameters}
    values.update(zip((p.name for p in parameters), args, strict=False))
    values.update(kwargs)
    return {k: v for k, v in values.items() if k not in unlogged}


def model_signature(model: Any) -> Any:
    """Tensor specs from the model's input/output shapes (MLflow's ``get_model_signature``)."""
    import numpy as np

    from kiln.models.signature import ModelSignature, Schema, TensorSpec

    def specs(shapes: Any, dtype: Any) -> Schema:
        shapes = shapes if isinstance(shapes, list) else [shapes]
        name = str(np.dtype(dtype))
        return Schema(
            tuple(TensorSpec(name, tuple(-1 if d is None else int(d) for d in s)) for s in shapes)
        )

    return ModelSignature(
        inputs=specs(model.input_shape, model.input_dtype),
        outputs=specs(model.output_shape, model.compute_dtype),
    )


def _callbacks(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    if len(args) > _CALLBACKS_POSITION:
        return list(args[_CALLBACKS_POSITION] or [])
    return list(kwargs.get("callbacks") or [])


def _with_callbacks(
    args: tuple[Any, ...], kwargs: dict[str, Any], callbacks: list[Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call with ``callbacks`` in place of the user's list (which is left unchanged)."""
    if len(args) > _CALLBACKS_POSITION:
        n = _CALLBACKS_POSITION
        return (*args[:n], callbacks, *args[n + 1 :]), kwargs
    return args, {**kwargs, "callbacks": callbacks}


def _log_model(config: Config, model: Any) -> None:
    from kiln.models import keras as flavor

    signature = None
    if config.log_model_signatures:
        try:
            signature = model_signature(model)
        except Exception as exc:
            _log.warning("the model signature could not be inferred: %s", exc)
    flavor.log_model(
        model,
        "model",
        signature=signature,
        registered_model_name=config.registered_model_name,
        save_model_kwargs=config.save_model_kwargs,
        save_exported_model=config.save_exported_model,
    )


def _logged_fit(
    config: Config,
    original: Callable[..., Any],
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    from kiln.tracking import fluent

    with autolog_run(FLAVOR_NAME, config.extra_tags, _log, config.silent) as run:
        if run is None:
            return original(model, *args, **kwargs)
        run_id = run.info.run_id
        with guarded(_log, "keras autolog could not log the fit's params"):
            batch_size, args, kwargs = infer_batch_size(model, args, kwargs)
            params = fit_params(original, args, kwargs, set(UNLOGGED_PARAMS))
            if batch_size is not None:
                params["batch_size"] = batch_size
            fluent.log_params(truncate_params(params), run_id=run_id)
        if config.log_datasets:
            with rerouted_warnings(_log):
                log_datasets(args, kwargs, run_id, _log)
        callbacks = _callbacks(args, kwargs)
        from kiln.models.autolog.keras_callback import MlflowCallback

        if any(isinstance(c, MlflowCallback) for c in callbacks):
            _log.warning(
                "an MlflowCallback is already in the callback list: keras autolog adds none "
                "(call kiln.keras.autolog(disable=True) or remove the callback)"
            )
        else:
            callback = MlflowCallback(config.log_every_epoch, config.log_every_n_steps, run_id)
            args, kwargs = _with_callbacks(args, kwargs, [*callbacks, callback])
        history = original(model, *args, **kwargs)
        if config.log_models:
            with guarded(_log, "keras autolog could not log the model"):
                _log_model(config, model)
        return history


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _state.logging_fit(self) as config:
            if config is None:
                return original(self, *args, **kwargs)
            return _logged_fit(config, original, self, args, kwargs)

    return patched


def autolog(
    log_every_epoch: bool = True,
    log_every_n_steps: int | None = None,
    log_models: bool = True,
    log_model_signatures: bool = True,
    save_exported_model: bool = False,
    log_datasets: bool = True,
    log_input_examples: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Turn Keras autolog on (again, with these settings) or off (``disable``).

    Raises:
        InvalidInput: both or neither of ``log_every_epoch`` and ``log_every_n_steps``,
            or ``extra_tags`` that is not a mapping.
    """
    tags = checked_tags(extra_tags)
    _state.patches.restore()
    _state.config = None
    if disable:
        return
    import keras

    from kiln.models.autolog.keras_callback import check_frequency

    check_frequency(log_every_epoch, log_every_n_steps)
    _state.config = Config(
        log_every_epoch=log_every_epoch,
        log_every_n_steps=log_every_n_steps,
        log_models=log_models,
        log_model_signatures=log_model_signatures,
        save_exported_model=save_exported_model,
        log_datasets=log_datasets,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        save_model_kwargs=dict(save_model_kwargs) if save_model_kwargs else None,
        extra_tags=tags,
    )
    _state.patches.patch_method(keras.Model, "fit", _fit_wrapper)


def enabled() -> bool:
    """Whether Keras autolog is on in this process."""
    return _state.config is not None


_CALLBACK_NAMES = ("MLflowCallback", "MlflowCallback", "SUMMARY_FILE", "check_frequency")


def __getattr__(name: str) -> Any:
    """The callback's names, from ``keras_callback`` (it imports Keras) on first use."""
    if name in _CALLBACK_NAMES:
        from kiln.models.autolog import keras_callback

        return getattr(keras_callback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FLAVOR_NAME",
    "autolog",
    "enabled",
    "fit_params",
    "model_signature",
]
