"""schemathesis with a member's token on a server with auth on: no 5xx, and no answer
holds anything of another tenant.

A real uvicorn server (``serve_in_thread``) over SQLite with auth on; tenants A and
B with a user of every role in each and one object of every kind in each, B's
with a canary string in every name, tag and description
(``kiln.testing.tenancy``). Every operation of the server's ``/openapi.json`` is
fuzzed (valid and invalid requests, derandomized) as A's member, its id fields
filled with A's ids and then with B's ids (not B's names, which a create would
write into A): nothing answers 5xx, and no answer holds
B's canary beyond what the request itself sent.
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

from kiln.entities.auth import Role  # noqa: E402
from kiln.testing.server import serve_in_thread  # noqa: E402
from kiln.testing.tenancy import (  # noqa: E402
    Objects,
    auth_app,
    basic_auth,
    seed_objects,
    seed_users,
    strings_in,
)

MAX_EXAMPLES = 10
CANARY = "zqcanary7b"
ADMIN_PASSWORD = "fuzz-Admin-Passw0rd-1"
PASSWORD = "fuzz-Passw0rd-1"
TENANT_A, TENANT_B = "team-a", "team-b"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("schemathesis-tenancy")
    app = auth_app(f"sqlite:///{root / 'kiln.db'}", root, ADMIN_PASSWORD)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        creds = seed_users(
            http, basic_auth("admin", ADMIN_PASSWORD), [TENANT_A, TENANT_B], PASSWORD
        )
        objects = {
            tenant: seed_objects(http, creds[tenant, Role.PROJECT_ADMIN].bearer(), marker)
            for tenant, marker in ((TENANT_A, "alphaseed"), (TENANT_B, CANARY))
        }
        yield {"url": url, "member": creds[TENANT_A, Role.MEMBER], "objects": objects}


def known(o: Objects, own: bool) -> dict[str, Any]:
    """A tenant's ids by the field names the API uses. Another tenant's names
    (``name``, ``alias``, ``metric_key``) are left out: a create or a log would
    write them into the caller's own tenant, whose answers would then carry them."""
    ids: dict[str, Any] = {
        "run_id": o.run_id,
        "run_uuid": o.run_id,
        "run_ids": [o.run_id],
        "experiment_id": o.experiment_id,
        "experiment_ids": [o.experiment_id],
        "experiment_name": o.experiment_name,
        "model_id": o.logged_model_id,
    }
    if own:
        ids.update(metric_key=o.metric_key, name=o.model_name, version=o.version, alias=o.alias)
    return ids


def _sent(case: Any) -> list[str]:
    found = strings_in(case.body, case.query, case.path_parameters, case.path)
    return sorted((s for s in found if CANARY in s), key=len, reverse=True)


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


def no_canary(ctx: Any, response: Any, case: Any) -> bool | None:
    """Nothing of B in the answer beyond what the request sent (a 404 may echo it)."""
    text = response.text or ""
    for sent in _sent(case):
        text = text.replace(sent, "")
    if CANARY in text:
        raise AssertionError(f"tenant B's canary in the answer: {response.text[:500]}")
    return None


def _has_inputs(operation: Any) -> bool:
    raw = operation.definition.raw
    json_body = "application/json" in raw.get("requestBody", {}).get("content", {})
    return json_body or any(p.get("in") == "query" for p in raw.get("parameters", []))


def _fuzz(
    operation: Any, mode: GenerationMode, ids: dict[str, Any], headers: dict[str, str]
) -> None:
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
        for container in (case.body, case.query, case.path_parameters):
            if isinstance(container, dict):
                for field in container.keys() & ids.keys():
                    container[field] = ids[field]
        case.call_and_validate(headers=headers, checks=[no_server_error, no_canary])

    run()


def test_a_member_fuzzing_every_operation_gets_no_5xx_and_nothing_of_b(
    world: dict[str, Any],
) -> None:
    api = schemathesis.openapi.from_url(f"{world['url']}/openapi.json")
    headers = world["member"].bearer()
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    for operation in operations:
        modes = list(GenerationMode) if _has_inputs(operation) else [GenerationMode.POSITIVE]
        for tenant in (TENANT_A, TENANT_B):
            ids = known(world["objects"][tenant], own=tenant == TENANT_A)
            for mode in modes:
                try:
                    _fuzz(operation, mode, ids, headers)
                except (Exception, FailureGroup) as exc:  # one failure must not hide others
                    failures.append(f"{operation.label} ({mode.value}, {tenant}'s ids): {exc}")
    assert len(operations) > 40
    assert not failures, "\n\n".join(failures)
