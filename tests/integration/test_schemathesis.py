"""Property-based fuzzing of the server's REST API from its own ``/openapi.json``.

schemathesis generates requests for every documented operation, valid ones
(positive) and ones that break the schema (negative), and checks that none is
answered with a 5xx: bad input must be a 4xx and valid input must be served.
A real uvicorn server over SQLite runs in a thread; examples are
derandomized so that a failure reproduces.

The pytest plugin (``schemathesis.pytest.from_fixture``) does not run under
pytest 9, so each operation gets its own Hypothesis test here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402

from kiln.config import Settings  # noqa: E402
from kiln.server.app import create_app  # noqa: E402
from kiln.testing.server import serve_in_thread  # noqa: E402

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    db = f"sqlite:///{root / 'kiln.db'}"
    config = Settings(
        home=root / "home",
        tracking_uri=db,
        backend_store_uri=db,
        artifacts_destination=str(root / "artifacts"),
    )
    with serve_in_thread(create_app(config)) as url:
        yield url


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' ``not_a_server_error``: no 5xx at all."""
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


def _has_inputs(operation: Any) -> bool:
    """Whether the request has a JSON body or query parameters to break (a path
    parameter or a raw byte body cannot be invalid)."""
    raw = operation.definition.raw
    json_body = "application/json" in raw.get("requestBody", {}).get("content", {})
    return json_body or any(p.get("in") == "query" for p in raw.get("parameters", []))


def _known_entities(base: str) -> dict[str, Any]:
    """Create a run, a registered model with a version and a logged model; their ids
    by field name, so that generated requests also reach past the "not found" checks."""
    api = f"{base}/api/2.0/mlflow"
    with httpx.Client(timeout=30) as http:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.post(f"{api}/{path}", json=body)
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        run_id = post("runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
        post("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1})
        post("registered-models/create", {"name": "model"})
        post("model-versions/create", {"name": "model", "source": "runs:/" + run_id + "/m"})
        model_id = post("logged-models", {"experiment_id": "0"})["model"]["info"]["model_id"]
    return {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_ids": [run_id],
        "experiment_id": "0",
        "experiment_ids": ["0"],
        "metric_key": "m",
        "name": "model",
        "version": "1",
        "model_id": model_id,
    }


def _use_known(case: Any, known: dict[str, Any]) -> None:
    for container in (case.body, case.query, case.path_parameters):
        if isinstance(container, dict):
            for field in container.keys() & known.keys():
                container[field] = known[field]


def _fuzz(operation: Any, mode: GenerationMode, known: dict[str, Any]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Any) -> None:
        _use_known(case, known)
        case.call_and_validate(checks=[no_server_error])

    run()


def test_no_operation_answers_a_server_error(server_url: str) -> None:
    api = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    known = _known_entities(server_url)
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    for operation in operations:
        modes = list(GenerationMode) if _has_inputs(operation) else [GenerationMode.POSITIVE]
        for mode in modes:
            try:
                _fuzz(operation, mode, known)
            except (Exception, FailureGroup) as exc:  # one failure must not hide the others
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    labels = {operation.label for operation in operations}
    assert "POST /api/2.0/mlflow/runs/log-batch" in labels
    assert "POST /api/2.0/mlflow/registered-models/create" in labels
    assert not failures, "\n\n".join(failures)
