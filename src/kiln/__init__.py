"""Kiln: the machine-learning lifecycle on one machine, MLflow-compatible.

The fluent API (``kiln.start_run``, ``kiln.log_metric``, ...) is resolved lazily,
so ``import kiln`` loads neither pandas nor SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kiln._version import __version__

if TYPE_CHECKING:
    from kiln.exceptions import MlflowException
    from kiln.models.autolog import autolog
    from kiln.models.evaluation import evaluate, validate_evaluation_results
    from kiln.models.registration import register_model
    from kiln.tracking.async_logging import flush_async_logging
    from kiln.tracking.client import KilnClient
    from kiln.tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        get_experiment_by_name,
        get_metric_history,
        get_run,
        get_tracking_uri,
        log_input,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from kiln.tracking.fluent_artifacts import (
        flush_artifact_async_logging,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_stream,
        log_text,
    )
    from kiln.tracking.fluent_experiments import (
        create_experiment,
        delete_experiment,
        delete_experiment_tag,
        get_experiment,
        restore_experiment,
        search_experiments,
        set_experiment_tag,
        set_experiment_tags,
    )
    from kiln.tracking.fluent_logged_models import (
        ActiveModel,
        clear_active_model,
        create_external_model,
        delete_logged_model_tag,
        finalize_logged_model,
        get_active_model_id,
        get_logged_model,
        initialize_logged_model,
        last_logged_model,
        log_model_params,
        log_outputs,
        search_logged_models,
        set_active_model,
        set_logged_model_tags,
    )
    from kiln.tracking.fluent_registry import (
        get_registry_uri,
        is_tracking_uri_set,
        search_model_versions,
        search_registered_models,
        set_model_version_tag,
        set_registry_uri,
    )
    from kiln.tracking.fluent_runs import (
        delete_run,
        delete_tag,
        get_artifact_uri,
        get_parent_run,
        last_active_run,
        load_table,
        log_image,
        log_inputs,
        log_table,
        restore_run,
    )
    from kiln.tracking.fluent_workspaces import (
        create_workspace,
        delete_workspace,
        get_workspace,
        list_workspaces,
        set_workspace,
        update_workspace,
    )
    from kiln.tracking.images import Image
    from kiln.tracking.mlflow_client import MlflowClient
    from kiln.tracking.seed import seed_everything
    from kiln.tracking.system_metrics import (
        disable_system_metrics_logging,
        enable_system_metrics_logging,
        set_system_metrics_node_id,
        set_system_metrics_samples_before_logging,
        set_system_metrics_sampling_interval,
    )

_LAZY: dict[str, str] = {
    "KilnClient": "kiln.tracking.client",
    "autolog": "kiln.models.autolog",
    "MlflowClient": "kiln.tracking.mlflow_client",
    "seed_everything": "kiln.tracking.seed",
    "flush_async_logging": "kiln.tracking.async_logging",
    "evaluate": "kiln.models.evaluation",
    "validate_evaluation_results": "kiln.models.evaluation",
    **{
        name: "kiln.tracking.fluent"
        for name in (
            "ActiveRun",
            "active_run",
            "end_run",
            "get_experiment_by_name",
            "get_metric_history",
            "get_run",
            "get_tracking_uri",
            "log_input",
            "log_metric",
            "log_metrics",
            "log_param",
            "log_params",
            "search_runs",
            "set_experiment",
            "set_tag",
            "set_tags",
            "set_tracking_uri",
            "start_run",
        )
    },
    **{
        name: "kiln.tracking.fluent_artifacts"
        for name in (
            "flush_artifact_async_logging",
            "log_artifact",
            "log_artifacts",
            "log_dict",
            "log_figure",
            "log_stream",
            "log_text",
        )
    },
    **dict.fromkeys(
        (
            "create_experiment",
            "delete_experiment",
            "delete_experiment_tag",
            "get_experiment",
            "restore_experiment",
            "search_experiments",
            "set_experiment_tag",
            "set_experiment_tags",
        ),
        "kiln.tracking.fluent_experiments",
    ),
    **dict.fromkeys(
        (
            "delete_run",
            "delete_tag",
            "get_artifact_uri",
            "get_parent_run",
            "last_active_run",
            "load_table",
            "log_image",
            "log_inputs",
            "log_table",
            "restore_run",
        ),
        "kiln.tracking.fluent_runs",
    ),
    **dict.fromkeys(
        (
            "get_registry_uri",
            "is_tracking_uri_set",
            "search_model_versions",
            "search_registered_models",
            "set_model_version_tag",
            "set_registry_uri",
        ),
        "kiln.tracking.fluent_registry",
    ),
    "Image": "kiln.tracking.images",
    **dict.fromkeys(
        (
            "create_workspace",
            "delete_workspace",
            "get_workspace",
            "list_workspaces",
            "set_workspace",
            "update_workspace",
        ),
        "kiln.tracking.fluent_workspaces",
    ),
    **dict.fromkeys(
        (
            "disable_system_metrics_logging",
            "enable_system_metrics_logging",
            "set_system_metrics_node_id",
            "set_system_metrics_samples_before_logging",
            "set_system_metrics_sampling_interval",
        ),
        "kiln.tracking.system_metrics",
    ),
    "MlflowException": "kiln.exceptions",
    # not imported for type checkers above: kiln.models modules import kiln, and
    # kiln.projects sits above kiln.models in the layers import-linter checks
    "run": "kiln.projects",
    "register_model": "kiln.models.registration",
    **dict.fromkeys(
        (
            "ActiveModel",
            "clear_active_model",
            "create_external_model",
            "delete_logged_model_tag",
            "finalize_logged_model",
            "get_active_model_id",
            "get_logged_model",
            "initialize_logged_model",
            "last_logged_model",
            "log_model_params",
            "log_outputs",
            "search_logged_models",
            "set_active_model",
            "set_logged_model_tags",
        ),
        "kiln.tracking.fluent_logged_models",
    ),
}

# Submodules at MLflow's paths, also reached as attributes: ``kiln.sklearn.log_model(...)``.
# The flavor ones forward to kiln.models.<flavor> (see kiln._forward).
_LAZY_MODULES: dict[str, str] = {
    name: f"kiln.{name}"
    for name in (
        *("pyfunc", "sklearn", "xgboost", "lightgbm", "onnx", "keras", "pytorch", "h2o"),
        *("artifacts", "data", "models"),
    )
}
_LAZY_MODULES["exceptions"] = "kiln.exceptions"  # MLflow's exception names
_LAZY_MODULES["config"] = "kiln.config"  # mlflow.config.enable_async_logging


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        target = _LAZY_MODULES.get(name)
        if target is None:
            raise AttributeError(f"module 'kiln' has no attribute {name!r}")
        loaded = importlib.import_module(target)
        globals()[name] = loaded
        return loaded
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_LAZY_MODULES])


__all__ = [
    "ActiveModel",
    "ActiveRun",
    "clear_active_model",
    "create_external_model",
    "delete_logged_model_tag",
    "finalize_logged_model",
    "get_active_model_id",
    "get_logged_model",
    "initialize_logged_model",
    "last_logged_model",
    "log_model_params",
    "log_outputs",
    "search_logged_models",
    "set_active_model",
    "set_logged_model_tags",
    "Image",
    "KilnClient",
    "MlflowException",
    "MlflowClient",
    "__version__",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_run",
    "delete_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_stream",
    "log_table",
    "log_text",
    "pyfunc",
    "register_model",
    "restore_experiment",
    "restore_run",
    "run",
    "search_experiments",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "seed_everything",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_model_version_tag",
    "set_registry_uri",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "create_workspace",
    "delete_workspace",
    "get_workspace",
    "list_workspaces",
    "set_workspace",
    "update_workspace",
    "evaluate",
    "validate_evaluation_results",
]
