"""The compare page (/compare): runs side by side, over a real SQLite store in process."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.entities import Metric, Param
from kiln.errors import InvalidInput
from kiln.server.app import create_app
from kiln.server.ui.compare_pages import (
    CHART_RUNS,
    MAX_CHARTS,
    MAX_RUNS,
    PALETTE,
    run_color,
    script_json,
)
from kiln.store.open import close_store, open_tracking_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.auth_app import auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

T0 = 1_700_000_000_000
ROW = re.compile(r'<tr class="(?:same|differs)"([^>]*)>(.*?)</tr>', re.DOTALL)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.DOTALL)
HOSTILE = "</script><script>alert(1)</script>"
DATA_BLOCK = re.compile(
    r'<script type="application/json" id="compare-data">(.*?)</script>', re.DOTALL
)


class World:
    """The app and its SQLite store, to log runs and ask for pages."""

    def __init__(self, root: Path) -> None:
        self.app = create_app(sqlite_settings(root))
        self.store: TrackingStore = open_tracking_store(
            f"sqlite:///{root / 'kiln.db'}", workspace="default"
        )

    def run(
        self,
        name: str,
        params: dict[str, str],
        metrics: dict[str, float],
        experiment_id: str = "0",
    ) -> str:
        run = self.store.create_run(experiment_id, run_name=name)
        points = [
            Metric(k, v, 1_700_000_000_000, step) for k, v in metrics.items() for step in (0, 1)
        ]
        self.store.log_batch(
            run.info.run_id, metrics=points, params=[Param(k, v) for k, v in params.items()]
        )
        return run.info.run_id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    close_store(made.store)


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with asgi_client(world.app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def three(world: World) -> list[str]:
    """Three runs, two experiments: params and metrics that overlap and differ."""
    other = world.store.create_experiment("other-experiment")
    return [
        world.run(
            "alpha-run", {"lr": "0.1", "opt": "adam", "seed": "1"}, {"rmse": 0.5, "acc": 0.8}
        ),
        world.run("beta-run", {"lr": "0.2", "opt": "adam", "seed": "1"}, {"rmse": 0.4, "acc": 0.8}),
        world.run(
            "gamma-run",
            {"lr": "0.3", "opt": "adam", "depth": "4", "note": HOSTILE},
            {"rmse": 0.3, "f1": 0.7},
            experiment_id=other,
        ),
    ]


def _compare(http: Any, ids: list[str], **extra: str | list[str]) -> Any:
    query: list[tuple[str, str]] = [("run", i) for i in ids]
    for key, value in extra.items():
        query.extend((key, v) for v in ([value] if isinstance(value, str) else value))
    return http.get("/compare", params=query)


def _rows(page: str) -> dict[str, tuple[bool, list[str]]]:
    """Table row key -> (hidden, cell texts)."""
    rows: dict[str, tuple[bool, list[str]]] = {}
    for attrs, body in re.findall(
        r'<tr class="(?:same|differs)"([^>]*)>(.*?)</tr>', page, re.DOTALL
    ):
        key = html.unescape(re.search(r'data-key="([^"]*)"', attrs).group(1))  # type: ignore[union-attr]
        cells = [
            html.unescape(c.strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.DOTALL)
        ]
        rows[key] = (" hidden" in attrs, cells)
    return rows


def _data(page: str) -> Any:
    block = DATA_BLOCK.search(page)
    assert block is not None, "no compare-data block"
    return json.loads(block.group(1))


def _charts(page: str) -> list[tuple[str, list[str], list[str]]]:
    found = re.findall(
        r'<div class="kiln-chart" data-key="([^"]*)" data-runs=\'([^\']*)\' '
        r'data-colors=\'([^\']*)\' data-x="step" data-title="[^"]*"></div>',
        page,
    )
    return [(html.unescape(k), json.loads(r), json.loads(c)) for k, r, c in found]


def test_the_header_names_each_run_with_its_experiment_link_and_colour(
    http: Any, three: list[str]
) -> None:
    answer = _compare(http, three)
    assert answer.status_code == 200
    page = answer.text
    for run_id, name in zip(three, ("alpha-run", "beta-run", "gamma-run"), strict=True):
        assert f'<a href="/runs/{run_id}">{name}</a>' in page
    assert "other-experiment" in page
    assert "Default" in page
    for color in PALETTE[:3]:
        assert f"background: {color}" in page
    assert "Compare 3 runs" in page
    for run_id in three:  # untick one and press the button to drop it
        assert f'<input type="checkbox" name="run" value="{run_id}" checked' in page


def test_the_table_shows_every_key_and_diff_hides_the_equal_rows(
    http: Any, three: list[str]
) -> None:
    rows = _rows(_compare(http, three).text)
    assert set(rows) == {"lr", "opt", "seed", "depth", "note", "rmse", "acc", "f1"}
    assert rows["lr"][1] == ["0.1", "0.2", "0.3"]
    assert rows["seed"][1] == ["1", "1", "—"]  # gamma never logged it
    assert rows["note"][1][2] == HOSTILE  # shown as text
    assert not any(hidden for hidden, _ in rows.values())

    only = _rows(_compare(http, three, diff="1").text)
    hidden = {key for key, (is_hidden, _) in only.items() if is_hidden}
    assert hidden == {"opt"}  # the one row equal in all three runs
    page = _compare(http, three, diff="1").text
    assert 'id="diff-toggle" checked' in page


def test_chart_divs_name_the_shared_metric_keys_and_the_runs(http: Any, three: list[str]) -> None:
    charts = _charts(_compare(http, three).text)
    assert [key for key, _, _ in charts] == ["rmse", "acc"]  # f1: one run only
    for _, runs, colors in charts:
        assert runs == three
        assert colors == list(PALETTE[:3])
    picked = _charts(_compare(http, three, chart=["f1", "nope", "rmse"]).text)
    assert [key for key, _, _ in picked] == ["f1", "rmse"]


def test_at_most_twenty_charts_and_a_picker_for_the_rest(world: World, http: Any) -> None:
    metrics = {f"m{i:02d}": float(i) for i in range(MAX_CHARTS + 5)}
    ids = [world.run(f"r{i}", {}, metrics) for i in range(2)]
    page = _compare(http, ids).text
    assert len(_charts(page)) == MAX_CHARTS
    assert f"Metrics: {MAX_CHARTS} of {MAX_CHARTS + 5}" in page
    assert page.count('name="chart" value="m') == MAX_CHARTS + 5


def test_the_data_block_is_valid_json_and_a_script_tag_in_a_param_cannot_escape(
    http: Any, three: list[str]
) -> None:
    page = _compare(http, three).text
    assert "<script>alert(1)" not in page
    data = _data(page)
    assert [run["id"] for run in data["runs"]] == three
    assert [run["name"] for run in data["runs"]] == ["alpha-run", "beta-run", "gamma-run"]
    axes = {(a["section"], a["key"]): a for a in data["axes"]}
    assert axes[("param", "note")]["categories"] == [HOSTILE]
    assert axes[("param", "note")]["coords"] == [None, None, 0.0]
    assert axes[("param", "lr")]["numeric"] is True
    assert axes[("param", "lr")]["coords"] == [0.1, 0.2, 0.3]
    assert axes[("param", "opt")]["same"] is True
    assert axes[("metric", "f1")]["coords"] == [None, None, 0.7]


def test_script_json_escapes_what_could_end_a_script_block() -> None:
    text = str(script_json({"v": "</script><!-- & \u2028"}))
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\u2028" not in text
    assert json.loads(text) == {"v": "</script><!-- & \u2028"}
    with pytest.raises(ValueError, match="JSON compliant"):
        script_json({"v": math.nan})


def test_nan_and_infinite_metrics_are_shown_and_never_plotted(world: World, http: Any) -> None:
    ids = [world.run("a", {}, {"loss": math.nan}), world.run("b", {}, {"loss": math.inf})]
    page = _compare(http, ids).text
    assert _rows(page)["loss"][1] == ["nan", "inf"]
    loss = next(a for a in _data(page)["axes"] if a["key"] == "loss")
    assert loss["coords"] == [None, None]


def test_unknown_runs_are_a_404_naming_them(http: Any, three: list[str]) -> None:
    missing = "f" * 32
    answer = _compare(http, [three[0], missing, "not-a-run-id"])
    assert answer.status_code == 404
    assert missing in answer.text
    assert "not-a-run-id" in answer.text
    assert three[0] not in answer.text


def test_more_than_the_limit_is_a_400(http: Any) -> None:
    ids = [f"{i:032x}" for i in range(MAX_RUNS + 1)]
    answer = _compare(http, ids)
    assert answer.status_code == 400
    assert f"at most {MAX_RUNS} runs" in answer.text


def test_repeated_and_comma_separated_ids_compare_each_run_once(
    http: Any, three: list[str]
) -> None:
    page = http.get(f"/compare?run={three[0]},{three[1]}&run={three[0]}").text
    assert [run["id"] for run in _data(page)["runs"]] == three[:2]
    pasted = http.get("/compare", params={"run": f" {three[2]}\n{three[0]} ,, {three[2]} "}).text
    assert [run["id"] for run in _data(pasted)["runs"]] == [three[2], three[0]]


def test_no_run_is_an_empty_state_that_says_what_to_do(http: Any) -> None:
    for path in ("/compare", "/compare?run=", "/compare?run=%20,%20"):
        answer = http.get(path)
        assert answer.status_code == 200, path
        assert "Pick two or more runs" in answer.text
        assert 'href="/experiments"' in answer.text
        assert "compare-data" not in answer.text


def test_one_run_with_nothing_logged_still_renders(world: World, http: Any) -> None:
    run_id = world.run("bare", {}, {})
    answer = _compare(http, [run_id])
    assert answer.status_code == 200
    assert "These runs logged no metrics." in answer.text
    assert _data(answer.text)["axes"] == []


_KEY = st.text(st.sampled_from("abcXYZ019_-. /"), min_size=1, max_size=12).filter(
    lambda k: k.strip() == k and "//" not in k and not k.startswith("/")
)
_VALUE = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from([HOSTILE, "1e308", "nan", "-0", "&amp;", "'\"", "\u2028"])


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Any]]:
    made = World(tmp_path_factory.mktemp("fuzz"))
    with asgi_client(made.app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield made, client
    close_store(made.store)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=st.lists(st.dictionaries(_KEY, _VALUE, max_size=6), min_size=1, max_size=3))
def test_any_logged_params_give_a_page_never_a_500(
    fuzz_world: tuple[World, Any], params: list[dict[str, str]]
) -> None:
    made, http = fuzz_world
    ids: list[str] = []
    keys: set[str] = set()
    for i, one in enumerate(params):
        try:
            ids.append(made.run(f"r{i}", one, {"m": float(i)}))
        except InvalidInput:
            continue  # the store refuses it; the page never sees it
        keys.update(one)
    answer = _compare(http, ids, diff="1")
    assert answer.status_code == 200, answer.text[-400:]
    if ids:
        data = _data(answer.text)
        assert [run["id"] for run in data["runs"]] == ids
        assert set(_rows(answer.text)) == keys | {"m"}


def test_colours_past_the_palette_are_distinct_hex_and_charts_take_fifty_runs(
    world: World, http: Any
) -> None:
    colors = [run_color(i) for i in range(MAX_RUNS)]
    assert len(set(colors)) == MAX_RUNS
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colors)
    ids = [world.run(f"r{i}", {"i": str(i)}, {"loss": float(i)}) for i in range(CHART_RUNS + 2)]
    page = _compare(http, ids).text
    [(key, runs, chart_colors)] = _charts(page)
    assert key == "loss"
    assert runs == ids[:CHART_RUNS]
    assert chart_colors == colors[:CHART_RUNS]
    assert f"first {CHART_RUNS} of the {CHART_RUNS + 2} runs" in page
    assert len(_data(page)["runs"]) == CHART_RUNS + 2


def test_another_tenants_run_is_unknown_and_a_viewer_sees_no_form_that_writes(
    tmp_path: Path,
) -> None:
    api = "/api/2.0/mlflow"
    with auth_server(tmp_path) as server:
        server.tenant("blue")
        password = server.user("vic", "default", "viewer")
        blue = {**server.admin, WORKSPACE_HEADER: "blue"}

        def made(headers: dict[str, str], name: str) -> str:
            experiment = server.http.post(
                f"{api}/experiments/create", json={"name": name}, headers=headers
            ).json()["experiment_id"]
            answer = server.http.post(
                f"{api}/runs/create",
                json={"experiment_id": experiment, "run_name": name},
                headers=headers,
            )
            run_id: str = answer.json()["run"]["info"]["run_id"]
            return run_id

        mine, theirs = made(server.admin, "home-run"), made(blue, "blue-canary")
        viewer = basic_auth("vic", password)
        refused = server.http.get(f"/compare?run={mine}&run={theirs}", headers=viewer)
        assert refused.status_code == 404
        assert theirs in refused.text  # the id asked for, named back
        assert "blue-canary" not in refused.text
        shown = server.http.get(f"/compare?run={mine}", headers=viewer)
        assert shown.status_code == 200
        assert "home-run" in shown.text
        posts = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]*)"', shown.text, re.I)
        assert set(posts) <= {"/logout", "/workspace"}  # only the account block's
        assert server.http.get(f"/compare?run={theirs}", headers=blue).status_code == 200


def test_the_scatter_starts_on_a_differing_param_and_keeps_the_axes_asked_for(
    http: Any, three: list[str]
) -> None:
    def selected(page: str, name: str) -> list[str]:
        block = page.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
        return re.findall(r'<option value="([^"]*)" selected>', block)

    first = _compare(http, three).text
    assert selected(first, "sx") == ["param:depth"]  # the first param that differs
    assert selected(first, "sy") == ["metric:acc"]
    asked = _compare(http, three, sx="metric:rmse", sy="metric:f1").text
    assert selected(asked, "sx") == ["metric:rmse"]
    assert selected(asked, "sy") == ["metric:f1"]
    unknown = _compare(http, three, sx="param:nope", sy="param:lr").text  # y must be a metric
    assert selected(unknown, "sx") == ["param:depth"]
    assert selected(unknown, "sy") == ["metric:acc"]
