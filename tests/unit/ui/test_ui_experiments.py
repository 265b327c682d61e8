"""The experiments list and the runs table pages (kiln.server.ui.experiment_pages, runs_pages).

In process over a real SQLite store; runs are logged through the REST API.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.server.app import create_app
from kiln.server.ui.core import CSRF_COOKIE
from kiln.testing.auth_app import auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import basic_auth

API = "/api/2.0/mlflow"
ROW = re.compile(r'<tr tabindex="0" data-run="([0-9a-f]{32})" class="([^"]*)"')


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Any]:
    app = create_app(sqlite_settings(tmp_path))
    with asgi_client(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.get("/experiments")  # the CSRF cookie
        yield client


def csrf(http: Any) -> str:
    token: str = http.cookies[CSRF_COOKIE]
    return token


def experiment(http: Any, name: str) -> str:
    made = http.post(f"{API}/experiments/create", json={"name": name})
    assert made.status_code == 200, made.text
    experiment_id: str = made.json()["experiment_id"]
    return experiment_id


def log_run(
    http: Any,
    experiment_id: str,
    name: str,
    *,
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    start: int = 1_700_000_000_000,
) -> str:
    made = http.post(
        f"{API}/runs/create",
        json={"experiment_id": experiment_id, "run_name": name, "start_time": start},
    )
    assert made.status_code == 200, made.text
    run_id: str = made.json()["run"]["info"]["run_id"]
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": k, "value": v, "timestamp": start, "step": 0}
            for k, v in (metrics or {}).items()
        ],
        "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }
    logged = http.post(f"{API}/runs/log-batch", json=batch)
    assert logged.status_code == 200, logged.text
    return run_id


def rows(text: str) -> list[str]:
    """The run ids of the table's top-level rows, in order."""
    return [run_id for run_id, kind in ROW.findall(text) if "child" not in kind.split()]


def child_rows(text: str) -> list[str]:
    return [run_id for run_id, kind in ROW.findall(text) if "child" in kind.split()]


def next_link(text: str) -> str | None:
    found = re.search(r'<a class="button" href="([^"]+)"[^>]*rel="next"', text)
    return html.unescape(found.group(1)) if found else None


def headers_of(text: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<th[^>]* title="([^"]+)"', text)]


@pytest.fixture
def sweep(http: Any) -> tuple[str, list[str]]:
    """An experiment with 7 runs: rmse 0.0 .. 0.6, alpha = i % 3, started in order."""
    experiment_id = experiment(http, "sweep")
    run_ids = [
        log_run(
            http,
            experiment_id,
            f"run-{i}",
            metrics={"rmse": i / 10},
            params={"alpha": str(i % 3)},
            start=1_700_000_000_000 + i,
        )
        for i in range(7)
    ]
    return experiment_id, run_ids


def test_the_runs_table_pages_with_the_store_tokens_never_more_than_the_size(
    http: Any, sweep: tuple[str, list[str]]
) -> None:
    experiment_id, run_ids = sweep
    url: str | None = f"/experiments/{experiment_id}?size=3"
    seen: list[str] = []
    pages = 0
    while url is not None:
        page = http.get(url)
        assert page.status_code == 200
        on_page = rows(page.text)
        assert 1 <= len(on_page) <= 3
        seen += on_page
        url = next_link(page.text)
        pages += 1
        if url is not None:
            assert parse_qs(urlsplit(url).query)["size"] == ["3"]
    assert pages == 3
    assert seen == list(reversed(run_ids))  # newest first, each run once


def test_sorting_on_a_metric_column_and_the_header_toggles_the_direction(
    http: Any, sweep: tuple[str, list[str]]
) -> None:
    experiment_id, run_ids = sweep
    down = http.get(f"/experiments/{experiment_id}", params={"order": "metrics.rmse DESC"})
    assert rows(down.text) == list(reversed(run_ids))
    assert 'aria-sort="descending"' in down.text
    assert "order=metrics.rmse+ASC" in down.text  # a click on the header asks for ASC next
    up = http.get(f"/experiments/{experiment_id}", params={"order": "metrics.rmse ASC"})
    assert rows(up.text) == run_ids
    by_name = http.get(f"/experiments/{experiment_id}", params={"order": "attributes.run_name"})
    assert rows(by_name.text) == run_ids


def test_a_filter_narrows_the_rows_and_a_bad_one_is_shown_inline_with_the_box_kept(
    http: Any, sweep: tuple[str, list[str]]
) -> None:
    experiment_id, run_ids = sweep
    good = http.get(
        f"/experiments/{experiment_id}",
        params={"filter": "metrics.rmse < 0.35 and params.alpha = '0'"},
    )
    assert good.status_code == 200
    assert set(rows(good.text)) == {run_ids[0], run_ids[3]}
    bad_filter = "metrics.rmse < and"
    bad = http.get(f"/experiments/{experiment_id}", params={"filter": bad_filter})
    assert bad.status_code == 400
    assert 'class="alert alert-error filter-error"' in bad.text
    assert f'value="{html.escape(bad_filter)}"' in bad.text
    assert rows(bad.text) == []
    fragment = http.get(
        f"/experiments/{experiment_id}",
        params={"filter": bad_filter},
        headers={"HX-Request": "true", "HX-Target": "runs-table"},
    )
    assert fragment.status_code == 200  # htmx swaps only 2xx answers
    assert "filter-error" in fragment.text
    assert "<html" not in fragment.text
    for params in ({"page_token": "not-a-token"}, {"order": "metrics.rmse SIDEWAYS"}):
        answer = http.get(f"/experiments/{experiment_id}", params=params)
        assert answer.status_code == 400, params
        assert "filter-error" in answer.text


def test_a_refused_filter_keeps_the_default_columns_and_never_says_0_shown(
    http: Any, sweep: tuple[str, list[str]]
) -> None:
    experiment_id, _ = sweep
    base = f"/experiments/{experiment_id}"
    for hx in ({}, {"HX-Request": "true", "HX-Target": "runs-table"}):
        bad = http.get(base, params={"filter": "metrics.rmse < and"}, headers=hx)
        assert "filter-error" in bad.text
        for name in ("metrics.rmse", "params.alpha"):  # the picker keeps them ticked
            assert f'name="cols" value="{name}" checked>' in bad.text
        assert "Columns <span" in bad.text
    for params in ({"cols": "-"}, {"cols": "-", "filter": "metrics.rmse < and"}):
        none = http.get(base, params=params).text
        assert "<summary>Columns" in none
        assert "0 shown" not in none


def test_an_htmx_request_gets_only_the_table_and_a_direct_load_the_whole_page(
    http: Any, sweep: tuple[str, list[str]]
) -> None:
    experiment_id, _ = sweep
    url = f"/experiments/{experiment_id}?order=metrics.rmse+DESC"
    full = http.get(url)
    assert full.text.lstrip().startswith("<!doctype html>")
    assert 'id="runs-table"' in full.text
    fragment = http.get(url, headers={"HX-Request": "true", "HX-Target": "runs-table"})
    assert not fragment.text.lstrip().startswith("<!doctype")
    assert rows(fragment.text) == rows(full.text)
    restore = http.get(
        url,
        headers={
            "HX-Request": "true",
            "HX-Target": "runs-table",
            "HX-History-Restore-Request": "true",
        },
    )
    assert restore.text.lstrip().startswith("<!doctype html>")


def test_the_column_picker_is_in_the_url(http: Any, sweep: tuple[str, list[str]]) -> None:
    experiment_id, _ = sweep
    log_run(http, experiment_id, "tagged", tags={"team": "ml"}, params={"beta": "x"})
    default = headers_of(http.get(f"/experiments/{experiment_id}").text)
    assert "metrics.rmse" in default
    assert "params.alpha" in default
    assert "params.beta" in default
    assert "tags.team" not in default  # tags only when picked
    picked = http.get(
        f"/experiments/{experiment_id}", params={"cols": ["-", "tags.team", "params.alpha"]}
    )
    assert [h for h in headers_of(picked.text) if "." in h] == ["tags.team", "params.alpha"]
    assert 'name="cols" value="metrics.rmse" >' in picked.text  # offered, not ticked
    none = headers_of(http.get(f"/experiments/{experiment_id}", params={"cols": "-"}).text)
    assert [h for h in none if "." in h] == []


def test_delete_and_restore_selected_runs_and_the_deleted_view(
    http: Any, sweep: tuple[str, list[str]]
) -> None:
    experiment_id, run_ids = sweep
    other = log_run(http, experiment(http, "other"), "elsewhere")
    base = f"/experiments/{experiment_id}"
    form = {"run": run_ids[:2], "csrf_token": csrf(http), "back": f"{base}?size=3"}
    deleted = http.post(f"{base}/runs/delete", data=form)
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"{base}?size=3"
    assert set(rows(http.get(base).text)) == set(run_ids[2:])
    assert set(rows(http.get(base, params={"view": "deleted"}).text)) == set(run_ids[:2])
    assert len(rows(http.get(base, params={"view": "all"}).text)) == 7
    foreign = http.post(f"{base}/runs/delete", data={"run": [other], "csrf_token": csrf(http)})
    assert foreign.status_code == 400
    assert "is not in experiment" in foreign.text
    assert (
        http.get(f"{API}/runs/get", params={"run_id": other}).json()["run"]["info"][
            "lifecycle_stage"
        ]
        == "active"
    )
    restored = http.post(f"{base}/runs/restore", data={**form, "back": "https://evil.example/"})
    assert restored.headers["location"] == base  # only this experiment's page is a way back
    assert len(rows(http.get(base).text)) == 7
    no_csrf = http.post(f"{base}/runs/delete", data={"run": run_ids[:1]})
    assert no_csrf.status_code == 403
    assert len(rows(http.get(base).text)) == 7


def test_children_fold_under_their_parent_and_expand(http: Any) -> None:
    experiment_id = experiment(http, "nested")
    parent = log_run(http, experiment_id, "sweep", params={"alpha": "all"}, start=1)
    kids = [
        log_run(
            http,
            experiment_id,
            f"trial-{i}",
            params={"alpha": str(i)},
            tags={"mlflow.parentRunId": parent},
            start=10 + i,
        )
        for i in range(3)
    ]
    lone = log_run(http, experiment_id, "lone", start=5)
    base = f"/experiments/{experiment_id}"
    page = http.get(base)
    assert rows(page.text) == [lone, parent]  # top-level only
    assert "3 children" in page.text
    assert child_rows(page.text) == []
    expanded = http.get(base, params={"expand": parent})
    assert set(child_rows(expanded.text)) == set(kids)
    assert 'aria-expanded="true"' in expanded.text
    fragment = http.get(f"{base}/children", params={"parent": parent, "cols": "params.alpha"})
    assert fragment.status_code == 200
    assert set(child_rows(fragment.text)) == set(kids)
    assert f'data-parent="{parent}"' in fragment.text
    # a filter lists every run it matches; a child whose parent is not on the page stands alone
    one = http.get(base, params={"filter": "params.alpha = '1'"})
    assert rows(one.text) == [kids[1]]
    # a child on the same page as its parent folds under it
    both = http.get(base, params={"filter": "params.alpha LIKE '%'"})
    assert rows(both.text) == [parent]  # "lone" has no alpha; the trials fold under "sweep"
    assert "3 children" in both.text


def test_experiments_list_search_views_and_paging(http: Any) -> None:
    first_visit = http.get("/experiments").text
    assert "Only the Default experiment so far" in first_visit
    assert 'mlflow.set_tracking_uri("http://127.0.0.1")' in first_visit
    for name in ("wine-quality", "Wine-2", "taxi"):
        experiment(http, name)
    listing = http.get("/experiments")
    assert listing.status_code == 200
    assert "Only the Default experiment so far" not in listing.text
    for name in ("wine-quality", "Wine-2", "taxi", "Default"):
        assert f">{name}</a>" in listing.text
    found = http.get("/experiments", params={"q": "wine"})
    assert ">wine-quality</a>" in found.text
    assert ">Wine-2</a>" in found.text
    assert ">taxi</a>" not in found.text
    as_filter = http.get("/experiments", params={"q": "name = 'taxi'"})
    assert ">taxi</a>" in as_filter.text
    assert ">Wine-2</a>" not in as_filter.text
    bad = http.get("/experiments", params={"q": "name = "})
    assert bad.status_code == 400
    assert "filter-error" in bad.text
    first = http.get("/experiments", params={"size": "2"})
    assert first.text.count("<tr tabindex") == 2
    second = http.get(next_link(first.text) or "")
    assert second.text.count("<tr tabindex") == 2


def test_create_rename_delete_restore_an_experiment(http: Any) -> None:
    token = csrf(http)
    made = http.post("/experiments/create", data={"name": "fresh", "csrf_token": token})
    assert made.status_code == 303
    base = made.headers["location"]
    experiment_id = base.rsplit("/", 1)[-1]
    empty = http.get(base)
    assert "No runs in this experiment yet" in empty.text
    assert 'mlflow.set_experiment("fresh")' in empty.text
    again = http.post("/experiments/create", data={"name": "fresh", "csrf_token": token})
    assert again.status_code == 409
    assert "alert-error" in again.text
    assert 'value="fresh"' in again.text
    renamed = http.post(f"{base}/rename", data={"name": "renamed", "csrf_token": token})
    assert renamed.status_code == 303
    assert "<h1>renamed" in http.get(base).text
    assert http.post(f"{base}/delete", data={"csrf_token": token}).status_code == 303
    assert "This experiment is deleted" in http.get(base).text
    assert ">renamed</a>" not in http.get("/experiments").text
    assert ">renamed</a>" in http.get("/experiments", params={"view": "deleted"}).text
    assert http.post(f"{base}/restore", data={"csrf_token": token}).status_code == 303
    assert ">renamed</a>" in http.get("/experiments").text
    assert http.post(f"{base}/delete", data={"csrf_token": "x" * 43}).status_code == 403
    assert http.post("/experiments/create", data={"name": "nope"}).status_code == 403
    state = http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()
    assert state["experiment"]["lifecycle_stage"] == "active"
    assert http.get("/experiments/999999").status_code == 404


def test_a_viewer_sees_no_write_controls_and_cannot_post(tmp_path: Path) -> None:
    with auth_server(tmp_path) as server:
        http = server.http
        admin = server.admin
        made = http.post(f"{API}/experiments/create", json={"name": "shared"}, headers=admin)
        experiment_id = made.json()["experiment_id"]
        run = http.post(
            f"{API}/runs/create", json={"experiment_id": experiment_id}, headers=admin
        ).json()["run"]["info"]["run_id"]
        as_admin = http.get(f"/experiments/{experiment_id}", headers=admin)
        assert "/runs/delete" in as_admin.text
        assert "Delete experiment" in as_admin.text
        assert "New experiment" in http.get("/experiments", headers=admin).text
        viewer = basic_auth("vera", server.user("vera", "default", "viewer"))
        listing = http.get("/experiments", headers=viewer)
        assert listing.status_code == 200
        assert ">shared</a>" in listing.text
        for text in (listing.text, http.get(f"/experiments/{experiment_id}", headers=viewer).text):
            for control in ("New experiment", "/delete", "/rename", "/restore", "/runs/delete"):
                assert control not in text
        assert run in http.get(f"/experiments/{experiment_id}", headers=viewer).text
        token = http.cookies[CSRF_COOKIE]
        refused = http.post(
            f"/experiments/{experiment_id}/runs/delete",
            data={"run": run, "csrf_token": token},
            headers=viewer,
        )
        assert refused.status_code == 403
        refused = http.post(
            "/experiments/create", data={"name": "x", "csrf_token": token}, headers=viewer
        )
        assert refused.status_code == 403


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    filter_=st.one_of(
        _text, st.sampled_from(["metrics.rmse < 0.3", "params.alpha = '1'", "tags.x IS NULL"])
    ),
    order=st.one_of(_text, st.sampled_from(["metrics.rmse DESC", "params.alpha", "`x` ASC"])),
    cols=st.lists(
        st.one_of(_text, st.sampled_from(["metrics.rmse", "-", "tags.", "params.`"])), max_size=4
    ),
    token=st.one_of(_text, st.just("eyJvZmZzZXQiOiAxfQ==")),
    size=st.one_of(_text, st.integers(-5, 2000).map(str)),
    view=st.sampled_from(["", "active", "deleted", "all", "bogus"]),
)
def test_fuzzed_runs_page_state_never_gives_a_500(
    http: Any,
    sweep: tuple[str, list[str]],
    filter_: str,
    order: str,
    cols: list[str],
    token: str,
    size: str,
    view: str,
) -> None:
    experiment_id, _ = sweep
    params = {
        "filter": filter_,
        "order": order,
        "cols": cols,
        "page_token": token,
        "size": size,
        "view": view,
        "expand": filter_,
    }
    answer = http.get(f"/experiments/{experiment_id}", params=params)
    assert answer.status_code in (200, 400), answer.text[-500:]
    children = http.get(
        f"/experiments/{experiment_id}/children", params={**params, "parent": order}
    )
    assert children.status_code in (200, 400), children.text[-500:]
