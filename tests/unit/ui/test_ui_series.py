"""``/ui/data/series`` (kiln.server.ui.data_routes): the chart data contract over a real
SQLite server in process: raw vs bucketed, zoom, x modes, several runs, tenancy, and
bad parameters answering 4xx, never 500."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.server.app import create_app
from kiln.testing.auth_app import ADMIN_PASSWORD, auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

API = "/api/2.0/mlflow"
T0 = 1_700_000_000_000
POINTS = 5_000
SPIKE_STEP = 3_217


def _ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def make_run(http: Any, name: str, points: list[tuple[int, int, float | str]], **kw: Any) -> str:
    """A run named ``name`` with metric ``loss`` = ``points`` (step, timestamp, value)."""
    found = {"experiment_name": "charts"}
    experiment = http.get(f"{API}/experiments/get-by-name", params=found, **kw)
    if experiment.status_code == 200:
        experiment_id = experiment.json()["experiment"]["experiment_id"]
    else:
        made = http.post(f"{API}/experiments/create", json={"name": "charts"}, **kw)
        experiment_id = _ok(made)["experiment_id"]
    created = http.post(
        f"{API}/runs/create", json={"experiment_id": experiment_id, "run_name": name}, **kw
    )
    run_id: str = _ok(created)["run"]["info"]["run_id"]
    metrics = [{"key": "loss", "step": s, "timestamp": t, "value": v} for s, t, v in points]
    for start in range(0, len(metrics), 1000):
        batch = {"run_id": run_id, "metrics": metrics[start : start + 1000]}
        _ok(http.post(f"{API}/runs/log-batch", json=batch, **kw))
    return run_id


def curve(count: int, dt: int = 10) -> list[tuple[int, int, float | str]]:
    points: list[tuple[int, int, float | str]] = []
    for step in range(count):
        value: float | str = 1.0 / (1 + step) + (step % 10) / 1000
        if step == SPIKE_STEP:
            value = 50.0
        elif step == 7:
            value = "NaN"
        points.append((step, T0 + step * dt, value))
    return points


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root: Path = tmp_path_factory.mktemp("ui-series")
    app = create_app(sqlite_settings(root))
    with asgi_client(app, raise_server_exceptions=False, follow_redirects=False) as http:
        big = make_run(http, "big", curve(POINTS))
        small = make_run(http, "small", curve(300, dt=1000))
        yield http, big, small


def series(http: Any, **params: Any) -> Any:
    return http.get(f"/ui/data/series?{urlencode(params, doseq=True)}")


def test_a_long_metric_comes_back_bucketed_with_its_spike(server: Any) -> None:
    http, big, _ = server
    answer = series(http, key="loss", run=big, n=100)
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    body = _ok(answer)
    assert body["key"] == "loss"
    assert body["x"] == "step"
    (one,) = body["series"]
    assert one["run"] == big
    assert one["name"] == "big"
    assert one["raw"] is False
    assert one["points"] == POINTS
    assert len(one["xs"]) == 100
    assert one["xs"][-1] == POINTS - 1
    assert max(v for v in one["max"] if v is not None) == 50.0
    spiked = next(i for i, x in enumerate(one["xs"]) if x >= SPIKE_STEP)
    assert one["max"][spiked] == 50.0
    assert one["min"][spiked] < 1.0


def test_default_is_1000_buckets_and_nan_is_null(server: Any) -> None:
    http, big, _ = server
    (one,) = _ok(series(http, key="loss", run=big))["series"]
    assert len(one["xs"]) == 1000
    assert one["xs"][:2] == [4, 9]
    assert one["min"][1] is not None  # step 7 (NaN) is left out of its band
    raw = _ok(series(http, key="loss", run=big, lo=0, hi=20))["series"][0]
    assert raw["raw"] is True
    assert raw["last"][7] is None
    assert raw["min"][7] is None


def test_zooming_in_rebuckets_down_to_the_raw_points(server: Any) -> None:
    http, big, _ = server
    (zoomed,) = _ok(series(http, key="loss", run=big, lo=3000.5, hi=3999.9))["series"]
    assert zoomed["raw"] is True
    assert zoomed["points"] == 999
    assert zoomed["xs"] == list(range(3001, 4000))
    assert zoomed["last"] == zoomed["min"] == zoomed["max"]
    assert zoomed["last"][SPIKE_STEP - 3001] == 50.0
    (wide,) = _ok(series(http, key="loss", run=big, lo=500, hi=4000, n=50))["series"]
    assert wide["raw"] is False
    assert wide["points"] == 3501
    assert wide["xs"][0] >= 500
    assert wide["xs"][-1] == 4000


def test_time_and_relative_x(server: Any) -> None:
    http, big, small = server
    body = _ok(series(http, key="loss", run=[small, big], x="time"))
    assert body["x"] == "time"
    by_run = {s["run"]: s for s in body["series"]}
    assert by_run[small]["raw"] is True
    assert by_run[small]["xs"][:2] == [T0, T0 + 1000]
    assert by_run[big]["xs"][-1] == T0 + (POINTS - 1) * 10
    relative = _ok(series(http, key="loss", run=small, x="relative", lo=5000, hi=9000))
    assert relative["series"][0]["xs"] == [5000, 6000, 7000, 8000, 9000]


def test_several_runs_in_the_order_asked_once_each(server: Any) -> None:
    http, big, small = server
    body = _ok(series(http, key="loss", run=[small, big, small]))
    assert [s["run"] for s in body["series"]] == [small, big]
    assert [s["name"] for s in body["series"]] == ["small", "big"]
    missing = _ok(series(http, key="nothing", run=small))["series"][0]
    assert missing["points"] == 0
    assert missing["xs"] == []


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"run": "x" * 32}, 400, "'key'"),
        ({"key": "loss", "run": None}, 400, "'run'"),
        (
            {"key": "loss", "run": ["a" * 32] * 1 + [f"{i:032x}" for i in range(51)]},
            400,
            "at most 50",
        ),
        ({"key": "loss", "x": "wall"}, 400, "'x'"),
        ({"key": "loss", "n": "0"}, 400, "'n'"),
        ({"key": "loss", "n": "4001"}, 400, "'n'"),
        ({"key": "loss", "n": "ten"}, 400, "'n'"),
        ({"key": "loss", "lo": "nan"}, 400, "'lo'"),
        ({"key": "loss", "hi": "inf"}, 400, "'hi'"),
        ({"key": "loss", "lo": "abc"}, 400, "'lo'"),
        ({"key": "loss", "lo": "5", "hi": "4"}, 400, "above"),
        ({"key": "loss", "run": "f" * 32}, 404, "no run"),
        ({"key": "loss", "run": "not a run id"}, 400, "run"),
    ],
)
def test_bad_parameters_answer_4xx_as_json(
    server: Any, params: dict[str, Any], status: int, message: str
) -> None:
    http, big, _ = server
    params.setdefault("run", big)
    if params["run"] is None:
        del params["run"]
    answer = series(http, **params)
    assert answer.status_code == status, answer.text[:300]
    assert message in answer.json()["error"]
    assert answer.headers["cache-control"] == "no-store"


_TEXT = st.text(max_size=30) | st.sampled_from(["", "1e400", "-0", "1_000", "٣", "+5", "NaN"])


@given(
    key=_TEXT,
    runs=st.lists(_TEXT, max_size=3),
    x=_TEXT | st.sampled_from(["step", "time", "relative"]),
    n=_TEXT | st.integers(-5, 5000).map(str),
    lo=_TEXT | st.floats(allow_nan=True).map(str),
    hi=_TEXT | st.floats(allow_nan=True).map(str),
    real=st.booleans(),
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_parameters_never_answer_500(
    server: Any, key: str, runs: list[str], x: str, n: str, lo: str, hi: str, real: bool
) -> None:
    http, big, _ = server
    params = {"key": key, "run": [*runs, big] if real else runs, "x": x, "n": n, "lo": lo, "hi": hi}
    answer = series(http, **params)
    assert answer.status_code in (200, 400, 404), (params, answer.text)
    body = answer.json()
    if answer.status_code == 200:
        for one in body["series"]:
            assert len(one["xs"]) == len(one["last"]) == len(one["min"]) == len(one["max"])
            assert all(v is None or math.isfinite(v) for v in one["max"])
    else:
        assert body["error"]


def test_another_tenants_run_is_unknown_and_a_viewer_may_read(tmp_path: Path) -> None:
    with auth_server(tmp_path) as server:
        http, admin = server.http, server.admin
        run_id = make_run(http, "mine", curve(10), headers=admin)
        server.tenant("other")
        outsider = server.user("outsider", "other", "member")
        viewer = server.user("viewer", "default", "viewer")
        path = f"/ui/data/series?key=loss&run={run_id}"
        away = {**basic_auth("outsider", outsider), WORKSPACE_HEADER: "other"}
        refused = http.get(path, headers=away)
        assert refused.status_code == 404
        assert run_id in refused.json()["error"]
        seen = http.get(path, headers=basic_auth("viewer", viewer))
        assert _ok(seen)["series"][0]["points"] == 10
        admin_elsewhere = {**basic_auth("admin", ADMIN_PASSWORD), WORKSPACE_HEADER: "other"}
        assert http.get(path, headers=admin_elsewhere).status_code == 404
        nobody = http.get(path, follow_redirects=False)
        assert nobody.status_code == 303
        assert nobody.headers["location"].startswith("/login?next=")
