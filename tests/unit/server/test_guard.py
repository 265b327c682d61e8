"""Cross-site protection: Host allow-list, cross-origin writes, JSON Content-Type (issue 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiln.config import Settings
from kiln.httpguard import CROSS_ORIGIN, INVALID_HOST, RequestGuard, default_allowed_hosts
from kiln.server.app import create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import open_memory_store
from kiln.testing.server import asgi_client

API = "/api/2.0/mlflow"


def _client(tmp_path: Path, **settings: Any) -> Any:
    config = Settings(home=tmp_path, tracking_uri="unused", **settings)
    app = create_app(
        config,
        store=open_memory_store(workspace="default"),
        destination=LocalArtifactStore(str(tmp_path / "artifacts")),
    )
    return asgi_client(app, raise_server_exceptions=False)


def _experiment_id(client: Any) -> str:
    response = client.post(f"{API}/experiments/create", json={"name": "victim"})
    assert response.status_code == 200, response.text
    return str(response.json()["experiment_id"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ],
)
@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"])
def test_a_simple_cross_site_post_changes_nothing(
    tmp_path: Path, headers: dict[str, str], prefix: str
) -> None:
    with _client(tmp_path) as client:
        experiment_id = _experiment_id(client)
        body = f'{{"experiment_id": "{experiment_id}"}}'.encode()
        response = client.post(f"{prefix}/experiments/delete", content=body, headers=headers)
        assert response.status_code == 400
        assert "Content-Type" in response.json()["message"]
        got = client.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
        assert got.json()["experiment"]["lifecycle_stage"] == "active"


def test_json_with_a_charset_is_accepted(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        response = client.post(
            f"{API}/experiments/create",
            content=b'{"name": "e"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("host", ["evil.example", "rebind.attacker.test:5000", "127.0.0.1.evil"])
def test_a_foreign_host_header_is_refused_even_for_reads(tmp_path: Path, host: str) -> None:
    with _client(tmp_path) as client:
        response = client.get(
            f"{API}/experiments/search", params={"max_results": 5}, headers={"Host": host}
        )
        assert response.status_code == 403
        assert response.json()["message"] == INVALID_HOST
        # health checks are exempt: load balancers probe by IP or service name
        assert client.get("/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:80", "[::1]:5000"])
def test_loopback_hosts_are_allowed(tmp_path: Path, host: str) -> None:
    with _client(tmp_path) as client:
        response = client.get(
            f"{API}/experiments/search", params={"max_results": 5}, headers={"Host": host}
        )
        assert response.status_code == 200, response.text


def test_allowed_hosts_widens_and_star_disables(tmp_path: Path) -> None:
    with _client(tmp_path, allowed_hosts=("mlflow.internal", "*.corp.test")) as client:
        for host in ("mlflow.internal", "a.corp.test:443"):
            response = client.get(
                "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": host}
            )
            assert response.status_code == 200, host
        assert client.get("/version", headers={"Host": "other.test"}).status_code == 200
        refused = client.get(
            "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": "other.test"}
        )
        assert refused.status_code == 403
    with _client(tmp_path, allowed_hosts=("*",)) as client:
        response = client.get(
            "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": "any.test"}
        )
        assert response.status_code == 200


def test_a_foreign_origin_cannot_change_state(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        experiment_id = _experiment_id(client)
        response = client.post(
            f"{API}/experiments/delete",
            json={"experiment_id": experiment_id},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status_code == 403
        assert response.json()["message"] == CROSS_ORIGIN
        deleted = client.delete(
            "/api/2.0/mlflow-artifacts/artifacts/x.txt", headers={"Origin": "https://evil.example"}
        )
        assert deleted.status_code == 403
        # a loopback origin (a local notebook, the UI itself) may write
        ok = client.post(
            f"{API}/experiments/delete",
            json={"experiment_id": experiment_id},
            headers={"Origin": "http://localhost:3000"},
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_cors_allowed_origins_get_headers_and_preflights(tmp_path: Path) -> None:
    with _client(tmp_path, cors_allowed_origins=("https://ui.corp.test",)) as client:
        preflight = client.options(
            f"{API}/experiments/create",
            headers={
                "Origin": "https://ui.corp.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "https://ui.corp.test"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        created = client.post(
            f"{API}/experiments/create",
            json={"name": "from-ui"},
            headers={"Origin": "https://ui.corp.test"},
        )
        assert created.status_code == 200
        assert created.headers["access-control-allow-origin"] == "https://ui.corp.test"
        refused = client.options(
            f"{API}/experiments/create",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers


def test_artifact_uploads_take_any_content_type(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        response = client.put(
            "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt",
            content=b"hello",
            headers={"Content-Type": "text/plain"},
        )
        assert response.status_code == 200
        assert client.get("/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt").text == "hello"


def test_default_hosts_follow_the_bound_address() -> None:
    guard = RequestGuard(default_allowed_hosts("192.0.2.7"))
    assert guard.host_allowed("192.0.2.7:5000")
    assert guard.host_allowed("LOCALHOST:5000")
    assert not guard.host_allowed("192.0.2.8:5000")
    assert not guard.host_allowed("")
    wildcard = RequestGuard(default_allowed_hosts("0.0.0.0"))
    assert wildcard.host_allowed("10.1.2.3:5000")
    assert wildcard.host_allowed("[fd00::1]:5000")
    assert not wildcard.host_allowed("attacker.example")
    v6 = RequestGuard(default_allowed_hosts("::1"))
    assert v6.host_allowed("[::1]:5000")


def test_a_same_origin_post_by_the_machine_name_is_allowed(tmp_path: Path) -> None:
    """The web UI's forms, with the server reached as http://kiln-box:5000: the
    browser's Origin is the Host the allow-list passed."""
    own = {"Host": "kiln-box:5000", "Origin": "http://kiln-box:5000"}
    settings = {"host": "0.0.0.0", "allowed_hosts": ("kiln-box",)}
    with _client(tmp_path, **settings) as client:
        created = client.post(f"{API}/experiments/create", json={"name": "e"}, headers=own)
        assert created.status_code == 200, created.text
        assert "access-control-allow-origin" not in created.headers  # no CORS needed
        # (either scheme: behind a TLS proxy the server cannot tell which the page used)
        for origin in ("http://kiln-box:5001", "http://kiln-box", "http://evil.example"):
            refused = client.post(
                f"{API}/experiments/create",
                json={"name": "x"},
                headers={**own, "Origin": origin},
            )
            assert refused.status_code == 403, origin
            assert refused.json()["message"] == CROSS_ORIGIN
        # a DNS-rebinding page: its Origin is its own Host, which the allow-list refuses
        rebound = {"Host": "evil.example:5000", "Origin": "http://evil.example:5000"}
        answer = client.post(f"{API}/experiments/create", json={"name": "y"}, headers=rebound)
        assert answer.status_code == 403
        assert answer.json()["message"] == INVALID_HOST
    with _client(tmp_path, allowed_hosts=("*",)) as client:  # no Host check: no same origin
        answer = client.post(f"{API}/experiments/create", json={"name": "z"}, headers=rebound)
        assert answer.status_code == 403
        assert answer.json()["message"] == CROSS_ORIGIN


def test_same_origin_compares_host_and_port_as_a_browser_writes_them() -> None:
    guard = RequestGuard.for_server("0.0.0.0", extra_hosts=("kiln-box",))
    assert guard.same_origin("http://kiln-box:5000", "kiln-box:5000")
    assert guard.same_origin("http://KILN-BOX:5000", "kiln-box:5000")
    assert guard.same_origin("http://kiln-box", "kiln-box:80")  # the default port left out
    assert guard.same_origin("https://kiln-box", "kiln-box:443")
    assert guard.same_origin("https://kiln-box", "kiln-box")
    assert not guard.same_origin("https://kiln-box", "kiln-box:80")
    assert not guard.same_origin("http://kiln-box:8080", "kiln-box:80")
    assert not guard.same_origin("http://kiln-box:5000", "kiln-box:5001")
    assert not guard.same_origin("http://attacker.example", "attacker.example")
    for odd in ("null", "", "kiln-box:5000", "ftp://kiln-box:5000", "http://kiln-box:5000/x"):
        assert not guard.same_origin(odd, "kiln-box:5000"), odd
    assert not guard.same_origin("http://kiln-box:5000", "")
    assert not RequestGuard(("*",)).same_origin("http://a.test", "a.test")
