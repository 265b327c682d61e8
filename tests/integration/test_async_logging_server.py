"""Asynchronous logging against a real ``kiln server`` subprocess (the REST store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import kiln
from kiln.errors import StoreUnavailable
from kiln.testing.server_process import kiln_server_process
from kiln.tracking import async_logging, fluent

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_fluent() -> Iterator[None]:
    fluent.reset_state()
    yield
    async_logging.pending_failure()
    fluent.reset_state()


def test_10000_points_reach_the_server_and_a_gone_server_is_reported(
    tmp_path: Path, fresh_fluent: None
) -> None:
    with kiln_server_process(tmp_path) as url:
        kiln.set_tracking_uri(url)
        with kiln.start_run() as run:
            for i in range(10_000):
                kiln.log_metric("loss", float(i), step=i, synchronous=False)
        steps = [m.step for m in kiln.get_metric_history(run.info.run_id, "loss")]
        assert steps == list(range(10_000))
        kiln.start_run()
    # the server is gone: the queued point cannot be delivered
    kiln.log_metric("late", 1.0, synchronous=False)
    with pytest.raises(StoreUnavailable, match=r"asynchronous logging to run \w+ failed; 1 metric"):
        kiln.end_run()
