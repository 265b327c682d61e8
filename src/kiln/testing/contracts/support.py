"""Small helpers the contract suites share: a fixed time base, run shortcuts, a clock."""

from __future__ import annotations

from kiln.entities import DEFAULT_EXPERIMENT_ID, Run
from kiln.store.protocols.tracking import TrackingStore

T0 = 1_700_000_000_000
"""Milliseconds since the epoch that tests count from (explicit times, no sleeps)."""


class TickingClock:
    """A clock that advances 1 ms on every read: ordering without sleeps."""

    def __init__(self, start: int = T0) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


def new_run(store: TrackingStore, experiment_id: str | None = None, **kwargs: object) -> Run:
    """A run in ``experiment_id`` (the Default experiment when None)."""
    return store.create_run(experiment_id or DEFAULT_EXPERIMENT_ID, **kwargs)  # type: ignore[arg-type]


def run_names(runs: object) -> list[str]:
    """The run names of a page or list of runs, in order."""
    return [run.info.run_name for run in runs]  # type: ignore[attr-defined]


def all_runs(store: TrackingStore, experiment_ids: list[str], **kwargs: object) -> list[Run]:
    """Every page of a search, joined."""
    out: list[Run] = []
    token: str | None = None
    while True:
        page = store.search_runs(experiment_ids, page_token=token, **kwargs)  # type: ignore[arg-type]
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


__all__ = ["T0", "TickingClock", "all_runs", "new_run", "run_names"]
