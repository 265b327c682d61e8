"""The direct path (one float block straight to the estimator) answers exactly as the general path.

Each request goes to two apps over the same loaded sklearn model: one as served (which
takes the direct path when the rows fit) and one over a wrapper that hides
``array_predictor`` (so every request builds a frame and goes through
``PyFuncModel.predict``). Status codes and response bodies must be byte-identical,
for the reference requests and for bad input alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_fakes import WINE_COLUMNS, client_for
from sklearn.linear_model import ElasticNet
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kiln.models import sklearn as kiln_sklearn
from kiln.models.pyfunc import PyFuncModel, load_model
from kiln.models.signature import infer_signature
from kiln.serving.direct import direct_path
from kiln.serving.invocations import parse_invocation
from kiln.serving.model import describe_model

FIT_ORDER = sorted(WINE_COLUMNS, key=lambda c: (len(c), c))  # not the requests' order
ROW = dict(
    zip(WINE_COLUMNS, [12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66], strict=True)
)
JSON = {"Content-Type": "application/json"}
SPLIT_1X = {"Content-Type": "application/json; format=pandas-split"}
RECORDS_1X = {"Content-Type": "application/json; format=pandas-records"}


class GeneralOnly:
    """The same model without ``array_predictor``: the server builds a frame every time."""

    def __init__(self, model: PyFuncModel) -> None:
        self.metadata = model.metadata
        self._model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._model.predict(data, params)


def _training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.uniform(0, 80, size=(60, len(FIT_ORDER))), columns=FIT_ORDER)


def _save(tmp_path: Path, estimator: Any, features: Any, name: str) -> PyFuncModel:
    frame = _training_frame()
    target = frame.sum(axis=1) / 100
    estimator.fit(features(frame), target)
    path = tmp_path / name
    kiln_sklearn.save_model(estimator, path, signature=infer_signature(frame, target.to_numpy()))
    return load_model(path)


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> PyFuncModel:
    """An ElasticNet fitted on a DataFrame (it checks feature names) with a double signature."""
    tmp = tmp_path_factory.mktemp("direct")
    return _save(tmp, ElasticNet(alpha=0.1), lambda f: f, "wine")


@pytest.fixture(scope="module")
def clients(wine: PyFuncModel) -> Iterator[tuple[Any, Any]]:
    with client_for(wine) as fast, client_for(GeneralOnly(wine)) as general:
        yield fast, general


def _both(clients: tuple[Any, Any], body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
    fast, general = clients
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    a = fast.post("/invocations", content=content, headers=headers)
    b = general.post("/invocations", content=content, headers=headers)
    assert (a.status_code, a.content) == (b.status_code, b.content)
    return a.status_code, a.content


def _direct(model: PyFuncModel, body: Any, content_type: str = "application/json") -> bool:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    interface = describe_model(model)
    parsed = parse_invocation(content.encode(), content_type, interface, direct_path(model))
    return parsed.direct


WINE_1X = (
    '{"columns":["alcohol", "chlorides", "citric acid", "density", "fixed acidity", '
    '"free sulfur dioxide", "pH", "residual sugar", "sulphates", "total sulfur dioxide", '
    '"volatile acidity"],"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66]]}'
)
GOOD: list[tuple[str, Any, dict[str, str]]] = [
    ("reference 1.x pandas-split", WINE_1X, SPLIT_1X),
    ("1.x default split", json.loads(WINE_1X), JSON),
    ("dataframe_split", {"dataframe_split": json.loads(WINE_1X)}, JSON),
    (
        "dataframe_split in fit order, two rows",
        {"dataframe_split": {"columns": FIT_ORDER, "data": [[ROW[c] for c in FIT_ORDER]] * 2}},
        JSON,
    ),
    ("dataframe_records", {"dataframe_records": [ROW, ROW]}, JSON),
    ("1.x pandas-records", [ROW], RECORDS_1X),
    ("1.x default records", [ROW], JSON),
    ("instances rows", {"instances": [[ROW[c] for c in FIT_ORDER]]}, JSON),
    ("inputs rows", {"inputs": [[ROW[c] for c in FIT_ORDER]] * 3}, JSON),
    ("instances objects", {"instances": [ROW]}, JSON),
    ("inputs columns", {"inputs": {c: [v, v] for c, v in ROW.items()}}, JSON),
    ("inputs scalars", {"inputs": ROW}, JSON),
]


@pytest.mark.parametrize(("body", "headers"), [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_reference_requests_take_the_direct_path_with_identical_answers(
    clients: tuple[Any, Any], wine: PyFuncModel, body: Any, headers: dict[str, str]
) -> None:
    status, content = _both(clients, body, headers)
    assert status == 200
    assert _direct(wine, body, headers["Content-Type"])
    predictions = json.loads(content)
    rows = predictions if isinstance(predictions, list) else predictions["predictions"]
    assert rows
    assert all(isinstance(v, float) for v in rows)


def test_the_answer_is_what_the_estimator_predicts(
    clients: tuple[Any, Any], wine: PyFuncModel
) -> None:
    _, content = _both(clients, WINE_1X, SPLIT_1X)
    expected = wine.unwrap_python_model().predict(pd.DataFrame([ROW])[FIT_ORDER])
    assert json.loads(content) == expected.tolist()


def _split(columns: list[str], row: list[Any], **extra: Any) -> dict[str, Any]:
    return {"dataframe_split": {"columns": columns, "data": [row], **extra}}


WINE_VALUES = [ROW[c] for c in WINE_COLUMNS]
FLOATS = [float(v) for v in WINE_VALUES]
BAD: list[tuple[str, Any, dict[str, str], int]] = [
    ("missing column", _split(WINE_COLUMNS[:-1], WINE_VALUES[:-1]), JSON, 400),
    # extra columns: the frame is built column by column, so 29 and 75 arrive as int64
    # columns; like MLflow's scoring server, Kiln casts them to the signature's double
    ("extra column", _split([*WINE_COLUMNS, "x"], [*WINE_VALUES, 1.0]), JSON, 200),
    ("extra float column", _split([*WINE_COLUMNS, "x"], [*FLOATS, 1.0]), JSON, 200),
    ("extra text column", _split([*WINE_COLUMNS, "x"], [*FLOATS, "a"]), JSON, 200),
    ("string value", _split(WINE_COLUMNS, ["abc", *WINE_VALUES[1:]]), JSON, 400),
    ("numeric string", _split(WINE_COLUMNS, ["12.8", *WINE_VALUES[1:]]), JSON, 200),
    ("boolean value", _split(WINE_COLUMNS, [True, *WINE_VALUES[1:]]), JSON, 200),
    ("all booleans", _split(WINE_COLUMNS, [True] * 11), JSON, 200),
    # null is NaN in a double column (as in MLflow); this ElasticNet then refuses NaN
    ("null value", _split(WINE_COLUMNS, [None, *WINE_VALUES[1:]]), JSON, 400),
    ("duplicate column", _split([*WINE_COLUMNS[:-1], "pH"], WINE_VALUES), JSON, 400),
    ("13 features columns", _split(["features"] * 13, [*WINE_VALUES, 0.4, 0.5]), JSON, 400),
    ("ragged row", {"dataframe_split": {"columns": WINE_COLUMNS, "data": [[1.0]]}}, JSON, 400),
    ("no rows", {"dataframe_split": {"columns": WINE_COLUMNS, "data": []}}, JSON, 400),
    ("index", _split(WINE_COLUMNS, WINE_VALUES, index=[7]), JSON, 200),
    ("bad index", _split(WINE_COLUMNS, WINE_VALUES, index=[7, 8]), JSON, 400),
    ("params", {**_split(WINE_COLUMNS, WINE_VALUES), "params": {"x": 1}}, JSON, 200),
    ("huge integer", _split(WINE_COLUMNS, [10**30, *WINE_VALUES[1:]]), JSON, 200),
    ("records missing key", {"dataframe_records": [{"pH": 3.0}]}, JSON, 400),
    ("records with a string", {"dataframe_records": [{**ROW, "pH": "x"}]}, JSON, 400),
    ("records of mixed keys", {"dataframe_records": [ROW, {**ROW, "x": 1.0}]}, JSON, 200),
    ("records with an integer", {"dataframe_records": [ROW, {**ROW, "x": None}]}, JSON, 200),
    ("instances too narrow", {"instances": [[1.0, 2.0]]}, JSON, 400),
    ("instances strings", {"instances": [["a"] * 11]}, JSON, 400),
    ("instances flat list", {"instances": WINE_VALUES}, JSON, 400),
    (
        "inputs unequal columns",
        {"inputs": {**{c: [1.0] for c in ROW}, "pH": [1.0, 2.0]}},
        JSON,
        400,
    ),
    ("inputs missing column", {"inputs": {"pH": [1.0]}}, JSON, 400),
    ("not json", "{", JSON, 400),
    ("two formats", {"inputs": [[1.0] * 11], "instances": [[1.0] * 11]}, JSON, 400),
]


@pytest.mark.parametrize(
    ("body", "headers", "status"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_other_requests_answer_exactly_as_the_general_path(
    clients: tuple[Any, Any], body: Any, headers: dict[str, str], status: int
) -> None:
    got, content = _both(clients, body, headers)
    assert got == status, content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_split(WINE_COLUMNS[:-1], WINE_VALUES[:-1]), "volatile acidity"),
        (_split(WINE_COLUMNS, ["abc", *WINE_VALUES[1:]]), "alcohol"),
        (_split([*WINE_COLUMNS, "x"], ["abc", *WINE_VALUES[1:], 1]), "alcohol"),
        ({"dataframe_records": [{**ROW, "pH": "abc"}, {**ROW, "x": 1}]}, "pH"),
        ({"inputs": {**{c: [v] for c, v in ROW.items()}, "density": ["abc"]}}, "density"),
    ],
    ids=["missing", "wrong type", "wrong type and extra column", "records", "inputs"],
)
def test_errors_still_name_the_column(clients: tuple[Any, Any], body: Any, field: str) -> None:
    status, content = _both(clients, body, JSON)
    assert status == 400
    assert field in json.loads(content)["message"]


def _predictions(content: bytes) -> list[float]:
    answer: list[float] = json.loads(content)["predictions"]
    return answer


def test_integers_in_double_columns_with_an_extra_column_are_cast_like_mlflow(
    clients: tuple[Any, Any],
) -> None:
    # 29 and 75 are JSON integers; with "x" the frame is built column by column
    plain = _both(clients, _split(WINE_COLUMNS, FLOATS), JSON)
    extra = _both(clients, _split([*WINE_COLUMNS, "x"], [*WINE_VALUES, 1]), JSON)
    assert plain[0] == extra[0] == 200
    assert _predictions(extra[1]) == _predictions(plain[1])


def test_records_with_an_integer_in_a_double_column_are_cast_like_mlflow(
    clients: tuple[Any, Any],
) -> None:
    floats = {c: float(v) for c, v in ROW.items()}
    expected = _both(clients, {"dataframe_records": [floats, floats]}, JSON)
    mixed = [{**floats, "pH": 3}, {**floats, "pH": 3, "note": "extra key in one record"}]
    status, content = _both(clients, {"dataframe_records": mixed}, JSON)
    assert status == 200
    same = _both(clients, {"dataframe_records": [{**floats, "pH": 3.0}] * 2}, JSON)
    assert _predictions(content) == _predictions(same[1])
    assert _predictions(content) != _predictions(expected[1])  # pH 3 was used, not dropped


@settings(max_examples=40, deadline=None)
@given(
    order=st.permutations(WINE_COLUMNS),
    rows=st.lists(
        st.lists(
            st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-(10**6), 10**6)),
            min_size=11,
            max_size=11,
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_any_column_order_and_numbers_predict_identically(
    clients: tuple[Any, Any], order: list[str], rows: list[list[float]]
) -> None:
    status, _ = _both(clients, {"dataframe_split": {"columns": order, "data": rows}}, JSON)
    assert status == 200


def test_a_model_fitted_on_an_array_takes_the_direct_path_too(tmp_path: Path) -> None:
    model = _save(tmp_path, ElasticNet(alpha=0.1), lambda f: f.to_numpy(), "array")
    body = {"dataframe_split": json.loads(WINE_1X)}
    with client_for(model) as fast, client_for(GeneralOnly(model)) as general:
        status, _ = _both((fast, general), body, JSON)
    assert status == 200
    assert _direct(model, body)


def test_pipelines_and_mismatched_feature_orders_keep_the_general_path(tmp_path: Path) -> None:
    pipeline = _save(tmp_path, make_pipeline(StandardScaler(), ElasticNet()), lambda f: f, "pipe")
    assert pipeline.array_predictor() is None
    reordered = _save(tmp_path, ElasticNet(), lambda f: f[WINE_COLUMNS], "reordered")
    assert reordered.array_predictor() is None  # fitted in another order than the signature
    with client_for(pipeline) as fast, client_for(GeneralOnly(pipeline)) as general:
        status, _ = _both((fast, general), WINE_1X, SPLIT_1X)
    assert status == 200


def test_a_signature_with_an_integer_column_has_no_direct_path(tmp_path: Path) -> None:
    frame = _training_frame().assign(**{"pH": lambda f: f["pH"].astype("int64")})
    estimator = ElasticNet().fit(frame, frame.sum(axis=1))
    path = tmp_path / "ints"
    kiln_sklearn.save_model(estimator, path, signature=infer_signature(frame))
    assert load_model(path).array_predictor() is None


def test_invocations_keeps_auth_metrics_and_starlettes_answer_to_other_methods(
    clients: tuple[Any, Any], wine: PyFuncModel
) -> None:
    fast, _ = clients
    assert fast.get("/invocations").status_code == 405
    with client_for(wine, auth_token="secret") as guarded:
        refused = guarded.post("/invocations", content=WINE_1X, headers=SPLIT_1X)
        assert refused.status_code == 401
        ok = guarded.post(
            "/invocations", content=WINE_1X, headers={**SPLIT_1X, "Authorization": "Bearer secret"}
        )
        assert ok.status_code == 200
        metrics = guarded.get("/metrics").text
    assert 'kiln_scoring_requests_total{route="/invocations",status="401"} 1' in metrics
    assert 'kiln_scoring_requests_total{route="/invocations",status="200"} 1' in metrics
    assert "kiln_scoring_predicted_rows_total 1" in metrics
