"""S3 fixtures: a moto server for the session and a fresh bucket per test.

``s3_endpoint`` starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 and a
port the kernel picks (port 0, so parallel sessions never collide) and stops it
when the session ends. ``s3_bucket_uri`` points boto3 at it through the
environment (fake ``test`` keys, ``us-east-1``, ``KILN_S3_ENDPOINT_URL``) and
creates an empty bucket named for the test. moto is imported inside the
fixture so that loading this plugin costs nothing for tests that never use it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_AWS_ENV_CLEARED = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto S3 server running for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket_uri(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """``s3://<fresh bucket>`` on the moto server, with boto3's environment set up.

    The AWS config and credentials files point into ``tmp_path`` so that a
    developer's ``~/.aws`` never leaks into a test.
    """
    import boto3

    for name, value in _AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in _AWS_ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("KILN_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    bucket = f"kiln-test-{uuid.uuid4().hex}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=bucket)
    yield f"s3://{bucket}"
    client.close()


__all__ = ["s3_bucket_uri", "s3_endpoint"]
