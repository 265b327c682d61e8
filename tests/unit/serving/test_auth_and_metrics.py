"""Bearer-token auth on scoring routes (health stays open) and the Prometheus metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scoring_fakes import SumModel, client_for

from kiln.serving.process import read_token

TOKEN = "s3cret-token"
ROW = {"inputs": {"a": [1.0], "b": [2.0]}}
INFER = {
    "inputs": [
        {"name": "a", "shape": [1], "datatype": "FP64", "data": [1]},
        {"name": "b", "shape": [1], "datatype": "FP64", "data": [1]},
    ]
}


@pytest.fixture
def secured() -> Any:
    with client_for(SumModel(), auth_token=TOKEN) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/invocations", ROW),
        ("POST", "/v2/models/wine/infer", INFER),
        ("GET", "/v2/models/wine", None),
        ("GET", "/v2", None),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"bearer {TOKEN}", TOKEN, f"Bearer {TOKEN}x"]
)
def test_scoring_routes_need_the_token(
    secured: Any, method: str, path: str, body: Any, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = secured.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text


def test_the_right_token_is_let_in(secured: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert secured.post("/invocations", json=ROW, headers=headers).json() == {"predictions": [3.0]}
    assert secured.post("/v2/models/wine/infer", json=INFER, headers=headers).status_code == 200
    assert secured.get("/v2/models/wine", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/ping",
        "/health",
        "/version",
        "/metrics",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/wine/ready",
    ],
)
def test_health_routes_stay_open(secured: Any, path: str) -> None:
    assert secured.get(path).status_code == 200


def test_ping_and_version_answer_like_mlflow(sum_client: Any) -> None:
    ping = sum_client.get("/ping")
    assert (ping.status_code, ping.text, ping.headers["content-type"]) == (
        200,
        "\n",
        "application/json",
    )
    assert sum_client.get("/health").text == "\n"
    assert sum_client.get("/version").text


def test_metrics_count_requests_latency_errors_and_rows(sum_client: Any) -> None:
    sum_client.post("/invocations", json={"inputs": {"a": [1.0, 2.0], "b": [2.0, 3.0]}})
    sum_client.post("/invocations", json=ROW)
    sum_client.post("/invocations", content=b"{", headers={"Content-Type": "application/json"})
    sum_client.post("/invocations", content=b"x")
    response = sum_client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'kiln_scoring_requests_total{route="/invocations",status="200"} 2' in text
    assert 'kiln_scoring_requests_total{route="/invocations",status="400"} 1' in text
    assert 'kiln_scoring_requests_total{route="/invocations",status="415"} 1' in text
    bucket = "kiln_scoring_request_duration_seconds_bucket"
    assert f'{bucket}{{route="/invocations",status="200",le="+Inf"}} 2' in text
    assert (
        'kiln_scoring_request_duration_seconds_count{route="/invocations",status="200"} 2' in text
    )
    assert 'kiln_scoring_errors_total{route="/invocations",error="BadInput"} 1' in text
    assert 'kiln_scoring_errors_total{route="/invocations",error="UnsupportedMediaType"} 1' in text
    assert "kiln_scoring_predicted_rows_total 3" in text
    assert 'kiln_scoring_model_info{name="wine",version="3",' in text
    assert "# TYPE kiln_scoring_request_duration_seconds histogram" in text


def test_histogram_buckets_are_cumulative(sum_client: Any) -> None:
    for _ in range(3):
        sum_client.post("/invocations", json=ROW)
    lines = [
        line
        for line in sum_client.get("/metrics").text.splitlines()
        if line.startswith(
            'kiln_scoring_request_duration_seconds_bucket{route="/invocations",status="200"'
        )
    ]
    counts = [int(line.rsplit(" ", 1)[1]) for line in lines]
    assert counts == sorted(counts)
    assert counts[-1] == 3


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n")
    assert read_token(str(path)) == TOKEN
    assert read_token(None) is None
    path.write_text("\n")
    with pytest.raises(ValueError, match=r"token file .* is empty"):
        read_token(str(path))
