"""Large split bodies parsed in pieces (and long answers encoded in chunks) match the whole.

``MIN_BODY_BYTES`` and ``PIECE_BYTES`` are lowered so small bodies take the piece
path and are cut into many pieces; every result is compared with the whole-body
parse (and, for numeric blocks, with ``frames._numeric_array`` of its rows).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from scoring_fakes import RecordingModel, SumModel, client_for

from kiln.serving import bigjson
from kiln.serving.bigjson import ParsedColumns
from kiln.serving.frames import _numeric_array


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigjson, "MIN_BODY_BYTES", 0)
    monkeypatch.setattr(bigjson, "PIECE_BYTES", 40)


def _no_dtype(columns: list[str]) -> str | None:
    return None


def _float64(columns: list[str]) -> str | None:
    return "float64"


ROWS = [[i, i * 0.5, -i, 1e300 if i == 7 else i] for i in range(60)]
SAME_AS_ORJSON = [
    json.dumps({"dataframe_split": {"columns": list("abcd"), "data": ROWS}}),
    json.dumps({"columns": list("abcd"), "index": list(range(60)), "data": ROWS}),
    json.dumps({"dataframe_split": {"data": ROWS, "columns": list("abcd")}, "params": {"k": 1}}),
    '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2],\n  [3, true],[null, 4.5] ,'
    + ",".join(["[5, 6]"] * 30)
    + "]}}",
]


def _same_as_orjson(got: Any, body: str) -> None:
    """``got`` is ``orjson.loads(body)``; columns are the frame pandas makes of its rows."""
    expected = orjson.loads(body)
    home = got.get("dataframe_split", got)
    if isinstance(home["data"], ParsedColumns):
        want = expected.get("dataframe_split", expected)
        frame = home.pop("data").frame(home["columns"])
        pd.testing.assert_frame_equal(
            frame, pd.DataFrame(want.pop("data"), columns=want["columns"])
        )
    assert got == expected


@pytest.mark.parametrize("piece_bytes", [1, 7, 40, 1000])
@pytest.mark.parametrize("body", SAME_AS_ORJSON)
def test_rows_are_what_the_whole_body_parse_gives(
    body: str, piece_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bigjson, "PIECE_BYTES", piece_bytes)
    got = bigjson.loads(body.encode(), _no_dtype)
    assert got is not None
    _same_as_orjson(got, body)


def test_columns_are_typed_as_pandas_types_all_the_rows() -> None:
    rows = [[i, None if i % 7 == 0 else i * 0.5, i, 2**60 + i] for i in range(80)]
    rows += [[i, i, i + 0.5, i] for i in range(80)]  # ints in a float column, floats later
    body = json.dumps({"dataframe_split": {"columns": ["a", "b", "c", "c"], "data": rows}})
    got = bigjson.loads(body.encode(), _no_dtype)
    assert isinstance(got["dataframe_split"]["data"], ParsedColumns)
    _same_as_orjson(got, body)


def test_deeper_rows_parse_the_same_or_not_at_all() -> None:
    body = json.dumps({"columns": ["a"], "data": [[[1], [2]], [[3], [4]]] * 10})
    got = bigjson.loads(body.encode(), _no_dtype)
    assert got is None or got == orjson.loads(body)


def test_the_piece_path_is_taken_for_plain_split_bodies() -> None:
    body = SAME_AS_ORJSON[0].encode()
    assert isinstance(bigjson.loads(body, _no_dtype)["dataframe_split"]["data"], ParsedColumns)
    assert len(bigjson._pieces(body, body.index(b"[[", body.index(b'"data"')))) > 10


@pytest.mark.parametrize(
    "body",
    [
        '{"dataframe_split": {"columns": ["a"], "data": [["x"], ["y"]]}}',  # strings
        '{"dataframe_split": {"columns": ["a"], "data": [[1], [2,], [3]]}}',  # invalid JSON
        '{"params": {"data": [[1]]}, "dataframe_split": {"columns": ["a"], "data": [[2]]}}',
        '{"dataframe_split": {"columns": ["a"], "data": [[1], [2] ]}}',  # no "]]"
        '{"inputs": {"data": [[1], [2]]}}',  # not a split payload
        '{"dataframe_split": {"columns": ["a"], "data": [[1] [2]]}}',
    ],
)
def test_bodies_it_cannot_vouch_for_are_left_to_the_whole_parse(body: str) -> None:
    assert bigjson.loads(body.encode(), _no_dtype) is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numeric_blocks_equal_the_array_of_all_rows(dtype: str) -> None:
    ints = [[i, -i] for i in range(40)]
    floats = [[i + 0.25, 2**60 + i] for i in range(40)]  # an int past float32's precision
    rows = ints + floats + ints
    body = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": rows}}).encode()
    got = bigjson.loads(body, lambda columns: dtype)["dataframe_split"]["data"]
    expected = _numeric_array(rows, dtype)
    assert expected is not None
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)


def test_rows_numpy_would_not_make_numbers_leave_blocks_to_the_whole_parse() -> None:
    for rows in ([[True, False]] * 30, [[1, None]] * 30, [[1, 2]] * 20 + [[3]] * 20):
        body = json.dumps({"columns": ["a", "b"], "data": rows}).encode()
        assert bigjson.loads(body, _float64) is None


def test_answers_are_the_same_through_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [[i, i / 3] for i in range(200)]
    bodies: list[Any] = [
        {"dataframe_split": {"columns": ["a", "b"], "data": rows}},
        {"dataframe_split": {"columns": ["b", "a"], "data": rows, "index": list(range(200))}},
        {"dataframe_split": {"columns": ["a", "b"], "data": [*rows[:5], ["x", 1]]}},
    ]
    answers = []
    for threshold in (0, 1 << 40):  # pieces, then the whole-body parse
        monkeypatch.setattr(bigjson, "MIN_BODY_BYTES", threshold)
        with client_for(SumModel(), inline_body_bytes=0) as client:
            answers.append([client.post("/invocations", json=body) for body in bodies])
    for piecewise, whole in zip(*answers, strict=True):
        assert (piecewise.status_code, piecewise.json()) == (whole.status_code, whole.json())
    assert [a.status_code for a in answers[0]] == [200, 200, 400]


@pytest.mark.parametrize(
    "predictions",
    [np.linspace(0, 1, 250_001), np.arange(600_000).reshape(200_000, 3), np.full(100_001, np.nan)],
)
@pytest.mark.parametrize("wrap", [True, False])
def test_long_predictions_encode_the_same_in_chunks(predictions: np.ndarray, wrap: bool) -> None:
    from kiln.serving.encoding import CHUNK_ROWS, dumps_predictions

    assert len(predictions) > CHUNK_ROWS
    whole = {"predictions": predictions} if wrap else predictions
    assert dumps_predictions(predictions, wrap=wrap) == orjson.dumps(
        whole, option=orjson.OPT_SERIALIZE_NUMPY
    )


def test_a_model_without_a_signature_gets_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [[i, i * 0.5 if i % 5 else None, i, "x" if i == 150 else i] for i in range(160)]
    bodies = [
        {"dataframe_split": {"columns": ["f", "f", "g"], "data": [r[:3] for r in rows]}},
        {"columns": ["f", "g", "h", "i"], "data": rows},  # a string: the rows as lists
    ]
    seen = []
    for threshold in (0, 1 << 40):  # pieces, then the whole-body parse
        monkeypatch.setattr(bigjson, "MIN_BODY_BYTES", threshold)
        model = RecordingModel()
        with client_for(model, inline_body_bytes=0) as client:
            for body in bodies:
                answer = client.post("/invocations", json=body)
                assert answer.status_code == 200, answer.text
        seen.append([call[0] for call in model.calls])
    for piecewise, whole in zip(*seen, strict=True):
        pd.testing.assert_frame_equal(piecewise, whole)
