"""The run page (kiln.server.ui.run_pages): what a run logged, its description, its charts tab."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.server.app import create_app
from kiln.server.ui.core import CSRF_COOKIE
from kiln.server.ui.render import static_url
from kiln.testing.auth_app import auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import basic_auth

API = "/api/2.0/mlflow"
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Any]:
    app = create_app(sqlite_settings(tmp_path))
    with asgi_client(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def _post(http: Any, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    answer = http.post(f"{API}/{path}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _logged_run(http: Any, **headers: str) -> tuple[str, str]:
    """A run in a new experiment with params, metrics, tags, a dataset and a model."""
    experiment = _post(http, "experiments/create", {"name": "wine"}, **headers)["experiment_id"]
    run = _post(
        http,
        "runs/create",
        {
            "experiment_id": experiment,
            "run_name": "brave-fox",
            "start_time": 1_700_000_000_000,
            "tags": [{"key": "mlflow.user", "value": "ada"}],
        },
        **headers,
    )["run"]["info"]["run_id"]
    _post(
        http,
        "runs/log-batch",
        {
            "run_id": run,
            "params": [{"key": "alpha", "value": "0.5"}, {"key": "evil", "value": EVIL}],
            "metrics": [
                {"key": "rmse", "value": v, "timestamp": 1_700_000_000_000 + s, "step": s}
                for s, v in enumerate([0.9, 0.7, 0.61234567])
            ],
            "tags": [
                {"key": "team", "value": "vision"},
                {"key": "mlflow.source.git.commit", "value": "abc123def"},
                {"key": "mlflow.source.name", "value": "train.py"},
            ],
        },
        **headers,
    )
    dataset = {
        "name": "wine-train",
        "digest": "d1g3st",
        "source_type": "local",
        "source": '{"uri": "/data/wine.csv"}',
    }
    context = [{"key": "mlflow.data.context", "value": "training"}]
    _post(
        http,
        "runs/log-inputs",
        {"run_id": run, "datasets": [{"dataset": dataset, "tags": context}]},
        **headers,
    )
    created = http.post(
        f"{API}/logged-models",
        json={"experiment_id": experiment, "name": "wine-model", "source_run_id": run},
        headers=headers,
    )
    assert created.status_code == 200, created.text
    _post(
        http,
        "runs/update",
        {"run_id": run, "status": "FINISHED", "end_time": 1_700_000_125_000},
        **headers,
    )
    return experiment, run


def test_the_run_page_shows_what_the_run_logged(http: Any) -> None:
    experiment, run = _logged_run(http)
    page = http.get(f"/runs/{run}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "brave-fox" in text
    assert 'class="badge status-FINISHED"' in text
    assert f'href="/experiments/{experiment}"' in text
    assert ">wine</a>" in text
    assert "2023-11-14 22:13:20 UTC" in text  # started
    assert "took 2m 05s" in text
    assert "by ada" in text
    assert ">alpha<" in text
    assert ">0.5<" in text
    # the latest metric, its key a link to its chart
    assert f'href="/runs/{run}?tab=charts&amp;key=rmse"' in text
    assert ">0.612346<" in text
    # user tags shown, system tags folded away in a <details>
    assert ">team<" in text
    assert ">vision<" in text
    system = text[text.index('class="system-tags"') :]
    assert "mlflow.source.git.commit" in system
    # source, dataset, model
    assert "abc123def" in text
    assert "train.py" in text
    assert "wine-train" in text
    assert "d1g3st" in text
    assert ">training<" in text
    assert "wine-model" in text
    assert f'href="/runs/{run}/artifacts"' in text
    # not a project run: nothing says how to run it again
    assert "kiln reproduce" not in text


def test_html_in_a_param_and_the_description_is_escaped(http: Any) -> None:
    _, run = _logged_run(http)
    http.get(f"/runs/{run}")
    token = http.cookies[CSRF_COOKIE]
    saved = http.post(
        f"/runs/{run}/description",
        data={"description": f"line one\n{EVIL}", "csrf_token": token},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/runs/{run}"
    text = http.get(f"/runs/{run}").text
    assert EVIL not in text
    assert html.escape(EVIL) in text
    assert text.count(html.escape(EVIL)) >= 2  # the param's value and the description
    assert re.search(r'class="description-text">line one\n&lt;script', text)


def test_the_description_posts_with_csrf_and_answers_htmx_with_the_fragment(http: Any) -> None:
    _, run = _logged_run(http)
    http.get(f"/runs/{run}")
    token = http.cookies[CSRF_COOKIE]
    refused = http.post(f"/runs/{run}/description", data={"description": "no token"})
    assert refused.status_code == 403
    fragment = http.post(
        f"/runs/{run}/description",
        data={"description": "tried a deeper tree"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="run-description"')
    assert "<html" not in fragment.text
    assert "tried a deeper tree" in fragment.text
    tags = http.get(f"{API}/runs/get", params={"run_id": run}).json()["run"]["data"]["tags"]
    assert {"key": "mlflow.note.content", "value": "tried a deeper tree"} in tags
    assert "no token" not in http.get(f"/runs/{run}").text


def test_the_charts_tab_has_a_chart_per_metric_and_focuses_one(http: Any) -> None:
    _, run = _logged_run(http)
    _post(
        http,
        "runs/log-metric",
        {"run_id": run, "key": "loss", "value": 1.0, "timestamp": 1_700_000_000_000, "step": 0},
    )
    page = http.get(f"/runs/{run}?tab=charts")
    assert page.status_code == 200
    text = page.text
    assert text.count('class="kiln-chart"') == 2
    assert 'data-key="rmse"' in text
    assert 'data-key="loss"' in text
    assert f'data-runs="[&#34;{run}&#34;]"' in text
    assert static_url("js/charts.js") in text
    assert static_url("vendor/uPlot-1.6.32.iife.min.js") in text
    assert "<script>" not in text  # no inline script (CSP)
    focused = http.get(f"/runs/{run}?tab=charts&key=loss&x=relative").text
    assert focused.count("kiln-chart") == 1
    assert 'data-key="loss"' in focused
    assert 'data-x="relative"' in focused
    overview = http.get(f"/runs/{run}").text
    assert static_url("js/charts.js") not in overview  # uPlot only where charts are
    kept = http.get(f"/runs/{run}?tab=charts&key=loss&log=1&smooth=0.6").text
    assert 'data-log="1"' in kept
    assert 'data-smooth="0.60"' in kept
    assert "data-sync-url" in kept  # the focused chart keeps its controls in the URL
    assert f"/runs/{run}?tab=charts&amp;key=rmse&amp;log=1&amp;smooth=0.60" in kept
    for bad in ("smooth=1", "smooth=-0.1", "smooth=nan", "smooth=x", "log=yes"):
        assert http.get(f"/runs/{run}?tab=charts&{bad}").status_code == 400, bad


def test_one_metric_focused_has_no_empty_other_metrics_and_no_all_1_charts(http: Any) -> None:
    _, run = _logged_run(http)  # rmse only
    focused = http.get(f"/runs/{run}?tab=charts&key=rmse").text
    assert 'data-key="rmse"' in focused
    assert "Other metrics" not in focused
    assert "1 charts" not in focused
    assert "back to the grid" in focused
    _post(
        http,
        "runs/log-metric",
        {"run_id": run, "key": "loss", "value": 1.0, "timestamp": 1_700_000_000_000, "step": 0},
    )
    two = http.get(f"/runs/{run}?tab=charts&key=rmse").text
    assert "Other metrics" in two
    assert "all 2 charts" in two


def test_the_chart_caption_says_1_point_not_1_points(http: Any) -> None:
    source = http.get(static_url("js/charts.js")).text
    assert '(total === 1 ? " point" : " points")' in source


def test_a_project_run_shows_the_commands_that_run_it_again(http: Any) -> None:
    experiment = _post(http, "experiments/create", {"name": "proj"})["experiment_id"]
    tags = {
        "mlflow.source.type": "PROJECT",
        "mlflow.source.name": "file:///srv/repo#wine",
        "mlflow.source.git.commit": "0123abc",
        "mlflow.source.git.repoURL": "file:///srv/repo",
        "mlflow.project.entryPoint": "train",
        "kiln.project.params": '{"alpha": "0.5", "data": "a b.csv"}',
    }
    run = _post(
        http,
        "runs/create",
        {"experiment_id": experiment, "tags": [{"key": k, "value": v} for k, v in tags.items()]},
    )["run"]["info"]["run_id"]
    text = http.get(f"/runs/{run}").text
    assert f"kiln reproduce {run}" in text
    assert (
        "kiln run &#39;file:///srv/repo#wine&#39; \\\n  -e train \\\n  -v 0123abc \\\n"
        "  -P alpha=0.5 \\\n  -P &#39;data=a b.csv&#39;" in text
    )


def test_a_child_run_links_its_parent(http: Any) -> None:
    experiment = _post(http, "experiments/create", {"name": "sweep"})["experiment_id"]
    parent = _post(http, "runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
    child = _post(
        http,
        "runs/create",
        {
            "experiment_id": experiment,
            "tags": [{"key": "mlflow.parentRunId", "value": parent}],
        },
    )["run"]["info"]["run_id"]
    assert f'href="/runs/{parent}"' in http.get(f"/runs/{child}").text


def test_an_unknown_run_or_a_bad_tab_is_a_page_not_a_crash(http: Any) -> None:
    missing = http.get("/runs/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404
    assert "Not found" in missing.text
    _, run = _logged_run(http)
    assert http.get(f"/runs/{run}?tab=nope").status_code == 400
    assert http.get(f"/runs/{run}?tab=charts&x=nope").status_code == 400
    assert http.get(f"/runs/{run}/description").status_code == 405


def test_a_viewer_sees_no_edit_control_and_cannot_post(tmp_path: Path) -> None:
    with auth_server(tmp_path) as server:
        http = server.http
        _, run = _logged_run(http, **server.admin)
        admin_page = http.get(f"/runs/{run}", headers=server.admin)
        assert admin_page.status_code == 200
        assert 'name="description"' in admin_page.text
        password = server.user("vera", "default", "viewer")
        viewer = basic_auth("vera", password)
        page = http.get(f"/runs/{run}", headers=viewer)
        assert page.status_code == 200
        assert "brave-fox" in page.text
        assert 'name="description"' not in page.text
        assert f"/runs/{run}/description" not in page.text
        token = http.cookies[CSRF_COOKIE]
        refused = http.post(
            f"/runs/{run}/description",
            data={"description": "mine now", "csrf_token": token},
            headers=viewer,
        )
        assert refused.status_code == 403
        assert "mine now" not in http.get(f"/runs/{run}", headers=server.admin).text


def test_bad_ids_and_a_description_past_the_tag_limit_are_refused_not_crashed(http: Any) -> None:
    _, run = _logged_run(http)
    http.get(f"/runs/{run}")
    token = http.cookies[CSRF_COOKIE]
    for bad in ("%3Cscript%3E", "..%2F..%2Fetc", "x" * 300):
        answer = http.get(f"/runs/{bad}")
        assert 400 <= answer.status_code < 500, bad
        assert "<script>" not in answer.text
    unknown = http.post(
        "/runs/0123456789abcdef0123456789abcdef/description",
        data={"description": "x", "csrf_token": token},
    )
    assert unknown.status_code == 404
    huge = http.post(
        f"/runs/{run}/description", data={"description": "x" * 100_000, "csrf_token": token}
    )
    assert huge.status_code == 400
