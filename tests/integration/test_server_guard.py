"""Cross-site attacks and the one-request wipe against real servers, side by side (issue 10).

The same raw requests go to a real ``kiln server`` and a real ``mlflow server``: a
browser's "simple" POST (``text/plain``, a form, no Content-Type), a DNS-rebinding
read (a foreign ``Host``), a state change from a foreign ``Origin`` and ``DELETE``
of the artifact root. Neither server may change anything; Kiln answers with the
same statuses as MLflow, and the official client keeps working against Kiln.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pytest

from kiln.testing.server import server_process
from kiln.testing.server_process import mlflow_server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path]]]:
    kiln_root = tmp_path_factory.mktemp("kiln")
    mlflow_root = tmp_path_factory.mktemp("mlflow")
    with (
        server_process(f"sqlite:///{kiln_root / 'kiln.db'}", kiln_root) as kiln,
        mlflow_server_process(mlflow_root) as mlflow_url,
    ):
        yield {
            "kiln": (kiln.url, kiln_root / "artifacts"),
            "mlflow": (mlflow_url, mlflow_root / "artifacts"),
        }


def _experiment(http: httpx.Client, name: str) -> str:
    answer = http.post(f"{API}/experiments/create", json={"name": name})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["experiment_id"])


def _stage(http: httpx.Client, experiment_id: str) -> str:
    got = http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    return str(got.json()["experiment"]["lifecycle_stage"])


@pytest.mark.parametrize("server", ["kiln", "mlflow"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_simple_cross_site_posts_are_refused(
    servers: dict[str, tuple[str, Path]], server: str, content_type: str | None
) -> None:
    url, _ = servers[server]
    with httpx.Client(base_url=url, timeout=30) as http:
        experiment_id = _experiment(http, f"victim-{content_type}")
        headers = {"Content-Type": content_type} if content_type else {}
        body = f'{{"experiment_id": "{experiment_id}"}}'.encode()
        answer = http.post(f"{API}/experiments/delete", content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert _stage(http, experiment_id) == "active"


@pytest.mark.parametrize("server", ["kiln", "mlflow"])
def test_dns_rebinding_and_foreign_origins_are_refused(
    servers: dict[str, tuple[str, Path]], server: str
) -> None:
    url, _ = servers[server]
    with httpx.Client(base_url=url, timeout=30) as http:
        experiment_id = _experiment(http, "origin-victim")
        read = http.get(
            f"{API}/experiments/search",
            params={"max_results": 10},
            headers={"Host": "rebind.attacker.example"},
        )
        assert read.status_code == 403
        write = http.post(
            f"{API}/experiments/delete",
            json={"experiment_id": experiment_id},
            headers={"Origin": "https://attacker.example"},
        )
        assert write.status_code == 403
        assert _stage(http, experiment_id) == "active"


@pytest.mark.parametrize("server", ["kiln", "mlflow"])
@pytest.mark.parametrize("prefix", ["/api/2.0", "/ajax-api/2.0"])
def test_delete_of_the_artifact_root_removes_nothing(
    servers: dict[str, tuple[str, Path]], server: str, prefix: str
) -> None:
    url, destination = servers[server]
    with httpx.Client(base_url=url, timeout=30) as http:
        put = http.put(f"{prefix}/mlflow-artifacts/artifacts/1/keep/notes.txt", content=b"keep")
        assert put.status_code == 200, put.text
        for root in ("", "./"):
            answer = http.delete(f"{prefix}/mlflow-artifacts/artifacts/{root}")
            assert answer.status_code == 404, (root, answer.text)
        assert (destination / "1" / "keep" / "notes.txt").read_bytes() == b"keep"


def test_the_official_client_still_writes(servers: dict[str, tuple[str, Path]]) -> None:
    url, _ = servers["kiln"]
    client = mlflow.MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment("client-writes")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "m", 1.5)
    client.set_terminated(run.info.run_id)
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
