"""An artifact upload whose client hangs up mid-body: a client abort, never a 500.

A real uvicorn server on 127.0.0.1 (``serve_in_thread``); a raw socket sends the
PUT's headers and half its body, then closes. ``/metrics`` must count a 499 with
``kind="client_abort"`` (no 500, no 5xx), nothing may be logged at ERROR or with a
traceback, and no file (partial or whole) may be left in the destination.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from kiln.config import Settings
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import open_memory_store
from kiln.testing.server import serve_in_thread

ROUTE = "/mlflow-artifacts/artifacts/*"


def _half_put(url: str, path: str, size: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = (
            f"PUT /api/2.0/mlflow-artifacts/artifacts/{path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {size}\r\n\r\n"
        ).encode()
        sock.sendall(head + b"x" * (size // 2))
        time.sleep(0.2)  # the server reads what it got, then the peer is gone


def test_an_upload_cut_mid_body_counts_as_a_client_abort(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    destination = tmp_path / "artifacts"
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused"),
        store=open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT, workspace="default"),
        destination=LocalArtifactStore(str(destination)),
    )
    caplog.set_level(logging.INFO)
    with serve_in_thread(app) as url:
        _half_put(url, "0/run/artifacts/big.bin", 4 * 1024 * 1024)
        deadline = time.monotonic() + 10
        while "client_abort" not in (metrics := httpx.get(f"{url}/metrics").text):
            if time.monotonic() > deadline:
                pytest.fail(f"no client abort counted:\n{metrics}")
            time.sleep(0.05)  # the server runs in another thread
        whole = httpx.put(
            f"{url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/ok.bin", content=b"ok"
        )
        assert whole.status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
    put = f'route="{ROUTE}",method="PUT"'
    assert f'kiln_http_requests_total{{{put},status="499"}} 1' in metrics
    assert f'kiln_http_errors_total{{{put},kind="client_abort"}} 1' in metrics
    assert 'status="500"' not in metrics
    assert 'kind="5xx"' not in metrics
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    left = sorted(p.name for p in destination.rglob("*") if p.is_file())
    assert left == ["ok.bin"]
