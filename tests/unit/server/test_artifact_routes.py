"""The artifact proxy and the run-level listing, over a local artifact folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from kiln.store.memory.tracking import MemoryTrackingStore

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
API = "/api/2.0/mlflow"


def _run_root(store: MemoryTrackingStore) -> tuple[str, str]:
    run = store.create_run("0")
    return run.info.run_id, run.info.artifact_uri.removeprefix("mlflow-artifacts:/")


def test_upload_download_list_delete(
    client: Any, store: MemoryTrackingStore, artifact_dir: Path
) -> None:
    run_id, root = _run_root(store)
    payload = bytes(range(256)) * 20_000  # 5 MB, several chunks
    assert client.put(f"{PROXY}/{root}/model/weights.bin", content=payload).json() == {}
    assert client.put(f"{PROXY}/{root}/notes.txt", content=b"hello").status_code == 200
    assert (artifact_dir / root / "model" / "weights.bin").read_bytes() == payload

    download = client.get(f"{PROXY}/{root}/model/weights.bin")
    assert download.status_code == 200
    assert download.content == payload
    assert client.get(f"{PROXY}/{root}/notes.txt").headers["content-type"].startswith("text/plain")

    listing = client.get(PROXY, params={"path": root}).json()
    assert listing == {
        "files": [
            {"path": "model", "is_dir": True},
            {"path": "notes.txt", "is_dir": False, "file_size": 5},
        ]
    }
    run_level = client.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "model"})
    assert run_level.json() == {
        "root_uri": f"mlflow-artifacts:/{root}",
        "files": [{"path": "model/weights.bin", "is_dir": False, "file_size": len(payload)}],
    }

    assert client.delete(f"{PROXY}/{root}/model").status_code == 200
    assert client.get(f"{PROXY}/{root}/model/weights.bin").status_code == 404
    assert [f["path"] for f in client.get(PROXY, params={"path": root}).json()["files"]] == [
        "notes.txt"
    ]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("evil.html", "text/html"),
        ("pic.svg", "image/svg+xml"),
        ("feed.xml", "application/xml"),
        ("blob.weird", "application/octet-stream"),
        ("notes.txt", "text/plain"),
        ('r\u00e9sum\u00e9 "q".html', "text/html"),
    ],
)
def test_downloads_are_unsniffed_sandboxed_attachments(
    client: Any, store: MemoryTrackingStore, name: str, media_type: str
) -> None:
    """User content never runs on Kiln's origin: as mlflow server, every download is an
    attachment with nosniff; Kiln adds the sandbox CSP. The bytes are unchanged."""
    from kiln.server.artifact_headers import SANDBOX_CSP

    _, root = _run_root(store)
    body = b"<script>document.title='pwned'</script>\x00\xff"
    assert client.put(f"{PROXY}/{root}/{name}", content=body).status_code == 200
    got = client.get(f"{PROXY}/{root}/{name}")
    assert (got.status_code, got.content) == (200, body)
    assert got.headers["content-type"].split(";")[0] == media_type
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == SANDBOX_CSP
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    if name.isascii() and '"' not in name:
        assert disposition == f'attachment; filename="{name}"'
    else:
        assert disposition.endswith("filename*=UTF-8''" + quote(name, safe=""))


def test_missing_artifacts(client: Any) -> None:
    response = client.get(f"{PROXY}/0/none/artifacts/x.txt")
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.get(PROXY, params={"path": "0/none"}).json() == {}


@pytest.mark.parametrize(
    "raw_path",
    [
        "%2e%2e%2fescape.txt",
        "a/%2e%2e/%2e%2e/escape.txt",
        "a/%252e%252e/escape.txt",
        "%2Fetc%2Fpasswd",
        "a/..%2f..%2fescape.txt",
        "a%5c..%5cescape.txt",
    ],
)
def test_escaping_paths_are_400(client: Any, artifact_dir: Path, raw_path: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(method, f"{PROXY}/{raw_path}", content=b"x")
        assert response.status_code == 400, (method, raw_path, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not (artifact_dir.parent / "escape.txt").exists()


@pytest.mark.parametrize("query", ["../x", "/etc", "a/../../b", "%2e%2e/x"])
def test_escaping_list_paths_are_400(client: Any, store: MemoryTrackingStore, query: str) -> None:
    assert client.get(PROXY, params={"path": query}).status_code == 400
    run_id, _ = _run_root(store)
    response = client.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": query})
    assert response.status_code == 400


def test_proxy_streams_uploads_into_an_s3_destination(
    s3_bucket_uri: str, s3_endpoint: str, store: MemoryTrackingStore, tmp_path: Path
) -> None:
    from kiln.config import Settings
    from kiln.server.app import create_app
    from kiln.store.artifacts.s3 import S3ArtifactStore
    from kiln.testing.server import asgi_client

    destination = S3ArtifactStore(
        s3_bucket_uri, endpoint_url=s3_endpoint, multipart_chunksize=5 * 1024 * 1024
    )
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused"), store=store, destination=destination
    )
    _, root = _run_root(store)
    payload = bytes(range(251)) * 50_000  # 12.5 MB: a multipart upload read by S3's threads
    with asgi_client(app) as client:
        assert client.put(f"{PROXY}/{root}/big.bin", content=payload).status_code == 200
        assert client.get(f"{PROXY}/{root}/big.bin").content == payload
        listing = client.get(PROXY, params={"path": root}).json()
    assert listing == {"files": [{"path": "big.bin", "is_dir": False, "file_size": len(payload)}]}


@pytest.mark.parametrize("prefix", ["/api/2.0", "/ajax-api/2.0"])
@pytest.mark.parametrize("root", ["", ".", "./", "%2e", "./."])
def test_deleting_the_destination_root_is_refused(
    client: Any, store: MemoryTrackingStore, artifact_dir: Path, prefix: str, root: str
) -> None:
    _run_id, run_root = _run_root(store)
    assert client.put(f"{PROXY}/{run_root}/keep.txt", content=b"keep").status_code == 200
    response = client.delete(f"{prefix}/mlflow-artifacts/artifacts/{root}")
    assert 400 <= response.status_code < 500, response.text
    assert (artifact_dir / run_root / "keep.txt").read_bytes() == b"keep"


def test_the_proxy_listing_reads_only_the_query_string(
    client: Any, store: MemoryTrackingStore
) -> None:
    """A GET's body is ignored, malformed or not: the root is listed, as mlflow server does."""
    _run_id, root = _run_root(store)
    assert client.put(f"{PROXY}/{root}/notes.txt", content=b"hello").status_code == 200
    top = root.split("/", 1)[0]
    headers = {"Content-Type": "application/json"}
    for body in (b"{bad", b'{"path": 3}', b'{"path": "nowhere"}'):
        response = client.request("GET", PROXY, content=body, headers=headers)
        assert response.status_code == 200, body
        assert {"path": top, "is_dir": True} in response.json()["files"]
