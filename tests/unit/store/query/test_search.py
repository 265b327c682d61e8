"""The search grammar: parsing, evaluation, ordering and page tokens."""

from __future__ import annotations

import base64
import math

import pytest

from kiln.entities import (
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
)
from kiln.errors import InvalidInput
from kiln.store.query.experiments import (
    experiment_matches,
    experiment_order_with_tiebreakers,
    parse_experiment_filter,
    parse_experiment_order_by,
    sort_experiments,
)
from kiln.store.query.like import like_to_regex
from kiln.store.query.page_token import decode_page_token, encode_page_token, paginate
from kiln.store.query.runs import (
    Comparison,
    OrderKey,
    parse_order_by,
    parse_run_filter,
    run_matches,
    run_order_with_tiebreakers,
    sort_runs,
    validate_max_results,
)


def make_run(
    run_id: str,
    *,
    start_time: int = 1000,
    end_time: int | None = None,
    status: RunStatus = RunStatus.RUNNING,
    run_name: str = "run",
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> Run:
    info = RunInfo(
        run_id=run_id,
        experiment_id="0",
        run_name=run_name,
        user_id="alice",
        status=status,
        start_time=start_time,
        end_time=end_time,
        artifact_uri=f"/tmp/a/{run_id}",
    )
    data = RunData(
        metrics={k: Metric(k, v, 0, 0) for k, v in (metrics or {}).items()},
        params=dict(params or {}),
        tags=dict(tags or {}),
    )
    return Run(info, data)


def make_experiment(
    experiment_id: str,
    name: str,
    creation_time: int | None = 0,
    tags: dict[str, str] | None = None,
) -> Experiment:
    return Experiment(
        experiment_id=experiment_id,
        name=name,
        artifact_location=f"/a/{experiment_id}",
        creation_time=creation_time,
        last_update_time=creation_time,
        tags=dict(tags or {}),
    )


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.x > 1", [Comparison("metric", "x", ">", 1.0)]),
        ("metric.x >= -2.5", [Comparison("metric", "x", ">=", -2.5)]),
        ("metrics.x < 1e-3", [Comparison("metric", "x", "<", 0.001)]),
        ("metrics.x != .5", [Comparison("metric", "x", "!=", 0.5)]),
        ("metrics.x<=5.", [Comparison("metric", "x", "<=", 5.0)]),
        ("metrics.`my loss` = 2", [Comparison("metric", "my loss", "=", 2.0)]),
        ('metrics."my loss" = 2', [Comparison("metric", "my loss", "=", 2.0)]),
        ("metrics.train/loss < 1", [Comparison("metric", "train/loss", "<", 1.0)]),
        ("params.a = 'x'", [Comparison("param", "a", "=", "x")]),
        ('params.a = "x"', [Comparison("param", "a", "=", "x")]),
        ("parameters.a != ''", [Comparison("param", "a", "!=", "")]),
        ("param.a like 'x%'", [Comparison("param", "a", "LIKE", "x%")]),
        ("params.`a b` ILIKE '%X_'", [Comparison("param", "a b", "ILIKE", "%X_")]),
        ("params.a IS NULL", [Comparison("param", "a", "IS NULL", None)]),
        ("params.a is not null", [Comparison("param", "a", "IS NOT NULL", None)]),
        ("params.a = 'it''s'", [Comparison("param", "a", "=", "it's")]),
        ('params.a = "say ""hi"""', [Comparison("param", "a", "=", 'say "hi"')]),
        ("tags.t = 'v'", [Comparison("tag", "t", "=", "v")]),
        ("tags.mlflow.runName = 'r'", [Comparison("tag", "mlflow.runName", "=", "r")]),
        ("tags.\"mlflow.runName\" = 'r'", [Comparison("tag", "mlflow.runName", "=", "r")]),
        ("tag.`a.b` IS NOT NULL", [Comparison("tag", "a.b", "IS NOT NULL", None)]),
        ("`tags`.t = 'v'", [Comparison("tag", "t", "=", "v")]),
        ("attributes.status = 'FINISHED'", [Comparison("attribute", "status", "=", "FINISHED")]),
        ("status != 'FAILED'", [Comparison("attribute", "status", "!=", "FAILED")]),
        ("attr.run_name LIKE 'a%'", [Comparison("attribute", "run_name", "LIKE", "a%")]),
        ("run.user_id = 'u'", [Comparison("attribute", "user_id", "=", "u")]),
        ("`Run name` = 'r'", [Comparison("attribute", "run_name", "=", "r")]),
        ("attributes.`run name` = 'r'", [Comparison("attribute", "run_name", "=", "r")]),
        ("created > 5", [Comparison("attribute", "start_time", ">", 5.0)]),
        ("attributes.end_time <= 10", [Comparison("attribute", "end_time", "<=", 10.0)]),
        (
            "attributes.artifact_uri ILIKE '%x'",
            [Comparison("attribute", "artifact_uri", "ILIKE", "%x")],
        ),
        ("run_id IN ('a', 'b')", [Comparison("attribute", "run_id", "IN", ("a", "b"))]),
        ("attributes.run_id not in ('a')", [Comparison("attribute", "run_id", "NOT IN", ("a",))]),
        ("datasets.name = 'd'", [Comparison("dataset", "name", "=", "d")]),
        ("dataset.digest IN ('x', \"y\")", [Comparison("dataset", "digest", "IN", ("x", "y"))]),
        ("datasets.context LIKE 'tr%'", [Comparison("dataset", "context", "LIKE", "tr%")]),
        (
            "metrics.x > 1 and params.a = 'b' AND tags.t != 'c'",
            [
                Comparison("metric", "x", ">", 1.0),
                Comparison("param", "a", "=", "b"),
                Comparison("tag", "t", "!=", "c"),
            ],
        ),
        (
            "  params.a='x'AND params.b='y'  ",
            [Comparison("param", "a", "=", "x"), Comparison("param", "b", "=", "y")],
        ),
    ],
)
def test_parse_run_filter_accepts_mlflow_syntax(text: str, expected: list[Comparison]) -> None:
    assert parse_run_filter(text) == expected


@pytest.mark.parametrize("text", [None, ""])
def test_parse_run_filter_empty_means_no_clauses(text: str | None) -> None:
    assert parse_run_filter(text) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "blank"),
        ("metrics.x > 1 OR params.a = 'b'", "OR is not supported"),
        ("metrics.x > 1 or params.a = 'b'", "OR is not supported"),
        ("(params.a = 'x')", "parentheses"),
        ("metrics.x > 1; params.a = 'b'", "expected AND or the end"),
        ("metrics.x", "expected a comparator"),
        ("metrics.x >", "expected a value"),
        ("metrics.x = '1'", "metric 'x' compares with a number"),
        ("metrics.x = inf", "expected a quoted string, a number"),
        ("metrics.x LIKE '1'", "comparator 'LIKE' is not allowed for metric 'x'"),
        ("metrics.x IS NULL", "comparator 'IS NULL' is not allowed for metric 'x'"),
        ("params.a = 1", "param 'a' compares with a quoted string"),
        ("params.a = x", "strings need single or double quotes"),
        ("params.a > 'x'", "comparator '>' is not allowed for param 'a'"),
        ("params.a IN ('x')", "comparator 'IN' is not allowed for param 'a'"),
        ("params.a NOT LIKE 'x'", "NOT LIKE"),
        ("params.a == 'x'", "unknown comparator '=='"),
        ("params.a <> 'x'", "unknown comparator '<>'"),
        ("params.a = 'x", "unterminated quote"),
        ("tags.t < 'x'", "comparator '<' is not allowed for tag 't'"),
        ("tags.t IS 'x'", "IS NULL or IS NOT NULL"),
        ("attributes.status IN ('A')", "comparator 'IN' is not allowed for attribute 'status'"),
        ("attributes.status IS NULL", "comparator 'IS NULL' is not allowed for attribute"),
        ("attributes.status > 'A'", "comparator '>' is not allowed for attribute 'status'"),
        ("attributes.start_time > '5'", "attribute 'start_time' compares with a number"),
        ("attributes.start_time LIKE '5'", "comparator 'LIKE' is not allowed"),
        ("attributes.experiment_id = '0'", "invalid attribute 'experiment_id'"),
        ("foo = 'a'", "invalid attribute 'foo'"),
        ("x.y = 'a'", "invalid entity type 'x'"),
        ("PARAMS.a = 'x'", "invalid entity type 'PARAMS'"),
        ("datasets.foo = 'x'", "invalid dataset key 'foo'"),
        ("run_id IN ()", "at least one quoted string"),
        ("run_id IN (1, 2)", "quoted strings only"),
        ("run_id IN ('a' 'b')", "expected ',' or '\\)'"),
        ("run_id IN 'a'", "IN needs a parenthesised list"),
        ("run_id = ('a')", "a list value needs IN"),
        ("tags.t = 'x' AND", "ends with AND"),
        ("AND tags.t = 'x'", "expected a clause, found 'AND'"),
        ("tags.t = 'x' AND AND tags.u = 'y'", "expected a clause, found 'AND'"),
        ("params.a LIKE 'x' ESCAPE '!'", "found 'ESCAPE'"),
        ("params.a.\"b c\" = 'x'", "quote the whole key"),
    ],
)
def test_parse_run_filter_rejects_with_a_message(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_run_filter(text)


def test_parse_run_filter_rejects_non_strings() -> None:
    with pytest.raises(InvalidInput, match="filter must be a string"):
        parse_run_filter(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'a'", [Comparison("attribute", "name", "=", "a")]),
        ("attributes.name LIKE 'a%'", [Comparison("attribute", "name", "LIKE", "a%")]),
        ("attribute.name ILIKE 'A%'", [Comparison("attribute", "name", "ILIKE", "A%")]),
        ("creation_time > 5", [Comparison("attribute", "creation_time", ">", 5.0)]),
        ("last_update_time <= 7", [Comparison("attribute", "last_update_time", "<=", 7.0)]),
        (
            "experiment_id IN ('1', '2')",
            [Comparison("attribute", "experiment_id", "IN", ("1", "2"))],
        ),
        ("experiment_id != '0'", [Comparison("attribute", "experiment_id", "!=", "0")]),
        ("tags.k = 'v'", [Comparison("tag", "k", "=", "v")]),
        ("tag.`k k` IS NULL", [Comparison("tag", "k k", "IS NULL", None)]),
    ],
)
def test_parse_experiment_filter(text: str, expected: list[Comparison]) -> None:
    assert parse_experiment_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params.a = 'x'", "invalid entity type 'params'"),
        ("metrics.a > 1", "invalid entity type 'metrics'"),
        ("name IS NULL", "comparator 'IS NULL' is not allowed for attribute 'name'"),
        ("name IN ('a')", "comparator 'IN' is not allowed for attribute 'name'"),
        ("name > 'a'", "comparator '>' is not allowed"),
        ("experiment_id > '1'", "comparator '>' is not allowed for attribute 'experiment_id'"),
        ("experiment_id = 1", "compares with a quoted string"),
        ("creation_time > '5'", "compares with a number"),
        ("tags.k IN ('v')", "comparator 'IN' is not allowed for tag 'k'"),
        ("lifecycle_stage = 'active'", "invalid experiment attribute 'lifecycle_stage'"),
        ("name = 'a' OR name = 'b'", "OR is not supported"),
    ],
)
def test_parse_experiment_filter_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_experiment_filter(text)


# --------------------------------------------------------------------------- evaluation


def test_like_to_regex_is_anchored_and_escapes_regex_characters() -> None:
    assert like_to_regex("a%c", False).match("abbbc")
    assert not like_to_regex("a%c", False).match("abbbcd")
    assert like_to_regex("a_c", False).match("a.c")
    assert not like_to_regex("a_c", False).match("ac")
    assert like_to_regex("a.c", False).match("a.c")
    assert not like_to_regex("a.c", False).match("abc")
    assert like_to_regex("(x)+", False).match("(x)+")
    assert like_to_regex("%", False).match("line\nbreak")
    assert not like_to_regex("A%", False).match("abc")
    assert like_to_regex("A%", True).match("abc")
    assert like_to_regex("a\\_b", False).match("a\\xb")


RUN = make_run(
    "a" * 32,
    start_time=100,
    end_time=200,
    status=RunStatus.FINISHED,
    run_name="Best-Run",
    metrics={"loss": 0.5, "nan": math.nan, "inf": math.inf},
    params={"lr": "0.01", "opt": "Adam"},
    tags={"team": "vision", "mlflow.runName": "Best-Run"},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.loss = 0.5", True),
        ("metrics.loss < 1", True),
        ("metrics.loss > 0.5", False),
        ("metrics.loss >= 0.5 AND metrics.loss <= 0.5", True),
        ("metrics.loss != 0.5", False),
        ("metrics.missing != 1", False),
        ("metrics.missing < 1", False),
        ("metrics.nan = 0", False),
        ("metrics.nan > -1e308", False),
        ("metrics.nan != 0", True),
        ("metrics.inf > 1e308", True),
        ("params.lr = '0.01'", True),
        ("params.lr = '0.010'", False),
        ("params.opt = 'adam'", False),
        ("params.opt LIKE 'Ad%'", True),
        ("params.opt LIKE 'ad%'", False),
        ("params.opt ILIKE 'ad%'", True),
        ("params.opt ILIKE '_DAM'", True),
        ("params.opt != 'SGD'", True),
        ("params.missing != 'SGD'", False),
        ("params.missing IS NULL", True),
        ("params.lr IS NULL", False),
        ("params.lr IS NOT NULL", True),
        ("tags.team = 'vision'", True),
        ("tags.team IS NOT NULL AND tags.other IS NULL", True),
        ("tags.`mlflow.runName` = 'Best-Run'", True),
        ("attributes.status = 'FINISHED'", True),
        ("attributes.status LIKE 'FIN%'", True),
        ("attributes.status != 'RUNNING'", True),
        ("attributes.run_name = 'Best-Run'", True),
        ("`Run Name` ILIKE 'best%'", True),
        ("attributes.user_id = 'alice'", True),
        ("attributes.start_time = 100", True),
        ("created >= 100 AND start_time < 101", True),
        ("attributes.end_time > 150", True),
        (f"attributes.run_id IN ('{'a' * 32}', 'x')", True),
        (f"attributes.run_id NOT IN ('{'a' * 32}')", False),
        ("attributes.run_id NOT IN ('x')", True),
        ("attributes.artifact_uri LIKE '%aaaa'", True),
        ("datasets.name = 'anything'", False),
        ("metrics.loss < 1 AND params.opt = 'SGD'", False),
    ],
)
def test_run_matches(text: str, expected: bool) -> None:
    assert run_matches(RUN, parse_run_filter(text)) is expected


def test_run_matches_end_time_missing_is_false_for_every_comparator() -> None:
    running = make_run("b" * 32, end_time=None)
    for op in ("=", "!=", "<", ">", "<=", ">="):
        assert not run_matches(running, parse_run_filter(f"attributes.end_time {op} 5"))


def test_run_matches_with_no_clauses_is_true() -> None:
    assert run_matches(RUN, [])


EXPERIMENT = make_experiment("7", "Fraud-Model", creation_time=50, tags={"owner": "bob"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'Fraud-Model'", True),
        ("name = 'fraud-model'", False),
        ("name ILIKE 'fraud%'", True),
        ("name LIKE 'Fraud%' AND creation_time = 50", True),
        ("name != 'x'", True),
        ("creation_time > 50", False),
        ("last_update_time >= 50", True),
        ("experiment_id = '7'", True),
        ("experiment_id IN ('1', '7')", True),
        ("experiment_id NOT IN ('7')", False),
        ("tags.owner = 'bob'", True),
        ("tags.owner LIKE 'b%'", True),
        ("tags.missing != 'x'", False),
        ("tags.missing IS NULL", True),
        ("tags.owner IS NOT NULL", True),
    ],
)
def test_experiment_matches(text: str, expected: bool) -> None:
    assert experiment_matches(EXPERIMENT, parse_experiment_filter(text)) is expected


# --------------------------------------------------------------------------- ordering


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("metrics.loss DESC", OrderKey("metric", "loss", ascending=False)),
        ("metrics.loss desc", OrderKey("metric", "loss", ascending=False)),
        ("metric.loss", OrderKey("metric", "loss", ascending=True)),
        ("metrics.loss ASC", OrderKey("metric", "loss", ascending=True)),
        ("params.alpha", OrderKey("param", "alpha", ascending=True)),
        ("tags.`a b` DESC", OrderKey("tag", "a b", ascending=False)),
        ('tags."a b" DESC', OrderKey("tag", "a b", ascending=False)),
        ("tags.mlflow.runName", OrderKey("tag", "mlflow.runName", ascending=True)),
        ("attributes.start_time ASC", OrderKey("attribute", "start_time", ascending=True)),
        ("start_time", OrderKey("attribute", "start_time", ascending=True)),
        ("created DESC", OrderKey("attribute", "start_time", ascending=False)),
        ("`Run name`", OrderKey("attribute", "run_name", ascending=True)),
        ("  end_time   DESC ", OrderKey("attribute", "end_time", ascending=False)),
        ("attributes.status", OrderKey("attribute", "status", ascending=True)),
    ],
)
def test_parse_order_by(clause: str, expected: OrderKey) -> None:
    assert parse_order_by([clause]) == [expected]


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        ([""], "it is empty"),
        (["metrics.loss DOWN"], "expected '<key> \\[ASC\\|DESC\\]'"),
        (["metrics.loss DESC x"], "one key per entry"),
        (["metrics.loss, params.a"], "one key per entry"),
        (["Run name"], "one key per entry"),
        (["metrics.loss desc nulls last"], "one key per entry"),
        (["attributes.experiment_id"], "invalid order_by attribute 'experiment_id'"),
        (["foo"], "invalid order_by attribute 'foo'"),
        (["datasets.name"], "cannot order runs by dataset"),
        (["x.y"], "invalid entity type 'x'"),
        (["metrics.a", "metric.a DESC"], "names metric 'a' twice"),
        (["start_time", "created DESC"], "names attribute 'start_time' twice"),
        ("metrics.a", "a list of strings"),
    ],
)
def test_parse_order_by_rejects(order_by: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_order_by(order_by)


def test_run_order_with_tiebreakers() -> None:
    loss = OrderKey("metric", "loss", ascending=True)
    assert run_order_with_tiebreakers([loss]) == [
        loss,
        OrderKey("attribute", "start_time", ascending=False),
        OrderKey("attribute", "run_id", ascending=True),
    ]
    start = OrderKey("attribute", "start_time", ascending=True)
    assert run_order_with_tiebreakers([start]) == [
        start,
        OrderKey("attribute", "run_id", ascending=True),
    ]


def _ids(runs: list[Run]) -> list[str]:
    return [run.info.run_id[0] for run in runs]


def test_sort_runs_default_is_start_time_desc_then_run_id() -> None:
    runs = [
        make_run("a" * 32, start_time=1),
        make_run("c" * 32, start_time=2),
        make_run("b" * 32, start_time=2),
    ]
    assert _ids(sort_runs(runs, [])) == ["b", "c", "a"]


METRIC_RUNS = [
    make_run("a" * 32, start_time=1, metrics={"loss": 0.3}),
    make_run("b" * 32, start_time=2, metrics={"loss": math.nan}),
    make_run("c" * 32, start_time=3),
    make_run("d" * 32, start_time=4, metrics={"loss": 0.1}),
    make_run("e" * 32, start_time=5, metrics={"loss": -math.inf}),
    make_run("f" * 32, start_time=6, metrics={"loss": 0.3}),
    make_run("0" * 32, start_time=7),
]


def test_sort_runs_by_metric_ascending_puts_nan_then_missing_last() -> None:
    order = parse_order_by(["metrics.loss"])
    # ties (0.3) and missing values fall back to start_time DESC
    assert _ids(sort_runs(METRIC_RUNS, order)) == ["e", "d", "f", "a", "b", "0", "c"]


def test_sort_runs_by_metric_descending_still_puts_nan_then_missing_last() -> None:
    order = parse_order_by(["metrics.loss DESC"])
    assert _ids(sort_runs(METRIC_RUNS, order)) == ["f", "a", "d", "e", "b", "0", "c"]


def test_sort_runs_by_param_string_order_with_missing_last() -> None:
    runs = [
        make_run("a" * 32, start_time=1, params={"p": "b"}),
        make_run("b" * 32, start_time=2),
        make_run("c" * 32, start_time=3, params={"p": "a"}),
        make_run("d" * 32, start_time=4, params={"p": "B"}),
    ]
    assert _ids(sort_runs(runs, parse_order_by(["params.p"]))) == ["d", "c", "a", "b"]
    assert _ids(sort_runs(runs, parse_order_by(["params.p DESC"]))) == ["a", "c", "d", "b"]


def test_sort_runs_by_several_keys() -> None:
    runs = [
        make_run("a" * 32, start_time=1, tags={"g": "x"}, metrics={"m": 2}),
        make_run("b" * 32, start_time=2, tags={"g": "y"}, metrics={"m": 1}),
        make_run("c" * 32, start_time=3, tags={"g": "x"}, metrics={"m": 1}),
        make_run("d" * 32, start_time=4, tags={"g": "y"}, metrics={"m": 3}),
    ]
    order = parse_order_by(["tags.g DESC", "metrics.m"])
    assert _ids(sort_runs(runs, order)) == ["b", "d", "c", "a"]


def test_sort_runs_by_attributes() -> None:
    runs = [
        make_run("a" * 32, start_time=1, end_time=None, status=RunStatus.RUNNING, run_name="z"),
        make_run("b" * 32, start_time=2, end_time=10, status=RunStatus.FAILED, run_name="y"),
        make_run("c" * 32, start_time=3, end_time=5, status=RunStatus.FINISHED, run_name="x"),
    ]
    assert _ids(sort_runs(runs, parse_order_by(["end_time"]))) == ["c", "b", "a"]
    assert _ids(sort_runs(runs, parse_order_by(["end_time DESC"]))) == ["b", "c", "a"]
    assert _ids(sort_runs(runs, parse_order_by(["status"]))) == ["b", "c", "a"]
    assert _ids(sort_runs(runs, parse_order_by(["run_name"]))) == ["c", "b", "a"]
    assert _ids(sort_runs(runs, parse_order_by(["start_time ASC"]))) == ["a", "b", "c"]


def test_parse_experiment_order_by() -> None:
    assert parse_experiment_order_by(["name DESC", "attributes.creation_time"]) == [
        OrderKey("attribute", "name", ascending=False),
        OrderKey("attribute", "creation_time", ascending=True),
    ]


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        (["tags.a"], "invalid experiment order_by 'tags.a'"),
        (["lifecycle_stage"], "invalid experiment order_by"),
        (["name", "name DESC"], "names 'name' twice"),
        (["name UP"], "expected '<key> \\[ASC\\|DESC\\]'"),
    ],
)
def test_parse_experiment_order_by_rejects(order_by: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_experiment_order_by(order_by)


def test_experiment_order_with_tiebreakers() -> None:
    assert experiment_order_with_tiebreakers([]) == [
        OrderKey("attribute", "creation_time", ascending=False),
        OrderKey("attribute", "experiment_id", ascending=True),
    ]
    name = OrderKey("attribute", "name", ascending=True)
    assert experiment_order_with_tiebreakers([name]) == [
        name,
        OrderKey("attribute", "experiment_id", ascending=False),
    ]


def test_sort_experiments_default_and_numeric_ids() -> None:
    experiments = [
        make_experiment("2", "b", creation_time=5),
        make_experiment("10", "a", creation_time=5),
        make_experiment("9", "c", creation_time=7),
        make_experiment("3", "d", creation_time=None),
    ]
    ids = [e.experiment_id for e in sort_experiments(experiments, [])]
    assert ids == ["9", "2", "10", "3"]
    by_id = parse_experiment_order_by(["experiment_id"])
    assert [e.experiment_id for e in sort_experiments(experiments, by_id)] == ["2", "3", "9", "10"]
    by_name = parse_experiment_order_by(["name DESC"])
    assert [e.name for e in sort_experiments(experiments, by_name)] == ["d", "c", "b", "a"]
    by_time = parse_experiment_order_by(["creation_time"])
    # same creation_time: experiment_id DESC; missing creation_time last
    ids = [e.experiment_id for e in sort_experiments(experiments, by_time)]
    assert ids == ["10", "2", "9", "3"]


# --------------------------------------------------------------------------- paging


@pytest.mark.parametrize("offset", [1, 7, 1000, 50000])
def test_page_token_round_trip_is_mlflow_format(offset: int) -> None:
    token = encode_page_token(offset)
    assert base64.b64decode(token) == f'{{"offset": {offset}}}'.encode()
    assert decode_page_token(token) == offset


@pytest.mark.parametrize("token", [None, ""])
def test_missing_page_token_is_offset_zero(token: str | None) -> None:
    assert decode_page_token(token) == 0


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not base64!", "invalid page token"),
        (base64.b64encode(b"not json").decode(), "invalid page token"),
        (base64.b64encode(b'{"page": 3}').decode(), "invalid page token"),
        (base64.b64encode(b"[1, 2]").decode(), "invalid page token"),
        (base64.b64encode(b'{"offset": -1}').decode(), "bad offset -1"),
        (base64.b64encode(b'{"offset": "3"}').decode(), "bad offset '3'"),
    ],
)
def test_bad_page_tokens_are_invalid_input(token: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_page_token(token)


def test_paginate_walks_every_item_once() -> None:
    items = list(range(10))
    seen: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = paginate(items, token, 3)
        seen.extend(page)
        pages += 1
        if token is None:
            break
    assert seen == items
    assert pages == 4


def test_paginate_exact_multiple_has_no_empty_last_page() -> None:
    page, token = paginate(list(range(6)), None, 3)
    assert page == [0, 1, 2]
    assert token is not None
    page, token = paginate(list(range(6)), token, 3)
    assert page == [3, 4, 5]
    assert token is None


@pytest.mark.parametrize("max_results", [0, -1, 50001, 1.5, True, "10"])
def test_validate_max_results_rejects(max_results: object) -> None:
    with pytest.raises(InvalidInput, match="max_results"):
        validate_max_results(max_results)


def test_validate_max_results_accepts_the_limits() -> None:
    assert validate_max_results(1) == 1
    assert validate_max_results(50000) == 50000
