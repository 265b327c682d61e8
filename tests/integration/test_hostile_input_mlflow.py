"""The official ``mlflow`` client gets an immediate INVALID_PARAMETER_VALUE for searches
past Kiln's limits, where it used to get a 500 and retry it with backoff.

A real uvicorn server over SQLite (the backend that failed) on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from kiln.config import Settings  # noqa: E402
from kiln.server.app import create_app  # noqa: E402
from kiln.store.query.limits import (  # noqa: E402
    MAX_FILTER_CLAUSES,
    MAX_FILTER_KEYS,
    MAX_ORDER_BY_KEYS,
    MAX_PAGE_OFFSET,
)
from kiln.testing.server import serve_in_thread  # noqa: E402

# Far below MLflow's retry backoff for a 500 (several seconds, growing).
NO_RETRY_S = 3.0


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowClient]:
    root: Path = tmp_path_factory.mktemp("hostile-mlflow")
    db = f"sqlite:///{root / 'kiln.db'}"
    settings = Settings(
        home=root / "home",
        tracking_uri=db,
        backend_store_uri=db,
        artifacts_destination=str(root / "artifacts"),
    )
    with serve_in_thread(create_app(settings)) as url:
        yield MlflowClient(tracking_uri=url)


def _token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


@pytest.mark.parametrize(
    ("kwargs", "limit"),
    [
        (
            {"filter_string": " and ".join(f"tags.t{i} = 'x'" for i in range(70))},
            f"the limit is {MAX_FILTER_KEYS}",
        ),
        (
            {"filter_string": " and ".join(f"metrics.m > {i}" for i in range(600))},
            f"the limit is {MAX_FILTER_CLAUSES} clauses",
        ),
        (
            {"order_by": [f"metrics.m{i} DESC" for i in range(200)]},
            f"the limit is {MAX_ORDER_BY_KEYS} keys",
        ),
        ({"page_token": _token(10**30)}, f"above the limit of {MAX_PAGE_OFFSET}"),
    ],
    ids=["70 keys", "600 clauses", "200 order_by keys", "huge page offset"],
)
def test_searches_past_the_limits_fail_at_once_naming_the_limit(
    client: MlflowClient, kwargs: dict[str, Any], limit: str
) -> None:
    started = time.monotonic()
    with pytest.raises(MlflowException, match=limit) as caught:
        client.search_runs(["0"], **kwargs)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert time.monotonic() - started < NO_RETRY_S


def test_a_search_at_the_limits_is_served(client: MlflowClient) -> None:
    run = client.create_run("0")
    tags = {f"t{i}": "x" for i in range(MAX_FILTER_KEYS)}
    for key, value in tags.items():
        client.set_tag(run.info.run_id, key, value)
    filter_string = " and ".join(f"tags.{key} = '{value}'" for key, value in tags.items())
    order_by = [f"metrics.m{i} DESC" for i in range(MAX_ORDER_BY_KEYS)]
    found = client.search_runs(["0"], filter_string=filter_string, order_by=order_by)
    assert [r.info.run_id for r in found] == [run.info.run_id]
