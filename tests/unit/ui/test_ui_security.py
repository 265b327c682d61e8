"""The web UI reviewed as an attacker would: what a hostile name, file or form field
can do to another user's browser, shell or the server.

In process over a real SQLite store (auth off: the attacker is any member who may
write; the victim is whoever opens the page), data logged through the REST API and
the artifact proxy as the mlflow client does.
"""

from __future__ import annotations

import ast
import html
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.models.summary import MAX_ROWS, summarize
from kiln.server.app import create_app
from kiln.server.ui.core import CSRF_COOKIE
from kiln.testing.auth_app import ADMIN_PASSWORD, auth_server, sqlite_settings
from kiln.testing.server import asgi_client

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
# a name that ends a double-quoted Python string or runs a command in a double-quoted
# shell word
HOSTILE = 'x"); __import__("os").system("id"); ("$(id)`id`'
DEEP = "[" * 200_000  # parses only by recursing past Python's limit


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Any]:
    with asgi_client(
        create_app(sqlite_settings(tmp_path)), raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def _api(http: Any, path: str, **body: Any) -> dict[str, Any]:
    answer = http.post(f"{API}/{path}", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _run_with_files(http: Any, files: dict[str, bytes]) -> tuple[str, str]:
    """A run of experiment 0 holding ``files``; (its id, its artifact URI)."""
    info = _api(http, "runs/create", experiment_id="0", run_name="r")["run"]["info"]
    base = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    for path, body in files.items():
        assert http.put(f"{PROXY}/{base}/{path}", content=body).status_code == 200
    return info["run_id"], info["artifact_uri"]


def _code_blocks(page: str) -> list[str]:
    return [html.unescape(b) for b in re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)]


def test_the_runs_pages_snippets_quote_the_experiment_name(http: Any) -> None:
    """The empty runs page offers Python and a shell command naming the experiment:
    a name with quotes or ``$(...)`` stays one string there, never code."""
    experiment_id = _api(http, "experiments/create", name=HOSTILE)["experiment_id"]
    page = http.get(f"/experiments/{experiment_id}")
    assert page.status_code == 200
    (python,) = _code_blocks(page.text)
    calls: dict[str, list[list[object]]] = {}  # method name -> each call's arguments
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args: list[object] = [a.value if isinstance(a, ast.Constant) else a for a in node.args]
            calls.setdefault(node.func.attr, []).append(args)
    assert calls.pop("set_experiment") == [[HOSTILE]]
    assert [len(args) for args in calls.pop("set_tracking_uri")] == [1]
    assert set(calls) <= {"start_run", "log_param", "log_metric"}  # no os.system
    command = re.search(r"<code>(kiln run [^<]*)</code>", page.text)
    assert command is not None
    assert html.unescape(command.group(1)) == (
        f"kiln run examples/wine --experiment-name {shlex.quote(HOSTILE)}"
    )


def test_an_mlmodel_nested_past_the_recursion_limit_is_text_not_a_500(http: Any) -> None:
    run_id, _ = _run_with_files(http, {"model/MLmodel": DEEP.encode()})
    page = http.get(f"/runs/{run_id}/artifacts", params={"path": "model/MLmodel"})
    assert page.status_code == 200, page.text[:300]
    assert "not valid YAML" in page.text


def _version_page(http: Any, files: dict[str, bytes]) -> Any:
    run_id, uri = _run_with_files(http, files)
    _api(http, "registered-models/create", name="m")
    made = _api(http, "model-versions/create", name="m", source=f"{uri}/model", run_id=run_id)
    return http.get(f"/models/m/versions/{made['model_version']['version']}")


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"model/MLmodel": DEEP.encode()}, "cannot read MLmodel"),
        (
            {
                "model/MLmodel": b"flavors: {python_function: {}}\n"
                b"saved_input_example_info: {artifact_path: x.json, type: json_object}\n",
                "model/x.json": DEEP.encode(),
            },
            "input example",
        ),
    ],
)
def test_a_version_whose_files_nest_too_deep_still_renders(
    http: Any, files: dict[str, bytes], problem: str
) -> None:
    page = _version_page(http, files)
    assert page.status_code == 200, page.text[:300]
    assert problem in html.unescape(page.text)


def test_a_records_example_of_many_keys_is_read_for_its_first_rows_only() -> None:
    """An input example of N records with N different keys is N x N cells when every
    record is spread over every key: a 1 MB file would fill the server's memory."""
    records = [{f"k{i}": i} for i in range(3000)]
    files = {
        "MLmodel": b"flavors: {python_function: {}}\n"
        b"saved_input_example_info: {artifact_path: x.json, type: dataframe}\n",
        "x.json": json.dumps(records).encode(),
    }
    summary = summarize(files.__getitem__)
    assert summary.problem is None
    assert summary.example_total == len(records)
    assert len(summary.example_rows) == MAX_ROWS
    assert summary.example_columns == tuple(f"k{i}" for i in range(MAX_ROWS))
    assert json.loads(summary.request)["dataframe_split"]["columns"] == list(
        summary.example_columns
    )


def test_a_back_field_with_a_line_break_never_reaches_a_header(http: Any) -> None:
    """The runs table's delete form returns to its ``back`` field: to htmx as an
    ``HX-Redirect`` header, which a CR/LF in the field must not split."""
    experiment_id = _api(http, "experiments/create", name="e")["experiment_id"]
    run_id = _api(http, "runs/create", experiment_id=experiment_id)["run"]["info"]["run_id"]
    http.get("/experiments")
    back = f"/experiments/{experiment_id}?filter=a\r\nSet-Cookie: evil=1"
    answer = http.post(
        f"/experiments/{experiment_id}/runs/delete",
        data={"run": run_id, "back": back, "csrf_token": http.cookies[CSRF_COOKIE]},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 204, answer.text[:300]
    target = answer.headers["hx-redirect"]
    assert "\r" not in target
    assert "\n" not in target
    assert "evil" not in answer.headers.get("set-cookie", "")
    assert target.startswith(f"/experiments/{experiment_id}?filter=a")


def test_pages_keep_no_snapshot_in_htmx_history_storage(http: Any) -> None:
    """Pages answer ``no-store``; htmx's history cache would otherwise keep a copy of
    each page it swapped in the tab's sessionStorage, there after signing out."""
    page = http.get("/experiments")
    assert page.headers["cache-control"] == "no-store"
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', page.text)
    assert config is not None
    assert json.loads(html.unescape(config.group(1)))["historyCacheSize"] == 0


def test_cookies_are_secure_when_the_page_is_reached_over_https(tmp_path: Path) -> None:
    """Behind a TLS proxy (``X-Forwarded-Proto: https``, which uvicorn reads from a
    trusted proxy) the session and CSRF cookies say ``Secure``: a browser never sends
    them over plain http to the same host."""
    with (
        auth_server(tmp_path) as server,
        asgi_client(server.http.app, base_url="https://127.0.0.1", follow_redirects=False) as http,
    ):
        form = http.get("/login")
        assert form.status_code == 200
        assert "secure" in form.headers["set-cookie"].lower()
        signed_in = http.post(
            "/login",
            data={
                "name": "admin",
                "password": ADMIN_PASSWORD,
                "csrf_token": http.cookies[CSRF_COOKIE],
            },
        )
        assert signed_in.status_code == 303, signed_in.text[:300]
        (session,) = [c for c in signed_in.headers.get_list("set-cookie") if "kiln_session=" in c]
        assert "secure" in session.lower()
    with asgi_client(create_app(sqlite_settings(tmp_path / "plain"))) as plain:
        assert "secure" not in plain.get("/experiments").headers["set-cookie"].lower()


def _laughs(levels: int) -> str:
    """YAML of a few lines whose aliases stand for 10**levels items once expanded."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_an_mlmodel_with_yaml_aliases_is_refused_before_anything_expands_them() -> None:
    """``utc_time_created: *l8`` made the version page build a string of 10**9 items
    (minutes of CPU and gigabytes) from a 1 KB file: an MLmodel has no aliases."""
    mlmodel = _laughs(5) + "flavors: {python_function: {}}\nutc_time_created: *l5\n"
    summary = summarize({"MLmodel": mlmodel.encode()}.__getitem__)
    assert summary.problem is not None
    assert "YAML aliases" in summary.problem


@pytest.mark.parametrize("key", ["signature", "saved_input_example_info"])
def test_an_mlmodel_field_of_the_wrong_shape_is_a_problem_not_an_exception(key: str) -> None:
    mlmodel = f"flavors: {{python_function: {{}}}}\n{key}: [1, 2]\n"
    summary = summarize({"MLmodel": mlmodel.encode()}.__getitem__)
    assert summary.problem is not None


@pytest.mark.parametrize("where", ["field", "header"])
def test_a_csrf_token_with_non_ascii_characters_is_a_403_not_a_500(http: Any, where: str) -> None:
    """``hmac.compare_digest`` raises TypeError on a non-ASCII str: the check must
    compare bytes (a form field is UTF-8, a header Latin-1)."""
    http.get("/experiments")
    token = "é" * 43
    answer = http.post(
        "/experiments/create",
        data={"name": "x", **({"csrf_token": token} if where == "field" else {})},
        headers={"X-CSRF-Token": token.encode()} if where == "header" else {},
    )
    assert answer.status_code == 403, answer.text[:300]
    assert "CSRF" in answer.text
