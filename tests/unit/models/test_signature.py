"""Signature inference (the JSON MLflow writes) and enforcement (MLflow's casting rules)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kiln.errors import InvalidInput
from kiln.models.signature import (
    ColSpec,
    ModelSignature,
    Schema,
    TensorSpec,
    infer_signature,
)

# What mlflow 3.17's infer_signature writes for the same frame (checked against the real package).
MLFLOW_INPUTS = (
    '[{"type": "double", "name": "f64", "required": true}, '
    '{"type": "float", "name": "f32", "required": true}, '
    '{"type": "long", "name": "i64", "required": true}, '
    '{"type": "integer", "name": "i32", "required": true}, '
    '{"type": "boolean", "name": "b", "required": true}, '
    '{"type": "string", "name": "s", "required": true}, '
    '{"type": "string", "name": "o", "required": true}, '
    '{"type": "datetime", "name": "dt", "required": true}, '
    '{"type": "double", "name": "nan", "required": false}, '
    '{"type": "binary", "name": "by", "required": true}]'
)


def _typed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f64": [1.0, 2.0],
            "f32": np.array([1, 2], dtype="float32"),
            "i64": [1, 2],
            "i32": np.array([1, 2], dtype="int32"),
            "b": [True, False],
            "s": ["x", "y"],
            "o": pd.Series(["x", "y"], dtype=object),
            "dt": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "nan": [1.0, None],
            "by": [b"a", b"b"],
        }
    )


def test_infer_signature_writes_mlflow_json() -> None:
    signature = infer_signature(_typed_frame(), np.array([[1.0, 2.0]]))
    assert signature.to_dict() == {
        "inputs": MLFLOW_INPUTS,
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]',
        "params": None,
    }


def test_tensor_input_series_output_and_params() -> None:
    signature = infer_signature(
        np.zeros((3, 4), dtype="int32"), pd.Series([1, 2], name="y"), params={"k": 3, "t": 0.5}
    )
    assert signature.to_dict() == {
        "inputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int32", "shape": [-1, 4]}}]',
        "outputs": '[{"type": "long", "name": "y", "required": true}]',
        "params": (
            '[{"name": "k", "default": 3, "shape": null, "type": "long"}, '
            '{"name": "t", "default": 0.5, "shape": null, "type": "double"}]'
        ),
    }


def test_signature_round_trips_through_its_dict() -> None:
    signature = infer_signature(_typed_frame(), [1.0, 2.0], params={"flag": True})
    assert ModelSignature.from_dict(signature.to_dict()) == signature


def test_schema_refuses_mixed_specs() -> None:
    with pytest.raises(InvalidInput, match="mix column and tensor"):
        Schema((ColSpec("double", "a"), TensorSpec("float64", (-1,), "t")))


def test_structured_mlflow_types_round_trip_and_pass_through() -> None:
    text = (
        '[{"type": "array", "items": {"type": "long"}, "name": "a", "required": true}, '
        '{"type": "double", "name": "b", "required": true}]'
    )
    schema = Schema.from_json(text)
    assert schema.to_json() == text
    out = ModelSignature(schema).enforce(pd.DataFrame({"a": [[1, 2]], "b": [1]}))
    assert out["a"].tolist() == [[1, 2]]
    assert out["b"].dtype == np.float64


def test_schema_entry_needs_a_type() -> None:
    with pytest.raises(InvalidInput, match="without a type"):
        Schema.from_json('[{"name": "a"}]')


def _columns(**types: str) -> ModelSignature:
    return ModelSignature(Schema(tuple(ColSpec(t, name) for name, t in types.items())))


def test_enforce_selects_and_orders_schema_columns() -> None:
    signature = _columns(b="long", a="double")
    out = signature.enforce(pd.DataFrame({"a": [1.5], "b": [2], "extra": ["x"]}))
    assert list(out.columns) == ["b", "a"]


def test_enforce_upcasts_safely() -> None:
    signature = _columns(i="long", f="double", d="double")
    out = signature.enforce(
        pd.DataFrame(
            {
                "i": np.array([1], dtype="int32"),
                "f": np.array([1.5], dtype="float32"),
                "d": np.array([3], dtype="int32"),
            }
        )
    )
    assert [str(t) for t in out.dtypes] == ["int64", "float64", "float64"]


def test_enforce_names_the_column_it_cannot_cast() -> None:
    with pytest.raises(InvalidInput, match=r"column age\. Can not safely convert float64 to int64"):
        _columns(age="long").enforce(pd.DataFrame({"age": [1.5]}))


def test_enforce_hints_at_missing_values_in_integer_columns() -> None:
    with pytest.raises(InvalidInput, match="missing values"):
        _columns(n="long").enforce(pd.DataFrame({"n": [1.0, None]}))


def test_enforce_refuses_double_to_float() -> None:
    with pytest.raises(InvalidInput, match="column x"):
        _columns(x="float").enforce(pd.DataFrame({"x": [0.1]}))


def test_enforce_allows_zero_one_longs_as_floats() -> None:
    out = _columns(x="float").enforce(pd.DataFrame({"x": [0, 1]}))
    assert out["x"].dtype == np.float32


def test_enforce_reports_every_missing_required_column() -> None:
    with pytest.raises(InvalidInput, match=r"missing inputs \['a', 'c'\]"):
        _columns(a="double", b="double", c="string").enforce(pd.DataFrame({"b": [1.0]}))


def test_optional_columns_may_be_absent() -> None:
    signature = ModelSignature(Schema((ColSpec("double", "a"), ColSpec("double", "b", False))))
    assert list(signature.enforce({"a": 1.0}).columns) == ["a"]


def test_enforce_accepts_dicts_and_records() -> None:
    signature = _columns(a="double", s="string")
    assert signature.enforce({"a": 1.0, "s": "x"}).shape == (1, 2)
    assert signature.enforce([{"a": 1.0, "s": "x"}, {"a": 2.0, "s": "y"}]).shape == (2, 2)
    assert signature.enforce({"a": [1.0, 2.0], "s": ["x", "y"]}).shape == (2, 2)


def test_enforce_datetime_from_strings() -> None:
    out = _columns(t="datetime").enforce(pd.DataFrame({"t": ["2024-01-02"]}, dtype=object))
    assert out["t"].dtype.kind == "M"


def test_tensor_enforcement_checks_shape_and_casts_safely() -> None:
    signature = ModelSignature(Schema((TensorSpec("float64", (-1, 3)),)))
    out = signature.enforce(np.ones((2, 3), dtype="float32"))
    assert out.dtype == np.float64
    with pytest.raises(InvalidInput, match=r"expected \[-1, 3\], got \[2, 4\]"):
        signature.enforce(np.ones((2, 4)))
    narrow = ModelSignature(Schema((TensorSpec("int32", (-1,)),)))
    with pytest.raises(InvalidInput, match="expected int32, got float64"):
        narrow.enforce(np.ones(3))


def test_params_get_defaults_and_unknown_ones_are_dropped() -> None:
    signature = infer_signature(pd.DataFrame({"a": [1.0]}), params={"k": 3, "t": 0.5})
    assert signature.enforce_params({"k": 7, "zzz": 1}) == {"k": 7, "t": 0.5}


def test_signature_json_parses_in_mlflow_shape() -> None:
    # Each part is a JSON string holding a list, exactly as in MLflow's MLmodel.
    parts = infer_signature(pd.DataFrame({"a": [1.0]}), [1]).to_dict()
    assert json.loads(parts["inputs"] or "") == [{"type": "double", "name": "a", "required": True}]
