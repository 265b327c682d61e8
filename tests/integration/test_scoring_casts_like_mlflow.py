"""JSON values in signature columns: Kiln's scoring app answers as MLflow 3.17's does.

The same ElasticNet, saved once by ``mlflow.sklearn`` and once by ``kiln.sklearn``
with the same double signature, behind MLflow's own scoring app
(``mlflow.pyfunc.scoring_server.init``, in process) and Kiln's. MLflow casts the
columns of a parsed ``dataframe_split``/``dataframe_records`` frame to the schema's
types before enforcing it, so integers, booleans, numeric strings and nulls in a
``double`` column are accepted wherever they appear, and only a value ``astype``
cannot convert ("abc") is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet

from kiln.models import sklearn as kiln_sklearn
from kiln.models.pyfunc import load_model
from kiln.models.signature import infer_signature
from kiln.serving import create_scoring_app
from kiln.testing.server import asgi_client

pytestmark = pytest.mark.integration

COLUMNS = ["alcohol", "chlorides", "free sulfur dioxide", "pH", "total sulfur dioxide"]
ROW = {"alcohol": 12.8, "chlorides": 0.029, "free sulfur dioxide": 29, "pH": 3.33}
ROW["total sulfur dioxide"] = 75
VALUES = list(ROW.values())


def _split(columns: list[str], row: list[Any]) -> dict[str, Any]:
    return {"dataframe_split": {"columns": columns, "data": [row]}}


CASES: list[tuple[str, Any, int]] = [
    ("extra column, integer values", _split([*COLUMNS, "x"], [*VALUES, 1]), 200),
    ("records of mixed keys", {"dataframe_records": [ROW, {**ROW, "x": 1}]}, 200),
    ("records with an integer", {"dataframe_records": [{**ROW, "pH": 3}, {**ROW, "x": None}]}, 200),
    ("all booleans", _split(COLUMNS, [True] * 5), 200),
    ("numeric string", _split(COLUMNS, ["12.8", *VALUES[1:]]), 200),
    (
        "inputs with an extra column",
        {"inputs": {**{c: [v] for c, v in ROW.items()}, "x": [1]}},
        200,
    ),
    ("string", _split(COLUMNS, ["abc", *VALUES[1:]]), 400),
    ("string with an extra column", _split([*COLUMNS, "x"], ["abc", *VALUES[1:], 1]), 400),
    ("string in records", {"dataframe_records": [{**ROW, "pH": "abc"}]}, 400),
    ("null (NaN, which ElasticNet refuses)", _split(COLUMNS, [None, *VALUES[1:]]), 400),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature as mlflow_infer_signature
    from mlflow.pyfunc import scoring_server

    tmp = tmp_path_factory.mktemp("cast")
    frame = pd.DataFrame(np.random.default_rng(0).uniform(0, 80, (40, 5)), columns=COLUMNS)
    target = frame.sum(axis=1).to_numpy() / 100
    model = ElasticNet(alpha=0.1).fit(frame, target)
    mlflow.sklearn.save_model(
        model, tmp / "mlflow", signature=mlflow_infer_signature(frame, target)
    )
    kiln_sklearn.save_model(model, tmp / "kiln", signature=infer_signature(frame, target))
    with pytest.MonkeyPatch.context() as patch:
        # init marks the process as serving in os.environ; keep that to this module
        patch.setenv("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "false")
        app = scoring_server.init(mlflow.pyfunc.load_model(str(tmp / "mlflow")))
        with (
            asgi_client(app) as theirs,
            asgi_client(create_scoring_app(load_model(tmp / "kiln"), name="m")) as ours,
        ):
            yield theirs, ours


@pytest.mark.parametrize(("body", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_json_values_in_double_columns_are_answered_like_mlflow(
    servers: tuple[Any, Any], body: Any, status: int
) -> None:
    theirs, ours = servers
    content = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    mlflow_answer = theirs.post("/invocations", content=content, headers=headers)
    kiln_answer = ours.post("/invocations", content=content, headers=headers)
    assert mlflow_answer.status_code == kiln_answer.status_code == status, kiln_answer.text
    if status == 200:
        expected = mlflow_answer.json()["predictions"]
        assert kiln_answer.json()["predictions"] == pytest.approx(expected, rel=1e-12)
    elif "abc" in content:
        column = "pH" if "dataframe_records" in body else "alcohol"
        assert column in kiln_answer.json()["message"]
