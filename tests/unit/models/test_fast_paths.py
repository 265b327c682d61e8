"""Enforcement and sklearn prediction skip work when the input already fits, and only then."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import ElasticNet
from sklearn.pipeline import make_pipeline

from kiln.errors import InvalidInput
from kiln.models.signature import ColSpec, ModelSignature, Schema
from kiln.models.sklearn import SklearnPredictor


def _named(*specs: tuple[str, str]) -> ModelSignature:
    return ModelSignature(Schema(tuple(ColSpec(kind, name) for name, kind in specs)))


def test_matching_frame_comes_back_as_is() -> None:
    frame = pd.DataFrame({"a": [1.0], "b": [2]})
    assert _named(("a", "double"), ("b", "long")).enforce(frame) is frame


def test_reordered_frame_is_selected_in_schema_order_with_extras_dropped() -> None:
    frame = pd.DataFrame({"x": ["drop"], "b": [2.0], "a": [1.0]}, index=[7])
    out = _named(("a", "double"), ("b", "double")).enforce(frame)
    assert list(out.columns) == ["a", "b"]
    assert out.index.tolist() == [7]
    assert out.loc[7].tolist() == [1.0, 2.0]


def test_a_column_that_needs_casting_still_goes_column_by_column() -> None:
    frame = pd.DataFrame({"b": np.array([2], dtype="int32"), "a": [1.0]})
    out = _named(("a", "double"), ("b", "long")).enforce(frame)
    assert out["b"].dtype == np.int64
    with pytest.raises(InvalidInput, match="column b"):
        _named(("a", "double"), ("b", "long")).enforce(frame.assign(b=[2.5]))


def test_object_columns_are_still_inferred_for_non_text_types() -> None:
    frame = pd.DataFrame({"a": pd.Series([1.0], dtype=object)})
    out = _named(("a", "double")).enforce(frame)
    assert out is not frame
    assert out["a"].dtype == np.float64


def test_duplicate_extra_columns_do_not_disturb_the_selection() -> None:
    frame = pd.DataFrame([[1.0, "x", "y"]], columns=["a", "dup", "dup"])
    out = _named(("a", "double")).enforce(frame)
    assert list(out.columns) == ["a"]
    assert out["a"].tolist() == [1.0]


def test_unnamed_schema_keeps_the_first_columns() -> None:
    schema = ModelSignature(Schema((ColSpec("double"), ColSpec("double"))))
    frame = pd.DataFrame([[1.0, 2.0, 3.0]])
    assert schema.enforce(frame).values.tolist() == [[1.0, 2.0]]
    assert schema.enforce(frame.iloc[:, :2]).values.tolist() == [[1.0, 2.0]]


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    return frame, frame["a"] * 2 + rng.normal(size=40)


def test_sklearn_predictions_are_identical_through_the_array_path(
    fitted: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, target = fitted
    model = ElasticNet(alpha=0.1).fit(frame, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        got = SklearnPredictor(model, "predict").predict(frame)
    assert np.array_equal(got, model.predict(frame))


def test_sklearn_reordered_columns_keep_the_frame_path(
    fitted: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, target = fitted
    model = ElasticNet(alpha=0.1).fit(frame, target)
    with pytest.raises(ValueError, match="feature names"):
        SklearnPredictor(model, "predict").predict(frame[["c", "b", "a"]])


def test_sklearn_composites_get_the_frame(fitted: tuple[pd.DataFrame, pd.Series]) -> None:
    frame, target = fitted
    columns = ColumnTransformer([("pick", "passthrough", ["a"])])
    model = make_pipeline(columns, ElasticNet(alpha=0.1)).fit(frame, target)
    got = SklearnPredictor(model, "predict").predict(frame)
    assert np.array_equal(got, model.predict(frame))


def test_one_numeric_block_is_reordered_with_its_values_and_index() -> None:
    frame = pd.DataFrame([[2, 1], [4, 3]], columns=["b", "a"], index=[5, 6])
    out = _named(("a", "long"), ("b", "long")).enforce(frame)
    assert list(out.columns) == ["a", "b"]
    assert out.index.tolist() == [5, 6]
    assert out.values.tolist() == [[1, 2], [3, 4]]
    assert out.dtypes.tolist() == [np.dtype("int64")] * 2


def test_a_model_fitted_on_an_array_reads_duplicate_named_columns_by_position() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    model = make_pipeline(ElasticNet(alpha=0.1)).fit(x, x[:, 0] - x[:, 2])
    frame = pd.DataFrame(x[:5], columns=["features"] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = SklearnPredictor(model, "predict").predict(frame)
    assert np.array_equal(got, model.predict(x[:5]))
    assert SklearnPredictor(model, "predict").array_predict(["features"] * 3) is not None
