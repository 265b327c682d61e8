"""The environment variables a training process reads to join a run or experiment.

A launcher (``kiln run``, a job executor, MLflow's own ``mlflow run``) starts the
script with these set, so ``kiln.start_run()`` inside it lands in the right place.
Kiln's names win over MLflow's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class RunEnvironment:
    """``KILN_RUN_ID``/``MLFLOW_RUN_ID``, ``KILN_EXPERIMENT_ID``/``MLFLOW_EXPERIMENT_ID``,
    ``KILN_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_NAME`` and ``KILN_RUN_MANAGED``."""

    run_id: str | None = None
    experiment_id: str | None = None
    experiment_name: str | None = None
    managed: bool = False
    """``KILN_RUN_MANAGED`` is "1"/"true": the launcher that set the run id ends the run."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunEnvironment:
        env = os.environ if env is None else env
        return cls(
            run_id=_first(env, "KILN_RUN_ID", "MLFLOW_RUN_ID"),
            experiment_id=_first(env, "KILN_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID"),
            experiment_name=_first(env, "KILN_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME"),
            managed=env.get("KILN_RUN_MANAGED", "").strip().lower() in ("1", "true"),
        )


__all__ = ["RunEnvironment"]
