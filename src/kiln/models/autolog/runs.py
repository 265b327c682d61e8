"""The run an autolog fit logs to, opened and ended the same way by every flavor.

MLflow's autologs share these rules, so Kiln's keep them in one place: a fit
logs to the user's active run, or to a run it starts itself (tagged
``mlflow.autologging=<flavor>`` plus ``extra_tags``) and ends FINISHED, or
FAILED when the fit raises; with ``exclusive`` a fit inside the user's own run
logs nothing; with ``silent`` the flavor's logger shows nothing; and autolog's
own logging never makes a fit fail (its errors and warnings become log records).
Nothing here imports a framework.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kiln.errors import InvalidInput
from kiln.models.autolog.patching import (
    AUTOLOGGING_TAG,
    Patches,
    TrainingSessions,
    quiet,
    rerouted_warnings,
)


@dataclass
class Settings:
    """What every flavor's ``autolog(...)`` takes alike; a flavor's ``Config`` adds its own."""

    log_models: bool = True
    log_model_signatures: bool = True
    log_datasets: bool = True
    exclusive: bool = False
    silent: bool = False
    registered_model_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)


_C = TypeVar("_C", bound=Settings)


@dataclass
class FitState(Generic[_C]):
    """A fit-patching flavor's autolog: its settings (None when off), its patches and
    the fits under way (only the outermost one logs)."""

    config: _C | None = None
    patches: Patches = field(default_factory=Patches)
    sessions: TrainingSessions = field(default_factory=TrainingSessions)

    @contextmanager
    def logging_fit(self, estimator: object) -> Iterator[_C | None]:
        """The settings while this fit logs: autolog is on, ``exclusive`` does not leave
        it alone and it is the outermost fit; None when it just runs."""
        config = self.config
        if config is None or left_alone(config.exclusive, self.sessions.active):
            yield None
            return
        with self.sessions.session(estimator) as outermost:
            yield config if outermost else None


def checked_tags(extra_tags: Any) -> dict[str, str]:
    """``extra_tags`` as strings, without the ``mlflow.autologging`` tag autolog sets.

    Raises:
        InvalidInput: ``extra_tags`` that is not a mapping (MLflow's message).
    """
    if extra_tags is not None and not isinstance(extra_tags, Mapping):
        raise InvalidInput(
            "Invalid `extra_tags` type: expecting dictionary, "
            f"received `{type(extra_tags).__name__}`"
        )
    return {str(k): str(v) for k, v in (extra_tags or {}).items() if k != AUTOLOGGING_TAG}


def left_alone(exclusive: bool, fitting: bool) -> bool:
    """Whether an ``exclusive`` autolog leaves this fit unlogged: the user has a run
    active and no autologged fit (``fitting``) is under way."""
    if not exclusive:
        return False
    from kiln.tracking import fluent

    return fluent.active_run() is not None and not fitting


@contextmanager
def autolog_run(
    flavor: str,
    extra_tags: Mapping[str, str],
    log: logging.Logger,
    silent: bool,
    ending: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Iterator[Any]:
    """The active run, or one started for this fit and ended FINISHED (inside
    ``ending()``) or FAILED; None when no run can start (the fit then runs unlogged).
    ``log`` is quiet meanwhile when ``silent``."""
    from kiln.tracking import fluent

    with quiet(log, silent):
        active = fluent.active_run()
        if active is not None:
            yield active
            return
        try:
            run = fluent.start_run(tags={**extra_tags, AUTOLOGGING_TAG: flavor})
        except Exception as exc:
            log.warning("%s autolog could not start a run; the fit is not logged: %s", flavor, exc)
            yield None
            return
        try:
            yield run
        except BaseException:
            fluent.end_run("FAILED")
            raise
        with ending():
            fluent.end_run("FINISHED")


@contextmanager
def guarded(log: logging.Logger, failure: str) -> Iterator[None]:
    """Autolog's own logging: its warnings become records of ``log`` and an error the
    warning ``<failure>: <error>``, so that the user's fit never fails because of it."""
    with rerouted_warnings(log):
        try:
            yield
        except Exception as exc:
            log.warning("%s: %s", failure, exc)


__all__ = ["FitState", "Settings", "autolog_run", "checked_tags", "guarded", "left_alone"]
