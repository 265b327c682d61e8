"""describe_model: the signature, read from Kiln's ModelSignature or the MLmodel JSON."""

from __future__ import annotations

from typing import Any

import pandas as pd

from kiln.models.signature import infer_signature
from kiln.serving.model import describe_model


class _Meta:
    def __init__(self, signature: Any) -> None:
        self.signature = signature


class _Model:
    def __init__(self, signature: Any) -> None:
        self.metadata = _Meta(signature)

    def predict(self, data: Any, params: Any = None) -> Any:
        return data


def test_kiln_signature_columns_and_outputs() -> None:
    frame = pd.DataFrame({"x": [1.0], "n": [1], "s": ["a"]})
    signature = infer_signature(frame, pd.Series([1.0]).to_numpy(), params={"k": 3})
    interface = describe_model(_Model(signature))
    assert interface.input_names == ("x", "n", "s")
    assert [c.datatype for c in interface.inputs] == ["FP64", "INT64", "BYTES"]
    assert [c.datatype for c in interface.outputs] == ["FP64"]
    assert interface.params == ("k",)
    assert not interface.is_tensor
    assert interface.uniform_dtype(["x"]) == "float64"
    assert interface.uniform_dtype(["x", "n"]) is None


def test_mlmodel_json_text_signature() -> None:
    signature = {"inputs": '[{"type": "double", "name": "a", "required": true}]', "outputs": None}
    interface = describe_model(_Model(signature))
    assert interface.input_names == ("a",)
    assert interface.outputs == ()


def test_tensor_signature() -> None:
    array = pd.DataFrame({"a": [1.0], "b": [2.0]}).to_numpy().astype("float32")
    interface = describe_model(_Model(infer_signature(array)))
    assert interface.is_tensor
    assert interface.inputs[0].datatype == "FP32"
    assert interface.inputs[0].shape == (-1, 2)


def test_no_signature() -> None:
    interface = describe_model(_Model(None))
    assert interface.inputs == ()
    assert interface.uniform_dtype(["a"]) is None
