"""``kiln.run`` / ``kiln.projects.run``: MLflow's ``mlflow.projects.run`` over ``run_project``.

The project runs as ``kiln run`` runs it (same tags, environment and exit handling),
tracked at ``kiln.get_tracking_uri()``; the answer is MLflow's ``SubmittedRun``.
Only MLflow's blocking local mode is offered: ``synchronous=False`` and the other
backends (Databricks, Kubernetes) and Docker options are refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiln.config import Settings
from kiln.entities import RunStatus
from kiln.errors import InvalidInput, KilnError
from kiln.projects.envs import EnvManager
from kiln.projects.spec import DEFAULT_ENTRY_POINT

_ENV_MANAGERS: tuple[EnvManager, ...] = ("local", "uv", "virtualenv", "conda")


class SubmittedRun:
    """MLflow's ``SubmittedRun`` for a project run that has ended (Kiln runs block)."""

    def __init__(self, run_id: str, status: RunStatus) -> None:
        self._run_id = run_id
        self._status = status

    @property
    def run_id(self) -> str:
        return self._run_id

    def wait(self) -> bool:
        """Whether the run succeeded (it has already ended)."""
        return self._status is RunStatus.FINISHED

    def get_status(self) -> str:
        """``FINISHED``, ``FAILED`` or ``KILLED``, as MLflow's ``RunStatus`` names."""
        return self._status.value

    def cancel(self) -> None:
        """Nothing to cancel: the run has ended."""


def run(
    uri: str,
    entry_point: str = DEFAULT_ENTRY_POINT,
    version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    docker_args: Mapping[str, Any] | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    backend: str = "local",
    backend_config: Any = None,
    storage_dir: str | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
    run_name: str | None = None,
    env_manager: str | None = None,
    build_image: bool = False,
    docker_auth: Mapping[str, Any] | None = None,
) -> SubmittedRun:
    """Run ``entry_point`` of the project at ``uri`` (a folder or git URL) and wait for it.

    Raises:
        ExecutionException: (``kiln.exceptions``, a ``KilnError``) the run failed or
            was killed, with MLflow's message.
        InvalidInput: an option Kiln does not offer (see the module docstring), or a
            bad project, entry point or parameter.
    """
    unsupported = {
        "synchronous=False": not synchronous,
        f"backend={backend!r}": backend != "local",
        "backend_config": backend_config is not None,
        "docker_args": bool(docker_args),
        "docker_auth": bool(docker_auth),
        "build_image": build_image,
        "storage_dir": storage_dir is not None,
        "run_id": run_id is not None,
    }
    refused = [name for name, given in unsupported.items() if given]
    if refused:
        raise InvalidInput(
            f"kiln.run does not support {', '.join(refused)}: Kiln runs projects locally "
            "and blocks until they end (start `kiln run` in a subprocess to run one in "
            "the background)"
        )
    if env_manager is not None and env_manager not in _ENV_MANAGERS:
        raise InvalidInput(
            f"unknown env_manager {env_manager!r}: use one of {', '.join(_ENV_MANAGERS)}"
        )
    from kiln.projects.runner import run_project
    from kiln.tracking.fluent import get_tracking_uri

    result = run_project(
        uri,
        settings=Settings.from_env(),
        entry_point=entry_point,
        parameters={str(k): str(v) for k, v in (parameters or {}).items()},
        version=version,
        env_manager=env_manager,  # checked above
        experiment_name=experiment_name,
        experiment_id=None if experiment_id is None else str(experiment_id),
        run_name=run_name,
        tracking_uri=get_tracking_uri(),
    )
    if result.status is not RunStatus.FINISHED:
        raise KilnError(f"Run (ID '{result.run_id}') failed")
    return SubmittedRun(result.run_id, result.status)


__all__ = ["SubmittedRun", "run"]
