"""The artifact browser (/runs/{id}/artifacts), its tree fragment and raw downloads.

Artifacts are uploaded through the server's own mlflow-artifacts proxy into a run
made with the REST API, as the mlflow client does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.server.app import create_app
from kiln.server.artifact_headers import SANDBOX_CSP
from kiln.server.artifact_preview import PREVIEW_BYTES, TABLE_ROWS
from kiln.server.ui.render import PAGE_CSP
from kiln.testing.auth_app import auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5dd8a6b0000000049454e44ae426082"
)
EVIL = b"<html><body><script>document.title='pwned:'+document.cookie</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
MLMODEL = b"""artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
  sklearn:
    sklearn_version: 1.5.0
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """One server and a run holding one file of every preview kind."""
    root = tmp_path_factory.mktemp("ui-artifacts")
    with asgi_client(
        create_app(sqlite_settings(root)), raise_server_exceptions=False, follow_redirects=False
    ) as http:
        made = http.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": "r1"})
        run = made.json()["run"]["info"]
        base = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        files = {
            "notes.txt": b"hello\nworld\n",
            "train.log": b"epoch 1 loss 0.5\n",
            "conf/params.yaml": b"alpha: 0.1\n",
            "conf/metrics.json": b'{"rmse":0.5,"r2":[1,2]}',
            "conf/broken.json": b"{not json",
            "data/small.csv": b"a,b\n1,<b>x</b>\n2,y\n",
            "data/tab.tsv": b"a\tb\n1\t2\n",
            "data/big.csv": b"id,value\n"
            + b"".join(b"%d,%d\n" % (i, i * i) for i in range(60_000)),
            "big.log": b"x" * (PREVIEW_BYTES * 3),
            "img/pixel.png": PNG,
            "img/evil.html": EVIL,
            "img/pic.svg": SVG,
            "model/MLmodel": MLMODEL,
            "model/requirements.txt": b"scikit-learn==1.5.0\n",
            "model/model.pkl": b"\x80\x04\x95\x00\x00binary",
            "README": b"plain text without an extension\n",
            "deep/a/b/c.txt": b"deep",
        }
        for path, body in files.items():
            assert http.put(f"{PROXY}/{base}/{path}", content=body).status_code == 200
        yield http, run["run_id"]


def _page(http: Any, run_id: str, path: str = "") -> Any:
    answer = http.get(f"/runs/{run_id}/artifacts", params={"path": path} if path else None)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-security-policy"] == PAGE_CSP
    return answer.text


def _raw(http: Any, run_id: str, path: str, **extra: str) -> Any:
    answer = http.get(f"/runs/{run_id}/artifact", params={"path": path, **extra})
    assert answer.headers["x-content-type-options"] == "nosniff"
    return answer


def test_the_root_lists_folders_first_with_sizes(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id)
    names = re.findall(
        r'class="tree-(?:file|dir)">\s*(?:<details[^>]*>\s*<summary>)?<a [^>]*>([^<]+)<', html
    )
    assert names[:6] == ["conf", "data", "deep", "img", "model", "big.log"]
    assert "notes.txt" in names
    assert "README" in names
    assert "768.0 KB" in html  # big.log's size
    assert 'hx-get="/runs/' + run_id + '/artifacts/tree?path=conf"' in html


def _header(html: str) -> str:
    """The crumbs, header and tabs, without which tab is current."""
    start = html.index('<div class="crumbs">')
    return re.sub(r'\s*aria-current="page"\s*', " ", html[start : html.index("</nav>", start)])


def test_the_artifacts_page_has_the_run_pages_header_with_its_own_tab(
    world: tuple[Any, str],
) -> None:
    http, run_id = world
    artifacts, run = _page(http, run_id), http.get(f"/runs/{run_id}").text
    assert "css/run.css" in artifacts  # the same badge and meta styles
    assert 'class="page-head run-head"' in artifacts
    assert 'class="sub run-meta"' in artifacts
    assert _header(artifacts) == _header(run)
    assert f'/runs/{run_id}/artifacts" aria-current="page">Artifacts' in artifacts


def test_a_nested_file_opens_the_tree_down_to_it_with_breadcrumbs(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "deep/a/b/c.txt")
    assert html.count("<details open>") == 3
    assert 'aria-current="true">c.txt</a>' in html
    crumbs = re.search(r'<nav class="artifact-path".*?</nav>', html, re.S)
    assert crumbs is not None
    assert re.findall(r">([^<>]+)</(?:a|strong)>", crumbs.group(0)) == [
        "artifacts",
        "deep",
        "a",
        "b",
        "c.txt",
    ]


def test_the_tree_fragment_lists_one_folder(world: tuple[Any, str]) -> None:
    http, run_id = world
    fragment = http.get(f"/runs/{run_id}/artifacts/tree", params={"path": "conf"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert re.findall(r'title="([^"]+)"', fragment.text) == [
        "conf/broken.json",
        "conf/metrics.json",
        "conf/params.yaml",
    ]


def test_a_folder_shows_its_listing(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "model")
    listing = re.search(r"<table class=\"data artifact-list keyboard\">.*?</table>", html, re.S)
    assert listing is not None
    assert re.findall(r">([^<>]+)</a>", listing.group(0)) == [
        "MLmodel",
        "model.pkl",
        "requirements.txt",
    ]


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("notes.txt", "hello\nworld\n"),
        ("train.log", "epoch 1 loss 0.5"),
        ("conf/params.yaml", "alpha: 0.1"),
        ("model/requirements.txt", "scikit-learn==1.5.0"),
        ("README", "plain text without an extension"),
    ],
)
def test_text_files_are_shown_as_text(world: tuple[Any, str], path: str, shown: str) -> None:
    http, run_id = world
    html = _page(http, run_id, path)
    assert f'<pre class="artifact-text">{shown}' in html
    assert "Showing the first" not in html


def test_json_is_pretty_printed_and_bad_json_shown_as_text(world: tuple[Any, str]) -> None:
    http, run_id = world
    pretty = json.dumps({"rmse": 0.5, "r2": [1, 2]}, indent=2).replace('"', "&#34;")
    assert pretty in _page(http, run_id, "conf/metrics.json")
    broken = _page(http, run_id, "conf/broken.json")
    assert "not valid JSON" in broken
    assert "{not json" in broken


def test_csv_and_tsv_are_tables_with_escaped_cells(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "data/small.csv")
    assert '<th class="num">a</th><th>b</th>' in html  # numbers right-aligned
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    assert '<th class="num">a</th><th class="num">b</th>' in _page(http, run_id, "data/tab.tsv")


def test_a_large_csv_shows_the_first_rows_of_a_capped_read(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "data/big.csv")
    table = re.search(r'<div class="table-wrap artifact-table">.*?</table>', html, re.S)
    assert table is not None
    assert table.group(0).count("<tr>") == TABLE_ROWS + 1  # the header and the rows
    last_row = '<td class="num" title="99">99</td><td class="num" title="9801">9801</td>'
    assert last_row in table.group(0)
    assert f"Showing the first {PREVIEW_BYTES:,} of " in html
    assert f"The first {TABLE_ROWS} rows." in html


def test_a_large_text_file_is_capped_with_a_download_link(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "big.log")
    assert f"Showing the first {PREVIEW_BYTES:,} of {PREVIEW_BYTES * 3:,} bytes" in html
    shown = re.search(r'<pre class="artifact-text">(x*)</pre>', html)
    assert shown is not None
    assert len(shown.group(1)) == PREVIEW_BYTES
    assert f"/runs/{run_id}/artifact?path=big.log&amp;download=1" in html


def test_images_html_and_svg_are_shown_by_url(world: tuple[Any, str]) -> None:
    http, run_id = world
    image = _page(http, run_id, "img/pixel.png")
    assert f'<img src="/runs/{run_id}/artifact?path=img%2Fpixel.png" alt="pixel.png">' in image
    for name in ("evil.html", "pic.svg"):
        html = _page(http, run_id, f"img/{name}")
        frame = f'<iframe class="artifact-frame" sandbox src="/runs/{run_id}/artifact?path=img%2F'
        assert frame + name + '"' in html
        assert "<script>" not in html


def test_mlmodel_lists_flavors_and_the_serve_command(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "model/MLmodel")
    assert re.findall(r'<span class="badge">([^<]+)</span>', html) == ["python_function", "sklearn"]
    assert f"kiln models serve -m runs:/{run_id}/model" in html


def test_a_binary_file_has_no_preview_but_a_download(world: tuple[Any, str]) -> None:
    http, run_id = world
    html = _page(http, run_id, "model/model.pkl")
    assert "No preview for this file type" in html
    assert f"/runs/{run_id}/artifact?path=model%2Fmodel.pkl&amp;download=1" in html


@pytest.mark.parametrize(
    ("path", "media_type", "disposition"),
    [
        ("notes.txt", "text/plain; charset=utf-8", 'inline; filename="notes.txt"'),
        ("data/small.csv", "text/plain; charset=utf-8", 'inline; filename="small.csv"'),
        ("conf/metrics.json", "text/plain; charset=utf-8", 'inline; filename="metrics.json"'),
        ("img/pixel.png", "image/png", 'inline; filename="pixel.png"'),
        ("img/evil.html", "text/html; charset=utf-8", 'inline; filename="evil.html"'),
        ("img/pic.svg", "image/svg+xml", 'inline; filename="pic.svg"'),
        ("model/model.pkl", "application/octet-stream", 'attachment; filename="model.pkl"'),
        ("model/MLmodel", "text/plain; charset=utf-8", 'inline; filename="MLmodel"'),
    ],
)
def test_raw_downloads_are_unsniffed_and_sandboxed(
    world: tuple[Any, str], path: str, media_type: str, disposition: str
) -> None:
    http, run_id = world
    shown = _raw(http, run_id, path)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == media_type
    assert shown.headers["content-disposition"] == disposition
    assert shown.headers["content-security-policy"] == SANDBOX_CSP  # never the page's CSP
    downloaded = _raw(http, run_id, path, download="1")
    assert downloaded.content == shown.content
    assert downloaded.headers["content-disposition"].startswith("attachment; ")
    assert downloaded.headers["content-security-policy"] == SANDBOX_CSP


def test_html_is_never_served_under_the_page_csp(world: tuple[Any, str]) -> None:
    http, run_id = world
    for path in ("img/evil.html", "img/pic.svg"):
        for extra in ({}, {"download": "1"}):
            answer = _raw(http, run_id, path, **extra)
            assert answer.content in (EVIL, SVG)
            csp = answer.headers["content-security-policy"]
            assert csp.startswith("sandbox;"), csp
            assert "script-src" not in csp, csp


def test_a_large_download_streams_whole(world: tuple[Any, str]) -> None:
    http, run_id = world
    answer = _raw(http, run_id, "big.log", download="1")
    assert answer.content == b"x" * (PREVIEW_BYTES * 3)


@pytest.mark.parametrize(
    "path",
    [
        "../notes.txt",
        "/etc/passwd",
        "a/../../b",
        "..\\notes.txt",
        "img\\pixel.png",
        "notes.txt\x00.png",
        "%2e%2e/notes.txt",
        "~/x",
        "file:/etc/passwd",
    ],
)
def test_escaping_paths_are_4xx(world: tuple[Any, str], path: str) -> None:
    http, run_id = world
    for route in ("artifacts", "artifacts/tree", "artifact"):
        answer = http.get(f"/runs/{run_id}/{route}", params={"path": path})
        assert answer.status_code == 400, (route, path, answer.status_code)
        assert "invalid artifact path" in answer.text


def test_missing_files_runs_and_folders_are_404(world: tuple[Any, str]) -> None:
    http, run_id = world
    assert http.get(f"/runs/{run_id}/artifacts", params={"path": "nope.txt"}).status_code == 404
    assert http.get(f"/runs/{run_id}/artifact", params={"path": "nope.txt"}).status_code == 404
    assert http.get(f"/runs/{run_id}/artifact", params={"path": "conf"}).status_code == 404
    assert http.get(f"/runs/{run_id}/artifact").status_code == 400
    assert http.get(f"/runs/{run_id}/artifacts/tree", params={"path": "nope"}).status_code == 404
    assert (
        http.get(f"/runs/{run_id}/artifacts/tree", params={"path": "notes.txt"}).status_code == 400
    )
    assert http.get(f"/runs/{'f' * 32}/artifacts").status_code == 404


def test_a_missing_file_or_folder_names_no_server_path(
    world: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    http, run_id = world
    server_root = str(tmp_path_factory.getbasetemp())
    for route, path in [
        ("artifact", "nope.txt"),
        ("artifact", "deep/a/nope"),
        ("artifacts", "x/y"),
    ]:
        answer = http.get(f"/runs/{run_id}/{route}", params={"path": path})
        assert answer.status_code == 404
        assert path in answer.text
        assert server_root not in answer.text
        assert "/artifacts&#39;" not in answer.text


def test_a_run_without_artifacts_says_what_to_do(tmp_path: Path) -> None:
    with asgi_client(create_app(sqlite_settings(tmp_path)), follow_redirects=False) as http:
        made = http.post(f"{API}/runs/create", json={"experiment_id": "0"})
        run_id = made.json()["run"]["info"]["run_id"]
        html = _page(http, run_id)
    assert "No artifacts yet" in html
    assert "mlflow.log_artifact" in html


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.text(st.characters(codec="utf-8"), max_size=40)
    | st.sampled_from(["..", "./.", "%", "a//b/", "notes.txt", "conf/", "img/pic.svg"])
)
def test_no_path_is_a_500(world: tuple[Any, str], path: str) -> None:
    http, run_id = world
    for route in ("artifacts", "artifacts/tree", "artifact"):
        answer = http.get(f"/runs/{run_id}/{route}", params={"path": path})
        assert answer.status_code < 500, (route, path, answer.status_code)
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_viewer_reads_and_another_tenant_sees_nothing(tmp_path: Path) -> None:
    with auth_server(tmp_path) as server:
        for tenant in ("team-a", "team-b"):
            server.tenant(tenant)
        users = {
            name: basic_auth(name, server.user(name, tenant, role)) | {WORKSPACE_HEADER: tenant}
            for name, tenant, role in (
                ("mia", "team-a", "member"),
                ("vic", "team-a", "viewer"),
                ("oscar", "team-b", "member"),
            )
        }
        http, mia = server.http, users["mia"]
        made = http.post(f"{API}/experiments/create", json={"name": "e"}, headers=mia)
        experiment_id = made.json()["experiment_id"]
        made = http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}, headers=mia)
        run = made.json()["run"]["info"]
        base = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        put = http.put(f"{PROXY}/{base}/secret.txt", content=b"team-a only", headers=mia)
        assert put.status_code == 200, put.text
        urls = [
            f"/runs/{run['run_id']}/artifacts?path=secret.txt",
            f"/runs/{run['run_id']}/artifacts/tree",
            f"/runs/{run['run_id']}/artifact?path=secret.txt",
        ]
        for url in urls:
            assert http.get(url, headers=users["vic"]).status_code == 200, url
            assert http.get(url, headers=users["oscar"]).status_code == 404, url
            anonymous = http.get(url, follow_redirects=False)
            assert anonymous.status_code == 303, url
            assert anonymous.headers["location"].startswith("/login?next=")
        raw = http.get(urls[2], headers=users["vic"])
        assert raw.content == b"team-a only"
        assert raw.headers["x-content-type-options"] == "nosniff"


def test_a_logged_models_files_are_browsed_from_its_run(
    world: tuple[Any, str], tmp_path: Path
) -> None:
    """MLflow 3 keeps a logged model's files under the model's location: the run's page
    lists the model and browses its files with ?model=."""
    http, run_id = world
    made = http.post(
        f"{API}/logged-models",
        json={"experiment_id": "0", "name": "forest", "source_run_id": run_id},
    )
    model = made.json()["model"]["info"]
    model_id, location = model["model_id"], model["artifact_uri"]
    base = location.removeprefix("mlflow-artifacts:/")
    assert http.put(f"{PROXY}/{base}/MLmodel", content=MLMODEL).status_code == 200
    assert http.put(f"{PROXY}/{base}/data/w.txt", content=b"weights").status_code == 200

    root = _page(http, run_id)
    assert "Logged models" in root
    assert f'href="/runs/{run_id}/artifacts?model={model_id}" title="{model_id}">forest</a>' in root
    html = http.get(f"/runs/{run_id}/artifacts", params={"model": model_id, "path": "MLmodel"})
    assert html.status_code == 200
    assert f"kiln models serve -m models:/{model_id}" in html.text
    assert f'<strong title="{model_id}">forest</strong>' in html.text  # the tree's root
    assert f"/runs/{run_id}/artifacts/tree?model={model_id}&amp;path=data" in html.text
    raw = _raw(http, run_id, "data/w.txt", model=model_id)
    assert raw.content == b"weights"
    tree = http.get(f"/runs/{run_id}/artifacts/tree", params={"model": model_id, "path": "data"})
    assert 'title="data/w.txt"' in tree.text

    other = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    for route in ("artifacts", "artifacts/tree", "artifact"):
        elsewhere = f"/runs/{other['run_id']}/{route}"
        assert http.get(elsewhere, params={"model": model_id, "path": "MLmodel"}).status_code == 404
        assert http.get(elsewhere, params={"model": "m-nope", "path": "x"}).status_code == 404


def test_a_run_with_only_a_logged_model_lists_it(tmp_path: Path) -> None:
    with asgi_client(create_app(sqlite_settings(tmp_path)), follow_redirects=False) as http:
        run_id = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
        run_id = run_id["run_id"]
        body = {"experiment_id": "0", "name": "net", "source_run_id": run_id}
        model_id = http.post(f"{API}/logged-models", json=body).json()["model"]["info"]["model_id"]
        html = _page(http, run_id)
    assert "No artifacts yet" not in html
    assert "This folder is empty" not in html
    assert f'<a href="/runs/{run_id}/artifacts?model={model_id}">net</a>' in html
