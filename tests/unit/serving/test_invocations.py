"""POST /invocations: every request of reference/serving-requests.md verbatim, MLflow 2.x/3.x
bodies, CSV and Parquet, and the refusals (400/413/415) with messages that name the problem."""

from __future__ import annotations

import io
import json
import sys
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from scoring_fakes import WINE_COLUMNS, RaisingModel, RecordingModel, SumModel, client_for

from kiln.errors import InvalidInput
from kiln.models.signature import ColSpec, ModelSignature, Schema

SPLIT_1X = {"Content-Type": "application/json; format=pandas-split"}

# The reference requests, byte for byte as the curl commands send them.
WINE = (
    '{"columns":["alcohol", "chlorides", "citric acid", "density", "fixed acidity", '
    '"free sulfur dioxide", "pH", "residual sugar", "sulphates", "total sulfur dioxide", '
    '"volatile acidity"],"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66]]}'
)
FEATURES = (
    '{"columns":["features", "features", "features", "features", "features", "features", '
    '"features", "features", "features", "features", "features","features","features"],'
    '"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66,0.45,0.55]]}'
)
ADULT = (
    '{"columns":["age", "capital-gain", "capital-loss", "education", "education-num", "fnlwgt", '
    '"hours-per-week", "marital-status", "native-country", "occupation", "race","relationship",'
    '"sex","workclass"],"data":[[25,0,0,1,7,226802,40,4,38,7,2,3,1,4]]}'
)


@pytest.mark.parametrize("body", [WINE, FEATURES, ADULT], ids=["wine", "features13", "adult"])
def test_reference_1x_requests_answer_a_bare_list(
    client: Any, recording: RecordingModel, body: str
) -> None:
    response = client.post(
        "/invocations",
        content=body,
        headers={"Content-Type": "application/json; format=pandas-split"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [0.0]
    frame = recording.last
    assert list(frame.columns) == json.loads(body)["columns"]
    assert frame.shape == (1, len(json.loads(body)["columns"]))


def test_curl_style_header_without_space_is_read(client: Any) -> None:
    response = client.post(
        "/invocations",
        content=WINE,
        headers={"Content-Type": "application/json;format=pandas-split"},
    )
    assert response.json() == [0.0]


def test_duplicate_columns_keep_their_order_and_values(
    client: Any, recording: RecordingModel
) -> None:
    client.post("/invocations", content=FEATURES, headers=SPLIT_1X)
    frame = recording.last
    assert list(frame.columns) == ["features"] * 13
    assert frame.iloc[0].tolist() == [
        12.8,
        0.029,
        0.48,
        0.98,
        6.2,
        29,
        3.33,
        1.2,
        0.39,
        75,
        0.66,
        0.45,
        0.55,
    ]


def test_wine_values_keep_pandas_dtypes_without_signature(
    client: Any, recording: RecordingModel
) -> None:
    client.post("/invocations", content=WINE, headers=SPLIT_1X)
    frame = recording.last
    assert frame["free sulfur dioxide"].dtype == np.int64  # as pd.DataFrame(data=...) infers
    assert frame["alcohol"].dtype == np.float64
    assert frame.loc[0, "total sulfur dioxide"] == 75


def test_pandas_records_1x(client: Any, recording: RecordingModel) -> None:
    rows = [
        dict(zip(WINE_COLUMNS, range(11), strict=True)),
        dict(zip(WINE_COLUMNS, range(11), strict=True)),
    ]
    response = client.post(
        "/invocations",
        content=json.dumps(rows),
        headers={"Content-Type": "application/json; format=pandas-records"},
    )
    assert response.json() == [0.0, 1.0]
    assert list(recording.last.columns) == WINE_COLUMNS


def test_plain_json_split_body_is_read_as_1x_default(client: Any) -> None:
    response = client.post(
        "/invocations", content=WINE, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == [0.0]


def test_plain_json_list_of_records_is_read_as_1x(client: Any) -> None:
    response = client.post("/invocations", json=[{"a": 1}, {"a": 2}])
    assert response.json() == [0.0, 1.0]


SPLIT = {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": SPLIT},
        {"dataframe_split": {**SPLIT, "index": [7, 8]}},
        {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]},
        {"instances": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]},
        {"instances": [[1, 2], [3, 4]]},
        {"inputs": {"a": [1, 3], "b": [2, 4]}},
        {"inputs": [[1, 2], [3, 4]]},
    ],
    ids=[
        "split",
        "split-index",
        "records",
        "instances-rows",
        "instances-lists",
        "inputs-columns",
        "inputs-lists",
    ],
)
def test_2x_bodies_answer_predictions(
    sum_client: Any, sum_model: SumModel, payload: dict[str, Any]
) -> None:
    response = sum_client.post("/invocations", json=payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [3.0, 7.0]}
    frame = sum_model.seen[-1]
    assert list(frame.columns) == ["a", "b"]
    assert frame.dtypes.tolist() == [np.float64, np.float64]  # signature says double


def test_params_reach_the_model(sum_client: Any) -> None:
    response = sum_client.post(
        "/invocations", json={"inputs": {"a": [1], "b": [2]}, "params": {"scale": 10}}
    )
    assert response.json() == {"predictions": [30.0]}


def test_instances_and_inputs_without_signature(client: Any, recording: RecordingModel) -> None:
    client.post("/invocations", json={"instances": [[1, 2], [3, 4]]})
    assert isinstance(recording.last, np.ndarray)
    assert recording.last.shape == (2, 2)
    client.post("/invocations", json={"inputs": {"x": [1, 2], "y": ["p", "q"]}})
    assert list(recording.last.columns) == ["x", "y"]


def test_one_column_signature_takes_a_plain_list(recording: RecordingModel) -> None:
    model = RecordingModel({"inputs": [{"name": "text", "type": "string"}]})
    with client_for(model) as client:
        response = client.post("/invocations", json={"inputs": ["hello", "world"]})
    assert response.json() == {"predictions": [0.0, 1.0]}
    assert model.last["text"].tolist() == ["hello", "world"]


def test_csv(client: Any, recording: RecordingModel) -> None:
    csv = pd.DataFrame([[1.0, 2.0], [3.0, 4.0]], columns=["a", "b"]).to_csv(index=False)
    response = client.post("/invocations", content=csv, headers={"Content-Type": "text/csv"})
    assert response.json() == {"predictions": [0.0, 1.0]}
    assert list(recording.last.columns) == ["a", "b"]


def test_csv_with_signature_dtypes(sum_client: Any, sum_model: SumModel) -> None:
    response = sum_client.post(
        "/invocations", content="a,b\n1,2\n", headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert response.json() == {"predictions": [3.0]}
    assert sum_model.seen[-1]["a"].dtype == np.float64


def test_parquet(sum_client: Any) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(buffer)
    response = sum_client.post(
        "/invocations",
        content=buffer.getvalue(),
        headers={"Content-Type": "application/vnd.apache.parquet"},
    )
    assert response.json() == {"predictions": [4.0, 6.0]}


def test_parquet_without_pyarrow_is_415_naming_the_extra(
    sum_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1.0], "b": [3.0]}).to_parquet(buffer)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` fails, as uninstalled
    response = sum_client.post(
        "/invocations",
        content=buffer.getvalue(),
        headers={"Content-Type": "application/vnd.apache.parquet"},
    )
    assert response.status_code == 415
    assert "pip install 'kiln-mlops[parquet]'" in response.json()["message"]


def test_dataframe_predictions_are_records(recording: RecordingModel) -> None:
    class FrameModel:
        metadata: ClassVar[dict[str, Any]] = {}

        def predict(self, data: Any, params: Any = None) -> Any:
            return pd.DataFrame({"label": ["x", "y"], "score": [0.5, float("nan")]})

    with client_for(FrameModel()) as client:
        response = client.post("/invocations", json={"inputs": [[1], [2]]})
    assert response.json() == {
        "predictions": [{"label": "x", "score": 0.5}, {"label": "y", "score": None}]
    }


# --- refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({}, "Missing Content-Type"),
        ({"Content-Type": "text/plain"}, "only supports the following content types"),
        ({"Content-Type": "application/json; charset=latin-1"}, "only supports UTF-8"),
        (
            {"Content-Type": "application/json; format=pandas-columns"},
            "Unknown format='pandas-columns'",
        ),
        (
            {"Content-Type": "application/json; foo=bar"},
            "Unrecognized content type parameters: foo",
        ),
        ({"Content-Type": "text/csv; format=pandas-split"}, "applies to application/json only"),
    ],
)
def test_unsupported_content_type_is_415(client: Any, headers: dict[str, str], match: str) -> None:
    response = client.post("/invocations", content=b"{}", headers=headers)
    assert response.status_code == 415
    assert match in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("{not json", "valid JSON"),
        (
            '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}',
            "'dataframe_split.data' row 1 has 1 values",
        ),
        ('{"dataframe_split": {"columns": ["a"], "rows": []}}', "must have 'data' field"),
        ('{"dataframe_split": [[1, 2]]}', "split format must be a dictionary. Got list"),
        (
            '{"dataframe_records": {"a": 1}}',
            "records format must be a list of records. Got dictionary",
        ),
        ('{"dataframe_records": [{"a": 1}, 5]}', "'dataframe_records' item 1 must be an object"),
        ('{"inputs": {"a": [1, 2], "b": [1]}}', "'inputs.b' has 1, 'inputs.a' has 2"),
        ('{"instances": [[1]], "inputs": [[1]]}', "exactly one of the input fields"),
        ('{"columns": ["a"]}', "exactly one of the input fields"),
        ('{"inputs": [[1]], "params": [1]}', "'params' must be a JSON object"),
        ("5", "Received unexpected input type 'int'"),
    ],
)
def test_malformed_json_is_400_naming_the_field(client: Any, body: str, match: str) -> None:
    response = client.post(
        "/invocations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["error_code"] == "BAD_REQUEST"
    assert match in payload["message"]


def test_signature_width_mismatch_names_the_inputs(sum_client: Any) -> None:
    response = sum_client.post("/invocations", json={"inputs": [[1, 2, 3]]})
    assert response.status_code == 400
    assert "the model signature has 2 inputs: a, b" in response.json()["message"]


def test_bad_csv_is_400(client: Any) -> None:
    response = client.post(
        "/invocations", content=b'a,b\n"1,2\n', headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 400
    assert "Failed to parse input as a Pandas DataFrame" in response.json()["message"]


def test_body_over_the_limit_is_413() -> None:
    with client_for(RecordingModel(), max_body_bytes=64) as client:
        response = client.post("/invocations", json={"inputs": list(range(100))})
        assert response.status_code == 413
        assert "over the 64-byte limit" in response.json()["message"]
        chunked = client.post(
            "/invocations",
            content=iter([b'{"inputs": [', b"1," * 40, b"1]}"]),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413
        assert client.post("/invocations", json={"inputs": [1]}).status_code == 200


def test_model_error_is_400_with_its_message_and_the_server_stays_up() -> None:
    model = RaisingModel(ValueError("column 'alcohol' has NaN"))
    with client_for(model) as client:
        response = client.post("/invocations", json={"inputs": [[1.0]]})
        assert response.status_code == 400
        payload = response.json()
        assert payload["error_code"] == "BAD_REQUEST"
        assert "ValueError: column 'alcohol' has NaN" in payload["message"]
        model.fail = False
        assert client.post("/invocations", json={"inputs": [[1.0]]}).json() == {
            "predictions": [1.0]
        }


def test_schema_error_keeps_its_error_code() -> None:
    with client_for(RaisingModel(InvalidInput("Model is missing inputs ['b']"))) as client:
        response = client.post("/invocations", json={"inputs": [[1.0]]})
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Model is missing inputs ['b']",
    }


def test_large_bodies_are_predicted_off_the_event_loop(sum_model: SumModel) -> None:
    rows = [[float(i), 1.0] for i in range(5000)]
    with client_for(sum_model, inline_body_bytes=1024) as client:
        response = client.post(
            "/invocations", json={"dataframe_split": {"columns": ["a", "b"], "data": rows}}
        )
    predictions = response.json()["predictions"]
    assert len(predictions) == 5000
    assert predictions[-1] == 5000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", 1.5), (True, 1.0), (None, None), (29, 29.0)],
    ids=["numeric string", "boolean", "null", "integer"],
)
def test_json_values_in_a_double_column_are_cast_like_mlflow(value: Any, expected: Any) -> None:
    # MLflow's cast_df_types_according_to_schema: astype(float64) for every split/records frame
    model = RecordingModel({"inputs": [{"name": "a", "type": "double"}]})
    bodies = [
        {"dataframe_split": {"columns": ["a", "x"], "data": [[value, "extra"]]}},
        {"dataframe_records": [{"a": value}]},
        {"inputs": {"a": [value, 2.0]}},
    ]
    with client_for(model) as client:
        for body in bodies:
            assert client.post("/invocations", json=body).status_code == 200
            column = model.last["a"]
            assert column.dtype == np.float64
            assert np.isnan(column[0]) if expected is None else column[0] == expected, body


def test_only_whole_numbers_in_range_are_cast_to_integer_columns() -> None:
    signature = {"inputs": [{"name": "n", "type": "long"}, {"name": "i", "type": "integer"}]}
    model = RecordingModel(signature)
    with client_for(model) as client:
        client.post("/invocations", json={"dataframe_records": [{"n": 2.0, "i": 7}]})
        assert model.last.dtypes.tolist() == [np.dtype("int64"), np.dtype("int32")]
        # MLflow's astype would make these 1 and 0; Kiln leaves them for enforcement to refuse
        client.post("/invocations", json={"dataframe_records": [{"n": 1.5, "i": 2**40}]})
        assert model.last.dtypes.tolist() == [np.dtype("float64"), np.dtype("int64")]


def test_a_string_in_a_double_column_is_left_for_enforcement() -> None:
    model = RecordingModel({"inputs": [{"name": "a", "type": "double"}]})
    with client_for(model) as client:
        client.post("/invocations", json={"dataframe_records": [{"a": "abc"}, {"a": 1}]})
    assert model.last["a"].tolist() == ["abc", 1]


def test_nan_predictions_are_null() -> None:
    class NanModel:
        metadata: ClassVar[dict[str, Any]] = {}

        def predict(self, data: Any, params: Any = None) -> Any:
            return np.array([1.0, np.nan, np.inf])

    with client_for(NanModel()) as client:
        response = client.post("/invocations", json={"inputs": [[1], [2], [3]]})
    assert response.json() == {"predictions": [1.0, None, None]}


def test_unsafe_values_get_a_400_naming_the_column() -> None:
    signature = ModelSignature(
        Schema((ColSpec("double", "a"), ColSpec("long", "n"))),
    )

    class Enforcing:
        metadata: ClassVar[dict[str, Any]] = {"signature": signature.to_dict()}

        def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
            return signature.enforce(data).sum(axis=1).to_numpy()

    with client_for(Enforcing()) as client:
        ok = client.post("/invocations", json={"dataframe_records": [{"a": 1, "n": 2.0, "x": 0}]})
        assert ok.json() == {"predictions": [3.0]}
        for row, column in [({"a": "abc", "n": 1}, "a"), ({"a": 1.0, "n": 1.5}, "n")]:
            refused = client.post("/invocations", json={"dataframe_records": [row]})
            assert refused.status_code == 400
            assert f"column {column}" in refused.json()["message"]
