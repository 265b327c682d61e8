"""The Open Inference Protocol (KServe V2) REST routes."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from scoring_fakes import RecordingModel, SumModel, client_for

from kiln._version import __version__


def test_health_routes(sum_client: Any) -> None:
    assert sum_client.get("/v2/health/live").json() == {"live": True}
    assert sum_client.get("/v2/health/ready").json() == {"ready": True}
    assert sum_client.get("/v2/models/wine/ready").json() == {"name": "wine", "ready": True}
    assert sum_client.get("/v2/models/wine/versions/3/ready").status_code == 200


def test_server_metadata(sum_client: Any) -> None:
    assert sum_client.get("/v2").json() == {
        "name": "kiln",
        "version": __version__,
        "extensions": [],
    }


def test_model_metadata_from_signature(sum_client: Any) -> None:
    expected = {
        "name": "wine",
        "versions": ["3"],
        "platform": "kiln-pyfunc",
        "inputs": [
            {"name": "a", "datatype": "FP64", "shape": [-1]},
            {"name": "b", "datatype": "FP64", "shape": [-1]},
        ],
        "outputs": [{"name": "predictions", "datatype": "FP64", "shape": [-1]}],
    }
    assert sum_client.get("/v2/models/wine").json() == expected
    assert sum_client.get("/v2/models/wine/versions/3").json() == expected


def test_metadata_datatypes_for_every_column_type() -> None:
    types = ["double", "float", "long", "integer", "boolean", "string", "binary", "datetime"]
    model = RecordingModel({"inputs": [{"name": t, "type": t} for t in types]})
    with client_for(model) as client:
        inputs = client.get("/v2/models/wine").json()["inputs"]
    assert [i["datatype"] for i in inputs] == [
        "FP64",
        "FP32",
        "INT64",
        "INT32",
        "BOOL",
        "BYTES",
        "BYTES",
        "BYTES",
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/other",
        "/v2/models/other/ready",
        "/v2/models/wine/versions/4",
        "/v2/models/wine/versions/4/ready",
    ],
)
def test_unknown_model_or_version_is_404(sum_client: Any, path: str) -> None:
    response = sum_client.get(path)
    assert response.status_code == 404
    assert "is not served here" in response.json()["error"]


def test_unknown_model_infer_is_404(sum_client: Any) -> None:
    response = sum_client.post("/v2/models/other/infer", json={"inputs": []})
    assert response.status_code == 404
    assert response.json() == {
        "error": "Model 'other' is not served here; this server serves 'wine'"
    }


def _tensor(name: str, shape: list[int], datatype: str, data: Any) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_infer_with_one_column_per_input(sum_client: Any, sum_model: SumModel) -> None:
    body = {
        "id": "req-7",
        "inputs": [_tensor("b", [2], "FP32", [10, 20]), _tensor("a", [2], "FP64", [1.5, 2.5])],
    }
    response = sum_client.post("/v2/models/wine/versions/3/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model_name": "wine",
        "model_version": "3",
        "id": "req-7",
        "outputs": [
            {"name": "predictions", "shape": [2], "datatype": "FP64", "data": [11.5, 22.5]}
        ],
    }
    assert list(sum_model.seen[-1].columns) == ["a", "b"]  # signature order, not request order


@pytest.mark.parametrize(
    "data", [[[1, 2], [3, 4], [5, 6]], [1, 2, 3, 4, 5, 6]], ids=["nested", "flat"]
)
def test_infer_with_one_2d_input_takes_signature_column_names(
    sum_client: Any, sum_model: SumModel, data: Any
) -> None:
    body = {"inputs": [_tensor("input-0", [3, 2], "INT64", data)]}
    response = sum_client.post("/v2/models/wine/infer", json=body)
    assert response.json()["outputs"][0]["data"] == [3.0, 7.0, 11.0]
    frame = sum_model.seen[-1]
    assert list(frame.columns) == ["a", "b"]
    assert "id" not in response.json()


def test_infer_parameters_become_params(sum_client: Any) -> None:
    body = {
        "parameters": {"scale": 2, "content_type": "np"},
        "inputs": [_tensor("a", [1], "FP64", [1]), _tensor("b", [1], "FP64", [2])],
    }
    assert sum_client.post("/v2/models/wine/infer", json=body).json()["outputs"][0]["data"] == [6.0]


def test_bytes_inputs_and_outputs() -> None:
    class Upper:
        metadata: ClassVar[dict[str, Any]] = {
            "signature": {"inputs": [{"name": "text", "type": "string"}]}
        }

        def predict(self, data: Any, params: Any = None) -> Any:
            return data["text"].str.upper().to_numpy()

    with client_for(Upper()) as client:
        body = {"inputs": [_tensor("text", [2], "BYTES", ["ab", "cd"])]}
        response = client.post("/v2/models/wine/infer", json=body)
    assert response.json()["outputs"] == [
        {"name": "predictions", "shape": [2], "datatype": "BYTES", "data": ["AB", "CD"]}
    ]


def test_tensor_signature_gets_an_array() -> None:
    model = RecordingModel(
        {"inputs": [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]}
    )
    with client_for(model) as client:
        meta = client.get("/v2/models/wine").json()
        assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 2]}]
        response = client.post(
            "/v2/models/wine/infer", json={"inputs": [_tensor("x", [2, 2], "FP32", [1, 2, 3, 4])]}
        )
    assert response.status_code == 200
    assert isinstance(model.last, np.ndarray)
    assert model.last.dtype == np.float32
    assert model.last.shape == (2, 2)


def test_requested_outputs_are_filtered(sum_client: Any) -> None:
    body = {
        "inputs": [_tensor("a", [1], "FP64", [1]), _tensor("b", [1], "FP64", [1])],
        "outputs": [{"name": "predictions"}],
    }
    assert len(sum_client.post("/v2/models/wine/infer", json=body).json()["outputs"]) == 1
    body["outputs"] = [{"name": "probabilities"}]
    response = sum_client.post("/v2/models/wine/infer", json=body)
    assert response.status_code == 400
    assert "unknown output(s) requested: probabilities" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([], "must be a JSON object"),
        ({"inputs": []}, "'inputs' must be a non-empty list"),
        ({"inputs": [5]}, "'inputs[0]' must be an object"),
        (
            {"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]},
            "'inputs[0].name' must be a non-empty string",
        ),
        (
            {"inputs": [_tensor("a", [3], "FP64", [1, 2])]},
            "input 'a': shape [3] needs 3 values, 'data' has 2",
        ),
        ({"inputs": [_tensor("a", [1], "FP128", [1])]}, "input 'a': unsupported datatype 'FP128'"),
        (
            {"inputs": [_tensor("a", [-1], "FP64", [1])]},
            "input 'a': 'shape' must be a list of non-negative integers",
        ),
        ({"inputs": [_tensor("a", [1], "FP64", ["x"])]}, "input 'a': data is not FP64"),
        (
            {"inputs": [{"name": "a", "shape": [1], "datatype": "FP64"}]},
            "input 'a': 'data' is missing",
        ),
        (
            {"inputs": [_tensor("a", [1], "FP64", [1]), _tensor("c", [1], "FP64", [1])]},
            "input 'c' is not an input of this model",
        ),
        ({"inputs": [_tensor("a", [1], "FP64", [1])]}, "missing input(s): b"),
        (
            {"inputs": [_tensor("a", [2], "FP64", [1, 2]), _tensor("b", [1], "FP64", [1])]},
            "input 'b' has 1 rows, the others 2",
        ),
        (
            {"inputs": [_tensor("x", [1, 3], "FP64", [1, 2, 3])]},
            "has 3 columns but the model signature has 2 inputs",
        ),
        ({"id": 5, "inputs": [_tensor("a", [1], "FP64", [1])]}, "'id' must be a string"),
    ],
)
def test_bad_infer_requests_are_400_naming_the_field(
    sum_client: Any, body: Any, match: str
) -> None:
    response = sum_client.post("/v2/models/wine/infer", json=body)
    assert response.status_code == 400
    assert match in response.json()["error"]


def test_infer_invalid_json_is_400(sum_client: Any) -> None:
    response = sum_client.post("/v2/models/wine/infer", content=b"{nope")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
