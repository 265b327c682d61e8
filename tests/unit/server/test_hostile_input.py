"""Hostile input to every JSON endpoint is a 4xx, never a 500 (the official client retries 500s).

Each shape that once reached the server's error handler as a ValueError,
RecursionError or database error is sent to every operation of the in-process
app's ``/openapi.json``, in every field, over a memory, a SQLite and a file store: integers
past Python's 4,300-digit conversion limit (as JSON numbers, strings and query
parameters), JSON nested past the parser's limits, page tokens with a huge offset,
filters past the clause, key and IN-list limits, ``order_by`` past the key limit and
artifact paths past the file-name and key lengths.
A Hypothesis test then mixes those atoms into random nested bodies. The tests after
those check that the answers name the limit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.config import Settings
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import open_memory_store
from kiln.store.query.limits import (
    MAX_FILTER_CLAUSES,
    MAX_FILTER_KEYS,
    MAX_FILTER_LIST_ITEMS,
    MAX_ORDER_BY_KEYS,
    MAX_PAGE_OFFSET,
)
from kiln.testing.server import asgi_client

API = "/api/2.0/mlflow"
HOLE = '"__hostile__"'  # replaced by raw JSON text, which json.dumps cannot write
DIGITS = "7" * 5000  # past sys.get_int_max_str_digits() (4,300)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


# Raw JSON texts put in one field at a time.
FIELD_VALUES = {
    "huge int": DIGITS,
    "huge negative int": "-" + DIGITS,
    "huge int string": f'"{DIGITS}"',
    "4000-digit int": "9" * 4000,  # parses; every reader must refuse it cleanly
    "2**64": str(2**64),
    "1e999": "1e999",
    "nested 99": _nested(99),  # just inside the limit: reaches the handlers
    "nested 1000": _nested(1000),
    "nested objects": '{"a":' * 150 + "1" + "}" * 150,
}
QUERY_VALUES = {
    "huge int": DIGITS,
    "huge negative int": "-" + DIGITS,
    "padded int": "0" * 5000 + "1",
}
_KEYS = " and ".join(f"tags.t{i} = 'x'" for i in range(70))
_CLAUSES = " and ".join(f"tags.t = 'x{i}'" for i in range(600))
_ITEMS = ", ".join(f"'i{i}'" for i in range(MAX_FILTER_LIST_ITEMS + 1))
SEARCH_VALUES: dict[str, dict[str, Any]] = {
    "page token offset 10**30": {"page_token": _token(10**30)},
    "page token offset 2**63": {"page_token": _token(2**63)},
    "page token with a huge int": {"page_token": base64.b64encode(DIGITS.encode()).decode()},
    "nested page token": {"page_token": base64.b64encode(_nested(5000).encode()).decode()},
    "filter of 70 keys": {"filter": _KEYS},
    "filter of 600 clauses": {"filter": _CLAUSES},
    "filter with huge IN lists": {"filter": f"attributes.run_id IN ({_ITEMS})"},
    "name IN list": {"filter": f"name IN ({_ITEMS})"},
    "order_by of 200 metrics": {"order_by": [f"metrics.m{i}" for i in range(200)]},
    "order_by of 200 params": {"order_by": [f"params.p{i} DESC" for i in range(200)]},
    "order_by of 200 dicts": {"order_by": [{"field_name": f"metrics.m{i}"} for i in range(200)]},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body_fields: tuple[str, ...]
    query_fields: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Api:
    http: Any
    known: dict[str, Any]
    operations: list[Operation]

    def url(self, operation: Operation) -> str:
        return operation.path.replace("{model_id}", self.known["model_id"]).replace(
            "{tag_key}", "k"
        )

    def send_body(self, operation: Operation, fields: dict[str, str]) -> Any:
        """POST/PATCH/DELETE a body: known values, then ``fields`` as raw JSON texts."""
        base = {f: self.known[f] for f in operation.body_fields if f in self.known}
        holes = {f: f"__hole{i}__" for i, f in enumerate(fields)}
        text = json.dumps({**base, **holes})
        for field, raw in fields.items():
            text = text.replace(f'"{holes[field]}"', raw)
        headers = {"Content-Type": "application/json"}
        return self.http.request(
            operation.method, self.url(operation), content=text.encode(), headers=headers
        )

    def send_query(self, operation: Operation, fields: dict[str, Any]) -> Any:
        base = {f: self.known[f] for f in operation.query_fields if f in self.known}
        params = {k: v for k, v in base.items() if k not in fields}
        params.update(fields)
        return self.http.request(operation.method, self.url(operation), params=params)


def _operations(doc: dict[str, Any]) -> list[Operation]:
    out: list[Operation] = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            query = tuple(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
            if "application/json" in content or query:
                fields = tuple(schema.get("properties", {}))
                out.append(Operation(method.upper(), path, fields, query))
    return out


def _known(http: Any) -> dict[str, Any]:
    """A run, a registered model with a version and a logged model, so that requests
    reach past the "not found" checks."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = http.post(f"{API}/{path}", json=body)
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    run_id = post("runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    post("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1})
    post("registered-models/create", {"name": "model"})
    post("model-versions/create", {"name": "model", "source": f"runs:/{run_id}/m"})
    model_id = post("logged-models", {"experiment_id": "0"})["model"]["info"]["model_id"]
    return {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_ids": [run_id],
        "experiment_id": "0",
        "experiment_ids": ["0"],
        "metric_key": "m",
        "key": "k",
        "value": "v",
        "name": "model",
        "version": "1",
        "model_id": model_id,
    }


@pytest.fixture(scope="module", params=["memory", "sqlite", "file"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root: Path = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "memory":
        settings = Settings(home=root, tracking_uri="unused")
        app = create_app(
            settings,
            store=open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT, workspace="default"),
            destination=LocalArtifactStore(str(root / "artifacts")),
        )
    else:
        db = f"sqlite:///{root / 'kiln.db'}" if request.param == "sqlite" else root.as_uri()
        settings = Settings(
            home=root,
            tracking_uri=db,
            backend_store_uri=db,
            artifacts_destination=str(root / "artifacts"),
        )
        app = create_app(settings)
    with asgi_client(app, raise_server_exceptions=False) as http:
        operations = _operations(http.get("/openapi.json").json())
        yield Api(http, _known(http), operations)


def _flat(fields: dict[str, Any]) -> bool:
    """Whether a query string can carry ``fields``: strings or lists of strings, short
    enough for the client's 64 KiB URL limit."""
    texts: list[Any] = []
    for value in fields.values():
        texts.extend([value] if isinstance(value, str) else value)
    return all(isinstance(t, str) for t in texts) and sum(map(len, texts)) < 30_000


def _failures(answers: list[tuple[str, Any]]) -> list[str]:
    return [
        f"{what}: {answer.status_code} {answer.text[:200]}"
        for what, answer in answers
        if answer.status_code >= 500
    ]


def test_the_fuzzed_operations_cover_the_json_api(api: Api) -> None:
    labels = {op.label for op in api.operations}
    assert f"POST {API}/runs/search" in labels
    assert f"POST {API}/runs/log-batch" in labels
    assert f"GET {API}/model-versions/search" in labels
    assert len(api.operations) >= 50


@pytest.mark.parametrize("shape", sorted(FIELD_VALUES))
def test_hostile_field_values_are_never_a_server_error(api: Api, shape: str) -> None:
    answers: list[tuple[str, Any]] = []
    for op in api.operations:
        for field in op.body_fields:
            answer = api.send_body(op, {field: FIELD_VALUES[shape]})
            answers.append((f"{op.label} {field}={shape}", answer))
    assert answers
    assert not _failures(answers)


@pytest.mark.parametrize("shape", sorted(QUERY_VALUES))
def test_hostile_query_parameters_are_never_a_server_error(api: Api, shape: str) -> None:
    answers: list[tuple[str, Any]] = []
    for op in api.operations:
        for field in op.query_fields:
            answer = api.send_query(op, {field: QUERY_VALUES[shape]})
            answers.append((f"{op.label} ?{field}={shape}", answer))
    assert answers
    assert not _failures(answers)


@pytest.mark.parametrize("depth", [101, 1025, 100_000])
def test_bodies_nested_too_deep_are_never_a_server_error(api: Api, depth: int) -> None:
    answers = []
    for op in api.operations:
        if op.body_fields:
            answer = api.http.request(
                op.method,
                api.url(op),
                content=(_nested(depth)).encode(),
                headers={"Content-Type": "application/json"},
            )
            answers.append((f"{op.label} depth {depth}", answer))
            assert answer.status_code == 400, (op.label, answer.text)
    assert answers


@pytest.mark.parametrize("shape", sorted(SEARCH_VALUES))
def test_hostile_searches_are_never_a_server_error(api: Api, shape: str) -> None:
    fields = SEARCH_VALUES[shape]
    answers: list[tuple[str, Any]] = []
    for op in api.operations:
        if op.body_fields and fields.keys() <= set(op.body_fields):
            raw = {k: json.dumps(v) for k, v in fields.items()}
            answers.append((f"{op.label} {shape}", api.send_body(op, raw)))
        elif op.query_fields and fields.keys() <= set(op.query_fields) and _flat(fields):
            answers.append((f"{op.label} ?{shape}", api.send_query(op, fields)))
    assert answers
    assert not _failures(answers)
    # Each of these is past a limit (or malformed): every search refuses it
    # (artifacts/list takes and ignores a page_token, as MLflow's does).
    searches = [(w, a) for w, a in answers if "search" in w or "get-history " in w]
    assert len(searches) >= 3
    refused = [what for what, answer in searches if answer.status_code != 400]
    assert not refused, refused


# --------------------------------------------------------------------------- hypothesis

_ATOMS = st.sampled_from(
    [*FIELD_VALUES.values(), "NaN", '"NaN"', "-0", "true", "null", '""', '"\\u0000"', "0.5"]
)
_NAMES = st.sampled_from(
    ["timestamp", "step", "value", "key", "name", "version", "max_results", "field_name",
     "dataset_name", "ascending", "metrics", "params", "tags", "datasets", "start_step"]
)  # fmt: skip


def _object(items: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in items) + "}"


_JSON = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(_NAMES, inner), max_size=3).map(_object),
    ),
    max_leaves=6,
)


@given(index=st.integers(min_value=0), values=st.lists(_JSON, min_size=1, max_size=3))
@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_random_hostile_bodies_are_never_a_server_error(
    api: Api, index: int, values: list[str]
) -> None:
    with_body = [op for op in api.operations if op.body_fields]
    op = with_body[index % len(with_body)]
    fields = dict(zip(op.body_fields[index % len(op.body_fields) :], values, strict=False))
    answer = api.send_body(op, fields)
    assert answer.status_code < 500, (op.label, fields, answer.text[:300])


# --------------------------------------------------------------------------- messages


def _error(answer: Any) -> str:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    message: str = answer.json()["message"]
    return message


def test_each_refusal_names_its_limit(api: Api) -> None:
    http, run_id = api.http, api.known["run_id"]
    metric = f'{{"run_id":"{run_id}","key":"m","value":1,"timestamp":{DIGITS}}}'
    answer = http.post(
        f"{API}/runs/log-metric",
        content=metric.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert "the limit is 4300" in _error(answer)
    answer = http.get(f"{API}/experiments/search", params={"max_results": DIGITS})
    assert "5000 digits, the limit is 19" in _error(answer)
    deep = http.post(
        f"{API}/runs/search",
        content=_nested(101).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert "the limit is 100 levels" in _error(deep)

    def search(**body: Any) -> str:
        return _error(http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], **body}))

    assert f"the limit is {MAX_FILTER_KEYS}" in search(filter=_KEYS)
    assert f"the limit is {MAX_FILTER_CLAUSES} clauses" in search(filter=_CLAUSES)
    assert f"the limit is {MAX_FILTER_LIST_ITEMS}" in search(
        filter=f"attributes.run_id IN ({_ITEMS})"
    )
    assert f"the limit is {MAX_ORDER_BY_KEYS} keys" in search(
        order_by=[f"metrics.m{i}" for i in range(200)]
    )
    assert f"above the limit of {MAX_PAGE_OFFSET}" in search(page_token=_token(10**30))


def test_searches_at_the_limits_are_served(api: Api) -> None:
    """The limits refuse only what is past them: a search at every limit at once works."""
    keys = [f"tags.t{i} = 'x'" for i in range(MAX_FILTER_KEYS)]
    same = [f"tags.t0 != 'y{i}'" for i in range(MAX_FILTER_CLAUSES - MAX_FILTER_KEYS - 1)]
    items = ", ".join(f"'r{i}'" for i in range(MAX_FILTER_LIST_ITEMS))
    clauses = [*keys, *same, f"attributes.run_id IN ({items})"]
    assert len(clauses) == MAX_FILTER_CLAUSES
    body = {
        "experiment_ids": ["0"],
        "filter": " and ".join(clauses),
        "order_by": [f"metrics.o{i}" for i in range(MAX_ORDER_BY_KEYS)],
        "page_token": _token(MAX_PAGE_OFFSET),
    }
    answer = api.http.post(f"{API}/runs/search", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {}


@pytest.mark.parametrize("segment", ["7" * 5000, "é" * 200, "a/" * 2000])
def test_over_long_artifact_paths_are_refused(api: Api, segment: str) -> None:
    """The filesystem's 255-byte names and S3's 1,024-byte keys: a 400, not an OSError."""
    base = "/api/2.0/mlflow-artifacts/artifacts"
    answers = [
        api.http.get(f"{base}/{segment}"),
        api.http.put(f"{base}/{segment}", content=b"x"),
        api.http.delete(f"{base}/{segment}"),
        api.http.get(base, params={"path": segment}),
        api.http.get(
            f"{API}/artifacts/list", params={"run_id": api.known["run_id"], "path": segment}
        ),
        api.http.get(
            f"{API}/logged-models/{api.known['model_id']}/artifacts/files",
            params={"artifact_file_path": segment},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert "the limit is" in answer.json()["message"]
