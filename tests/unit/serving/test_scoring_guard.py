"""The scoring server's cross-site checks: loopback Host when bound to loopback, no
cross-origin POSTs, health routes open to probes by any name (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest
from scoring_fakes import SumModel, client_for

from kiln.httpguard import CROSS_ORIGIN, INVALID_HOST
from kiln.serving.app import HEALTH_PATHS, scoring_guard

ROWS = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}


def _client(bind: str = "127.0.0.1", **kwargs: Any) -> Any:
    return client_for(SumModel(), guard=scoring_guard(bind, **kwargs))


def test_a_loopback_bound_server_refuses_a_rebinding_host() -> None:
    with _client() as client:
        assert client.post("/invocations", json=ROWS).json() == {"predictions": [3.0]}
        refused = client.post("/invocations", json=ROWS, headers={"Host": "rebind.evil.test"})
        assert refused.status_code == 403
        assert refused.json()["message"] == INVALID_HOST
        for path in sorted(HEALTH_PATHS):
            assert client.get(path, headers={"Host": "wine.svc"}).status_code == 200, path


def test_a_foreign_origin_cannot_score_but_an_allowed_one_can() -> None:
    with _client(origins=("https://app.corp.test",)) as client:
        refused = client.post("/invocations", json=ROWS, headers={"Origin": "https://evil.test"})
        assert refused.status_code == 403
        assert refused.json()["message"] == CROSS_ORIGIN
        allowed = client.post(
            "/invocations", json=ROWS, headers={"Origin": "https://app.corp.test"}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.corp.test"


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_a_server_on_every_interface_answers_any_host_name(bind: str) -> None:
    with _client(bind) as client:
        response = client.post("/invocations", json=ROWS, headers={"Host": "wine.default.svc"})
        assert response.status_code == 200
    with _client(bind, extra_hosts=("wine.corp.test",)) as client:
        assert client.post("/invocations", json=ROWS, headers={"Host": "x.test"}).status_code == 403
        ok = client.post("/invocations", json=ROWS, headers={"Host": "wine.corp.test:8080"})
        assert ok.status_code == 200


def test_a_text_plain_post_is_not_scored() -> None:
    with _client() as client:
        response = client.post(
            "/invocations",
            content=b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
            headers={"Content-Type": "text/plain"},
        )
        assert response.status_code == 415
