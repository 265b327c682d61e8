"""The registry pages: /models, a model, a version, its history, and the alias forms.

In process over a real SQLite store (auth off, and auth on with real users), with a
real sklearn model saved by Kiln into the run's proxied artifacts, registered
through the REST API as the mlflow client does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

import kiln.sklearn
from kiln.server.app import create_app
from kiln.server.ui.core import CSRF_COOKIE
from kiln.store.audit_context import current_actor
from kiln.testing.auth_app import AuthServer, auth_server, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

API = "/api/2.0/mlflow"
PROXY = "mlflow-artifacts:/"


@dataclass
class World:
    http: Any
    root: Path
    run_id: str
    experiment_id: str
    headers: dict[str, str]


def _post(http: Any, path: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = http.post(f"{API}/{path}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _seed(http: Any, root: Path, headers: dict[str, str]) -> World:
    """Experiment ``shop``, a run holding a real sklearn model (signature + 3-row
    example) at ``model``, and ``churn`` with versions 1 and 2 of it."""
    experiment_id = _post(http, "experiments/create", headers, name="shop")["experiment_id"]
    run = _post(http, "runs/create", headers, experiment_id=experiment_id, run_name="fit-1")
    info = run["run"]["info"]
    assert info["artifact_uri"].startswith(PROXY)
    folder = root / "artifacts" / info["artifact_uri"][len(PROXY) :] / "model"
    folder.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"age": [31.0, 42.0, 57.0], "spend": [1.5, 0.25, 9.0]})
    fitted = LinearRegression().fit(frame, [0.0, 1.0, 1.0])
    kiln.sklearn.save_model(fitted, str(folder), input_example=frame)
    _post(http, "registered-models/create", headers, name="churn", description="Who leaves.")
    for _ in range(2):
        _post(
            http,
            "model-versions/create",
            headers,
            name="churn",
            source=f"runs:/{info['run_id']}/model",
            run_id=info["run_id"],
        )
    return World(http, root, info["run_id"], experiment_id, headers)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    app = create_app(sqlite_settings(tmp_path))
    with asgi_client(app, raise_server_exceptions=False, follow_redirects=False) as http:
        yield _seed(http, tmp_path, {})


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[AuthServer, World]]:
    with auth_server(tmp_path) as server:
        yield server, _seed(server.http, tmp_path, server.admin)


def _csrf(http: Any, headers: dict[str, str] | None = None) -> str:
    assert http.get("/models", headers=headers or {}).status_code == 200
    token: str = http.cookies[CSRF_COOKIE]
    return token


def _form(http: Any, path: str, headers: dict[str, str] | None = None, **fields: str) -> Any:
    data = {"csrf_token": _csrf(http, headers), **fields}
    return http.post(path, data=data, headers=headers or {}, follow_redirects=False)


# the list ---------------------------------------------------------------------
def test_the_list_shows_each_model_with_its_latest_version_aliases_and_description(
    world: World,
) -> None:
    _post(world.http, "registered-models/alias", {}, name="churn", alias="staging", version="2")
    page = world.http.get("/models")
    assert page.status_code == 200
    html = page.text
    assert 'href="/models/churn"' in html
    assert 'href="/models/churn/versions/2">Version 2</a>' in html
    assert 'class="badge alias"' in html
    assert "@staging" in html
    assert "Who leaves." in html
    assert "css/models.css" in html


def test_the_search_box_takes_a_name_part_or_an_mlflow_filter(world: World) -> None:
    _post(world.http, "registered-models/create", {}, name="fraud")
    part = world.http.get("/models", params={"q": "hur"}).text
    assert "/models/churn" in part
    assert "/models/fraud" not in part
    grammar = world.http.get("/models", params={"q": "name LIKE 'fr%'"}).text
    assert "/models/fraud" in grammar
    assert "/models/churn" not in grammar
    none = world.http.get("/models", params={"q": "zebra"})
    assert none.status_code == 200
    assert "No model matches" in none.text
    bad = world.http.get("/models", params={"q": "name = 'x' AND"})
    assert bad.status_code == 400
    assert 'class="alert alert-error"' in bad.text


def test_the_list_pages_by_25(world: World) -> None:
    for n in range(26):
        _post(world.http, "registered-models/create", {}, name=f"m{n:02d}")
    first = world.http.get("/models").text
    assert "/models/churn" in first
    assert "/models/m23" in first
    assert "/models/m24" not in first
    token = first.split("page_token=")[1].split('"')[0]
    second = world.http.get(f"/models?page_token={token}").text
    assert "/models/m24" in second
    assert "/models/churn" not in second
    assert "First page" in second


def test_an_empty_registry_says_how_to_register_a_model(tmp_path: Path) -> None:
    with asgi_client(create_app(sqlite_settings(tmp_path))) as http:
        html = http.get("/models").text
    assert "No registered models yet" in html
    assert 'mlflow.register_model("runs:/&lt;run_id&gt;/model", "churn")' in html
    assert "kiln models register runs:/&lt;run_id&gt;/model churn" in html


# a model ----------------------------------------------------------------------
def test_the_model_page_lists_versions_with_run_links_stages_and_aliases(world: World) -> None:
    _post(world.http, "registered-models/set-tag", {}, name="churn", key="team", value="growth")
    _post(
        world.http,
        "model-versions/transition-stage",
        {},
        name="churn",
        version="1",
        stage="Staging",
    )
    _post(world.http, "registered-models/alias", {}, name="churn", alias="champion", version="1")
    html = world.http.get("/models/churn").text
    assert "Who leaves." in html
    assert "<dt>team</dt><dd>growth</dd>" in html
    table = html.split('class="data keyboard versions-table"')[1]
    assert table.index('href="/models/churn/versions/2"') < table.index(
        '"/models/churn/versions/1"'
    )
    assert f'href="/runs/{world.run_id}"' in html
    assert 'class="badge stage stage-staging"' in html
    assert "@champion" in html
    assert 'name="alias"' in html  # auth off: the anonymous admin may set aliases
    assert 'aria-current="page">Versions' in html


def test_unknown_models_and_versions_are_404_and_a_bad_version_400(world: World) -> None:
    assert world.http.get("/models/nope").status_code == 404
    assert world.http.get("/models/nope/history").status_code == 404
    assert world.http.get("/models/churn/versions/9").status_code == 404
    missing = world.http.get("/models/nope/versions/1")
    assert missing.status_code == 404
    assert "nope" in missing.text
    assert world.http.get("/models/churn/versions/abc").status_code == 400


def test_a_name_with_spaces_and_quotes_is_linked_and_found(world: World) -> None:
    name = "it's a model"
    _post(world.http, "registered-models/create", {}, name=name)
    listed = world.http.get("/models").text
    assert f'href="/models/{quote(name, safe="")}"' in listed
    page = world.http.get(f"/models/{quote(name, safe='')}")
    assert page.status_code == 200
    assert "No versions yet" in page.text


def test_dot_names_are_refused_so_no_link_is_a_dot_segment(world: World) -> None:
    """A browser resolves /models/. to /models/ and /models/.. to / (%2E too): as
    MLflow does, the registry refuses such names, on create and rename."""
    for name in (".", ".."):
        made = world.http.post(f"{API}/registered-models/create", json={"name": name})
        assert made.status_code == 400, name
        renamed = world.http.post(
            f"{API}/registered-models/rename", json={"name": "churn", "new_name": name}
        )
        assert renamed.status_code == 400, name
    _post(world.http, "registered-models/create", {}, name="a..b")
    listed = world.http.get("/models").text
    assert 'href="/models/a..b"' in listed
    assert 'href="/models/."' not in listed
    assert 'href="/models/.."' not in listed


# a version --------------------------------------------------------------------
def test_the_version_page_shows_the_signature_example_run_and_commands(world: World) -> None:
    page = world.http.get("/models/churn/versions/1")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'href="/runs/{world.run_id}">fit-1</a>' in html
    assert f'href="/experiments/{world.experiment_id}">shop</a>' in html
    assert f"runs:/{world.run_id}/model" in html
    inputs = html.split('class="data signature-table"')[1]
    assert '<td>age</td><td class="mono">double</td>' in inputs
    assert "<td>spend</td>" in inputs
    assert "tensor float64" in html  # the output
    example = html.split('class="data example-table"')[1]
    assert "<th>age</th><th>spend</th>" in example
    assert '<td class="mono">57.0</td>' in example
    assert "export MLFLOW_TRACKING_URI=http://127.0.0.1\nkiln models serve" in html
    assert "kiln models serve -m models:/churn/1 --port 5001" in html
    assert "MLFLOW_TRACKING_TOKEN" not in html  # auth off
    assert "http://127.0.0.1:5001/invocations" in html
    body = json.loads(html.split("-d &#39;")[1].split("&#39;")[0].replace("&#34;", '"'))
    assert body == {
        "dataframe_split": {
            "columns": ["age", "spend"],
            "data": [[31.0, 1.5], [42.0, 0.25], [57.0, 9.0]],
        }
    }


def test_a_version_without_files_still_renders_with_a_placeholder_request(
    world: World, tmp_path: Path
) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    _post(world.http, "model-versions/create", {}, name="churn", source=str(empty))
    page = world.http.get("/models/churn/versions/3")
    assert page.status_code == 200
    assert "could not all be read" in page.text
    assert "No signature was logged" in page.text
    assert "dataframe_split" in page.text


def test_a_version_without_an_mlmodel_names_its_source_not_a_server_path(
    world: World, tmp_path: Path
) -> None:
    source = f"runs:/{world.run_id}/nomodel"
    _post(world.http, "model-versions/create", {}, name="churn", source=source)
    page = world.http.get("/models/churn/versions/3")
    assert page.status_code == 200
    problem = page.text.split("model-files-problem")[1].split("</div>")[0]
    assert "MLmodel" in problem
    assert source in problem
    assert str(tmp_path) not in page.text


# aliases and history -----------------------------------------------------------
def test_set_move_and_remove_an_alias_then_see_it_in_history(world: World) -> None:
    http = world.http
    answer = _form(http, "/models/churn/aliases", alias="staging", version="1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/models/churn"
    assert _form(http, "/models/churn/aliases", alias="staging", version="2").status_code == 303
    assert "@staging" in http.get("/models/churn").text
    removed = _form(http, "/models/churn/aliases/delete", alias="staging")
    assert removed.status_code == 303
    assert "@staging" not in http.get("/models/churn").text
    history = http.get("/models/churn/history")
    assert history.status_code == 200
    rows = history.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 5  # the alias lines, then the two versions' creation
    newest, moved, first, second_version, first_version = rows
    assert "version created" in second_version
    assert "version 2" in second_version
    assert "version created" in first_version
    assert "alias removed" in newest
    assert "version 2" in newest
    assert "alias moved" in moved
    assert moved.index("version 1") < moved.index("→") < moved.index("version 2")
    assert "alias set" in first
    assert "@staging" in first
    assert f'<td class="actor">{current_actor()}</td>' in first  # auth off: the OS user


def test_history_keeps_to_this_model_and_its_versions(world: World) -> None:
    _post(world.http, "registered-models/create", {}, name="churner")
    _post(world.http, "registered-models/alias", {}, name="churn", alias="a", version="1")
    _post(
        world.http,
        "model-versions/transition-stage",
        {},
        name="churn",
        version="2",
        stage="Staging",
    )
    _post(world.http, "model-versions/create", {}, name="churner", source="/tmp/m")
    _post(world.http, "registered-models/alias", {}, name="churner", alias="b", version="1")
    html = world.http.get("/models/churn/history").text
    assert "stage changed" in html
    assert "version 2" in html
    assert "Staging" in html
    assert "@a" in html
    assert "@b" not in html


def test_an_htmx_alias_post_answers_hx_redirect(world: World) -> None:
    answer = world.http.post(
        "/models/churn/aliases",
        data={"alias": "canary", "version": "2"},
        headers={"HX-Request": "true", "X-CSRF-Token": _csrf(world.http)},
    )
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/models/churn"


def test_alias_posts_without_csrf_or_with_bad_fields_are_refused(world: World) -> None:
    http = world.http
    _csrf(http)
    no_token = http.post("/models/churn/aliases", data={"alias": "x", "version": "1"})
    assert no_token.status_code == 403
    assert _form(http, "/models/churn/aliases", alias="x", version="9").status_code == 404
    assert _form(http, "/models/churn/aliases", alias="", version="1").status_code == 400
    assert _form(http, "/models/churn/aliases", alias="latest", version="1").status_code == 400
    assert _form(http, "/models/nope/aliases/delete", alias="x").status_code == 404
    assert http.get("/models/churn/aliases").status_code == 405


def test_without_an_audit_log_history_says_so(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, backend_store_uri=(tmp_path / "mlruns").as_uri())
    with asgi_client(create_app(settings), follow_redirects=False) as http:
        _post(http, "registered-models/create", {}, name="churn")
        html = http.get("/models/churn/history").text
    assert "No history kept here" in html


# auth on ------------------------------------------------------------------------
def test_a_member_sets_staging_but_is_refused_champion_with_the_reason(
    secured: tuple[AuthServer, World],
) -> None:
    server, world = secured
    alice = basic_auth("alice", server.user("alice", "default", "member"))
    page = world.http.get("/models/churn", headers=alice).text
    assert 'name="alias"' in page
    assert "only a project-admin" in page
    ok = _form(world.http, "/models/churn/aliases", alice, alias="staging", version="1")
    assert ok.status_code == 303, ok.text
    refused = _form(world.http, "/models/churn/aliases", alice, alias="champion", version="1")
    assert refused.status_code == 403
    assert "alice is a member in workspace &#39;default&#39;" in refused.text
    assert "moving the protected alias &#39;champion&#39; needs project-admin" in refused.text
    inline = world.http.post(
        "/models/churn/aliases",
        data={"alias": " Champion ", "version": "1"},
        headers={**alice, "HX-Request": "true", "X-CSRF-Token": _csrf(world.http, alice)},
    )
    assert inline.status_code == 403
    assert inline.text.startswith('<div class="alert alert-error" role="alert">')
    assert "needs project-admin" in inline.text
    twice = _form(world.http, "/models/churn/aliases", alice, alias="staging", version="2")
    assert twice.status_code == 303
    fields = [("csrf_token", _csrf(world.http, alice)), ("alias", "x"), ("alias", "champion")]
    repeated = world.http.post(
        "/models/churn/aliases",
        content=urlencode([*fields, ("version", "1")]),
        headers={**alice, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400
    assert "@champion" not in world.http.get("/models/churn", headers=alice).text
    history = world.http.get("/models/churn/history", headers=alice).text
    assert '<td class="actor">alice</td>' in history
    assert "alias moved" in history


def test_a_project_admin_moves_champion_and_a_member_cannot_remove_it(
    secured: tuple[AuthServer, World],
) -> None:
    server, world = secured
    boss = basic_auth("boss", server.user("boss", "default", "project-admin"))
    alice = basic_auth("alice", server.user("alice", "default", "member"))
    assert (
        _form(world.http, "/models/churn/aliases", boss, alias="champion", version="2").status_code
        == 303
    )
    page = world.http.get("/models/churn", headers=alice).text
    assert "@champion" in page
    assert 'aria-label="Remove alias champion"' not in page
    refused = _form(world.http, "/models/churn/aliases/delete", alice, alias="champion")
    assert refused.status_code == 403
    assert "removing the protected alias" in refused.text
    assert (
        'aria-label="Remove alias champion"' in world.http.get("/models/churn", headers=boss).text
    )
    history = world.http.get("/models/churn/history", headers=alice).text
    assert '<td class="actor">boss</td>' in history


def test_a_viewer_reads_every_page_but_sees_no_alias_form_and_is_refused_a_post(
    secured: tuple[AuthServer, World],
) -> None:
    server, world = secured
    viewer = basic_auth("vic", server.user("vic", "default", "viewer"))
    for path in ("/models", "/models/churn", "/models/churn/versions/1", "/models/churn/history"):
        assert world.http.get(path, headers=viewer).status_code == 200, path
    served = world.http.get("/models/churn/versions/1", headers=viewer).text
    assert "export MLFLOW_TRACKING_TOKEN=" in served
    assert "kiln models serve -m models:/churn/1 --port 5001" in served
    page = world.http.get("/models/churn", headers=viewer).text
    assert 'name="alias"' not in page
    assert "aliases/delete" not in page
    refused = _form(world.http, "/models/churn/aliases", viewer, alias="staging", version="1")
    assert refused.status_code == 403
    assert "vic is a viewer" in refused.text


def test_signed_out_pages_go_to_login_and_posts_are_401(secured: tuple[AuthServer, World]) -> None:
    _, world = secured
    answer = world.http.get("/models/churn", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fmodels%2Fchurn"


# fuzz ---------------------------------------------------------------------------
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(name=_TEXT, version=_TEXT, alias=_TEXT, extra=_TEXT)
@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_hostile_names_versions_and_aliases_are_never_a_server_error(
    world: World, name: str, version: str, alias: str, extra: str
) -> None:
    http = world.http
    segment = quote(name, safe="") or "x"
    for path in (
        f"/models/{segment}",
        f"/models/{segment}/history",
        f"/models/{segment}/versions/{quote(version, safe='') or '1'}",
        f"/models/churn/versions/{quote(version, safe='') or '1'}",
    ):
        answer = http.get(path, params={"page_token": extra} if extra else None)
        assert answer.status_code < 500, (path, answer.text[:300])
    listed = http.get("/models", params={"q": name, "page_token": extra})
    assert listed.status_code < 500, listed.text[:300]
    token = http.cookies.get(CSRF_COOKIE) or _csrf(http)
    for target in ("churn", segment):
        for path, data in (
            (f"/models/{target}/aliases", {"alias": alias, "version": version}),
            (f"/models/{target}/aliases/delete", {"alias": alias}),
        ):
            answer = http.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
            assert answer.status_code < 500, (path, data, answer.text[:300])


def test_with_auth_on_a_version_outside_the_workspace_root_shows_no_files(
    secured: tuple[AuthServer, World],
) -> None:
    server, world = secured
    model = next((world.root / "artifacts").rglob("MLmodel")).parent  # a real model folder
    _post(world.http, "model-versions/create", server.admin, name="churn", source=str(model))
    page = world.http.get("/models/churn/versions/3", headers=server.admin)
    assert page.status_code == 200
    assert "could not all be read" in page.text
    assert "example-table" not in page.text
    assert "57.0" not in page.text


def test_another_workspace_sees_only_its_own_models_and_history(
    secured: tuple[AuthServer, World],
) -> None:
    server, world = secured
    _post(world.http, "registered-models/alias", server.admin, name="churn", alias="a", version="1")
    server.tenant("team-b")
    password = server.user("bob", "team-b", "project-admin")
    bob = {**basic_auth("bob", password), WORKSPACE_HEADER: "team-b"}
    _post(world.http, "registered-models/create", bob, name="churn", description="b's own")
    _post(world.http, "model-versions/create", bob, name="churn", source="/tmp/b-model")
    _post(world.http, "registered-models/alias", bob, name="churn", alias="b", version="1")
    listed = world.http.get("/models", headers=bob).text
    assert "b&#39;s own" in listed
    assert "Who leaves." not in listed
    history = world.http.get("/models/churn/history", headers=bob).text
    assert '<td class="actor">bob</td>' in history
    assert "@b" in history
    assert "@a" not in history
    assert '<td class="actor">admin</td>' not in history
    assert world.http.get("/models/churn/versions/2", headers=bob).status_code == 404
    elsewhere = {**bob, WORKSPACE_HEADER: "default"}
    assert world.http.get("/models/churn/history", headers=elsewhere).status_code == 404
