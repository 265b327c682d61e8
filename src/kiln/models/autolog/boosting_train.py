"""One boosting library's autolog: what the XGBoost and LightGBM autologs do alike.

Both patch the library's ``train`` (and its ``sklearn`` module's, where the
Booster is not the model), its data class's ``__init__`` (to keep the first
rows as the input example) and the scikit-learn wrappers' ``fit``; a logged
``train`` logs the params, the datasets, per-iteration metrics through a
callback and then what the flavor logs after training. A ``BoostingAutolog``
holds one flavor's settings, patches and the pieces that differ (the callback,
the datasets, the after-training logging); nothing here imports a library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiln.models.autolog.boosting import (
    Config,
    MetricsBatch,
    call_params,
    log_params,
    remember_example,
    with_callback,
)
from kiln.models.autolog.boosting_sklearn import (
    LogModel,
    fit_wrapper,
    start_post_training,
    stop_post_training,
)
from kiln.models.autolog.patching import Patches, original_of
from kiln.models.autolog.runs import autolog_run, guarded

Make = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class Trained:
    """A logged ``train`` call once it returned, for the flavor's after-training logging."""

    config: Config
    run_id: str
    model: Any
    data: Any  # the training DMatrix or Dataset
    batch: MetricsBatch
    call: Mapping[str, Any]  # train's own arguments, as logged
    log_models: bool


@dataclass
class BoostingAutolog:
    """One flavor's autolog state and the pieces in which the two flavors differ."""

    name: str
    log: logging.Logger
    data_class: str  # the library's training-set class (DMatrix, Dataset)
    data_argument: str  # train's training-set parameter (dtrain, train_set)
    unlogged: Sequence[str]  # train's parameters not logged as params
    callback: Callable[[MetricsBatch], Any]
    log_datasets: Callable[[str, Any, Mapping[str, Any]], None]
    after_train: Callable[[Trained], None]
    log_model: LogModel
    config: Config | None = None
    patches: Patches = field(default_factory=Patches)
    train: Any = None  # the library's own train (LightGBM's training-session key)

    def current(self) -> Config | None:
        return self.config

    def turn_off(self) -> None:
        """Undo every patch (autolog called again, or with ``disable``)."""
        self.patches.restore()
        stop_post_training(self.name)
        self.config = None

    def turn_on(
        self, config: Config, library: Any, train: Callable[[bool], Make], classes: list[type]
    ) -> None:
        """Patch ``library.train`` (logging the model), ``library.sklearn.train`` (a
        wrapper's Booster is not the model: ``fit`` logs the wrapper), the data
        class's ``__init__`` and the wrappers' ``fit``."""
        self.config = config
        self.train = original_of(library.train)
        self.patches.patch_function(library, "train", train(True))
        self.patches.patch_function(library.sklearn, "train", train(False))
        self.patches.patch_method(getattr(library, self.data_class), "__init__", self._data_init)
        fit = fit_wrapper(self.current, self.log_model, self.log)
        for cls in classes:
            self.patches.patch_method(cls, "fit", fit)
        start_post_training(self.name, self.patches, classes, config.log_datasets)

    def _data_init(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def patched(data_set: Any, *args: Any, **kwargs: Any) -> None:
            if self.config is not None:
                remember_example(data_set, args[0] if args else kwargs.get("data"))
            original(data_set, *args, **kwargs)

        return patched

    def logged_train(
        self,
        config: Config,
        log_models: bool,
        original: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """``train`` in a run: params and datasets, the metrics, then ``after_train``."""
        log = self.log
        with autolog_run(self.name, config.extra_tags, log, config.silent) as run:
            if run is None:
                return original(*args, **kwargs)
            run_id = run.info.run_id
            batch = MetricsBatch(run_id, log)
            call: dict[str, Any] = {}
            with guarded(log, f"{self.name} autolog could not log the params"):
                call = call_params(original, args, kwargs, self.unlogged)
                log_params(run_id, args[0] if args else kwargs.get("params"), call)
            data = args[1] if len(args) > 1 else kwargs.get(self.data_argument)
            if config.log_datasets and data is not None:
                with guarded(log, "the datasets are not logged"):
                    self.log_datasets(run_id, data, kwargs)
            args, kwargs = with_callback(original, args, kwargs, self.callback(batch))
            try:
                model = original(*args, **kwargs)
            finally:
                batch.flush()
            with guarded(log, f"{self.name} autolog could not log after training"):
                self.after_train(Trained(config, run_id, model, data, batch, call, log_models))
            return model


__all__ = ["BoostingAutolog", "Trained"]
