"""S3ArtifactStore against a real S3 API (moto's server): contract suite plus S3 specifics."""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import boto3
import pytest

from kiln.config import Settings
from kiln.entities import FileInfo
from kiln.errors import InvalidInput, InvalidUri, NotFound, StoreUnavailable
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.artifacts.s3 import S3ArtifactStore, parse_s3_uri
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.transfer.history import TransferReport, copy_tree
from kiln.testing.contracts.artifacts import ArtifactStoreContract, read_all, write_bytes

pytestmark = pytest.mark.integration


class TestS3ArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, s3_bucket_uri: str, s3_endpoint: str) -> ArtifactStore:
        return S3ArtifactStore(f"{s3_bucket_uri}/exp/0/run1/artifacts", endpoint_url=s3_endpoint)


class TestS3ArtifactStoreAtBucketRoot(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, s3_bucket_uri: str, s3_endpoint: str) -> ArtifactStore:
        return S3ArtifactStore(s3_bucket_uri, endpoint_url=s3_endpoint)


def _bucket(uri: str) -> str:
    return parse_s3_uri(uri)[0]


# URIs and configuration -------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://b", ("b", "")),
        ("s3://b/", ("b", "")),
        ("s3://b/p/q/", ("b", "p/q")),
        ("S3://b//p//q", ("b", "p/q")),
    ],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("s3:///no-bucket", "expected s3://bucket/prefix"),
        ("http://b/p", "expected s3://bucket/prefix"),
        ("s3://b/p?x=1", "no query or fragment"),
        ("s3://b/a/../../other", r"'\.\.' segments"),
    ],
)
def test_bad_s3_uris_are_refused(uri: str, match: str) -> None:
    with pytest.raises(InvalidUri, match=match):
        S3ArtifactStore(uri)


def test_the_endpoint_is_read_at_the_edge_and_passed_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env = {"MLFLOW_S3_ENDPOINT_URL": "http://mlflow:1"}
    assert Settings.from_env(env).s3_endpoint_url == "http://mlflow:1"
    kiln_first = Settings.from_env({**env, "KILN_S3_ENDPOINT_URL": "http://kiln:2"})
    assert kiln_first.s3_endpoint_url == "http://kiln:2"
    assert Settings.from_env({}).s3_endpoint_url is None
    # the store itself reads no environment: AWS unless told
    monkeypatch.setenv("KILN_S3_ENDPOINT_URL", "http://ignored:4")
    assert S3ArtifactStore("s3://b").endpoint_url is None
    assert S3ArtifactStore("s3://b", endpoint_url="http://arg:3").endpoint_url == "http://arg:3"
    opened = open_artifact_store("s3://b", options=ArtifactOptions(s3_endpoint_url="http://o:5"))
    assert isinstance(opened, S3ArtifactStore)
    assert opened.endpoint_url == "http://o:5"


def test_open_artifact_store_picks_the_s3_store(s3_bucket_uri: str, s3_endpoint: str) -> None:
    options = ArtifactOptions(s3_endpoint_url=s3_endpoint)
    store = open_artifact_store(f"{s3_bucket_uri}/prefix", options=options)
    assert isinstance(store, S3ArtifactStore)
    assert store.prefix == "prefix"
    write_bytes(store, "x.txt", b"x")
    assert read_all(store, "x.txt") == b"x"


def test_missing_boto3_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(InvalidUri, match=r"pip install 'kiln-mlops\[s3\]'"):
        S3ArtifactStore("s3://b")


# layout in the bucket ---------------------------------------------------------------------


def test_keys_live_under_the_prefix_and_siblings_are_untouched(
    s3_bucket_uri: str, s3_endpoint: str
) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = _bucket(s3_bucket_uri)
    client.put_object(Bucket=bucket, Key="runs/r1-sibling/keep.txt", Body=b"k")
    client.put_object(Bucket=bucket, Key="runs/r1x.txt", Body=b"k")
    store = S3ArtifactStore(f"{s3_bucket_uri}/runs/r1", endpoint_url=s3_endpoint)
    write_bytes(store, "m/w.bin", b"w")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["runs/r1-sibling/keep.txt", "runs/r1/m/w.bin", "runs/r1x.txt"]
    assert store.list_artifacts() == [FileInfo(path="m", is_dir=True)]
    store.delete_artifacts("m")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["runs/r1-sibling/keep.txt", "runs/r1x.txt"]


def test_folder_markers_and_unsafe_keys_are_left_out_of_listings(
    s3_bucket_uri: str, s3_endpoint: str
) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = _bucket(s3_bucket_uri)
    for key in ("root/dir/", "root/dir/a.txt", "root/a\\b.txt", "root/ok.txt"):
        client.put_object(Bucket=bucket, Key=key, Body=b"" if key.endswith("/") else b"1")
    store = S3ArtifactStore(f"{s3_bucket_uri}/root", endpoint_url=s3_endpoint)
    assert store.list_artifacts() == [
        FileInfo(path="dir", is_dir=True),
        FileInfo(path="ok.txt", is_dir=False, file_size=1),
    ]
    assert store.list_artifacts("dir") == [FileInfo(path="dir/a.txt", is_dir=False, file_size=1)]


def test_download_refuses_a_hostile_key_before_writing_anything(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path
) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = _bucket(s3_bucket_uri)
    client.put_object(Bucket=bucket, Key="root/d/a.txt", Body=b"a")
    client.put_object(Bucket=bucket, Key="root/d/../../../escaped.txt", Body=b"evil")
    store = S3ArtifactStore(f"{s3_bucket_uri}/root", endpoint_url=s3_endpoint)
    with pytest.raises(InvalidInput, match=r"'\.\.' segments"):
        store.download_artifacts("d", str(tmp_path / "dst"))
    assert not (tmp_path / "dst").exists()
    assert not (tmp_path / "escaped.txt").exists()


# streaming ---------------------------------------------------------------------------------


def test_multipart_upload_of_a_stream(s3_bucket_uri: str, s3_endpoint: str) -> None:
    part = 5 * 1024 * 1024
    store = S3ArtifactStore(s3_bucket_uri, endpoint_url=s3_endpoint, multipart_chunksize=part)
    data = random.Random(11).randbytes(2 * part + 123)
    assert store.write_stream("big.bin", io.BytesIO(data)) == len(data)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    head = client.head_object(Bucket=_bucket(s3_bucket_uri), Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart ETag: 3 parts
    assert read_all(store, "big.bin") == data


def test_open_read_streams_the_body(s3_bucket_uri: str, s3_endpoint: str) -> None:
    store = S3ArtifactStore(s3_bucket_uri, endpoint_url=s3_endpoint)
    write_bytes(store, "f.bin", b"0123456789")
    with store.open_read("f.bin") as body:
        assert body.read(4) == b"0123"
        assert body.read() == b"456789"


# failures ------------------------------------------------------------------------------------


def test_a_missing_bucket_raises_not_found(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path
) -> None:
    store = S3ArtifactStore("s3://kiln-no-such-bucket/p", endpoint_url=s3_endpoint)
    with pytest.raises(NotFound, match="kiln-no-such-bucket"):
        store.list_artifacts()
    with pytest.raises(NotFound, match="kiln-no-such-bucket"):
        write_bytes(store, "x.txt", b"x")
    src = tmp_path / "f.txt"
    src.write_bytes(b"f")
    with pytest.raises(NotFound, match="kiln-no-such-bucket"):
        store.log_artifact(str(src))


def test_an_unreachable_endpoint_raises_store_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    store = S3ArtifactStore("s3://b/p", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailable, match="S3 request to bucket 'b' failed"):
        store.list_artifacts()


def test_kiln_import_copies_s3_files_through_the_endpoint_it_is_given(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path
) -> None:
    options = ArtifactOptions(s3_endpoint_url=s3_endpoint)
    write_bytes(open_artifact_store(f"{s3_bucket_uri}/src", options=options), "d/a.txt", b"a")
    report = TransferReport()
    assert copy_tree(f"{s3_bucket_uri}/src", str(tmp_path / "dst"), report, options) == 1
    assert (tmp_path / "dst" / "d" / "a.txt").read_bytes() == b"a"


def test_the_server_lists_s3_run_artifacts_through_its_settings_endpoint(
    s3_bucket_uri: str, s3_endpoint: str, tmp_path: Path
) -> None:
    from kiln.server.app import create_app
    from kiln.store.artifacts.local import LocalArtifactStore
    from kiln.store.memory.tracking import open_memory_store
    from kiln.testing.server import asgi_client

    settings = Settings(home=tmp_path, tracking_uri="unused", s3_endpoint_url=s3_endpoint)
    app = create_app(
        settings,
        store=open_memory_store(artifact_root=f"{s3_bucket_uri}/runs", workspace="default"),
        destination=LocalArtifactStore(str(tmp_path / "proxied")),
    )
    api = "/api/2.0/mlflow"
    with asgi_client(app) as http:
        info = http.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
        run_files = S3ArtifactStore(info["artifact_uri"], endpoint_url=s3_endpoint)
        write_bytes(run_files, "m.txt", b"m")
        answer = http.get(f"{api}/artifacts/list", params={"run_id": info["run_id"]}).json()
    assert answer["files"] == [{"path": "m.txt", "is_dir": False, "file_size": 1}]
